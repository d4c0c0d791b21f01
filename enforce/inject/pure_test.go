package inject

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestRegisterLayouts(t *testing.T) {
	// struct user_regs_struct (x86_64) is 27 words; user_pt_regs
	// (aarch64) 34 (the notification structures are package unotif's).
	cases := []struct {
		name      string
		got, want uintptr
	}{
		{"x86Regs", unsafe.Sizeof(x86Regs{}), 27 * 8},
		{"a64Regs", unsafe.Sizeof(a64Regs{}), 34 * 8},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("sizeof %s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if off := unsafe.Offsetof(x86Regs{}.OrigRax); off != 15*8 {
		t.Errorf("orig_rax at %d, want 120", off)
	}
	if off := unsafe.Offsetof(x86Regs{}.Cs); off != 17*8 {
		t.Errorf("cs at %d, want 136", off)
	}
	if off := unsafe.Offsetof(a64Regs{}.Pc); off != 32*8 {
		t.Errorf("pc at %d, want 256", off)
	}
}

// TestX86MadeCall: the registers after a syscall instruction made the
// call set up show it; after an instruction put in its place (a jump, a
// move, int $0x80 with the same number) they do not.
func TestX86MadeCall(t *testing.T) {
	args := [6]uint64{1, 2, 3, 4, 5, 6}
	const pc, past = 0x7fff1000, 0x7fff1002
	set := (x86Regs{Rcx: 77}).withCall(pc, x86Nums.mmap, args)
	made := set
	made.Rip, made.Rcx, made.OrigRax, made.Rax = past, past, 9, 0x7f0000
	if !made.madeCall(x86Nums.mmap, args, past) {
		t.Errorf("the syscall instruction's registers not taken: %+v", made)
	}
	jumped := set
	jumped.Rip = past // eb 00: a jump to the next instruction
	int80 := made
	int80.Rcx = 0 // int $0x80 leaves rcx alone
	other := made
	other.Rdi = 99 // another call's arguments
	wrong := made
	wrong.OrigRax = 10
	for name, r := range map[string]x86Regs{"jump": jumped, "int80": int80, "args": other,
		"number": wrong} {
		if r.madeCall(x86Nums.mmap, args, past) {
			t.Errorf("%s taken for the call set up: %+v", name, r)
		}
	}
}

func TestX86WithCall(t *testing.T) {
	var base x86Regs
	for i := range 27 {
		(*[27]uint64)(unsafe.Pointer(&base))[i] = uint64(1000 + i)
	}
	base.OrigRax = 35 // stopped in nanosleep
	got := base.withCall(0x7fff1000, x86Nums.seccomp, [6]uint64{1, 2, 3, 4, 5, 6})
	want := base
	want.Rip, want.Rax, want.OrigRax, want.Rcx = 0x7fff1000, 317, ^uint64(0), 0
	want.Rdi, want.Rsi, want.Rdx, want.R10, want.R8, want.R9 = 1, 2, 3, 4, 5, 6
	if got != want {
		t.Errorf("withCall:\n got %+v\nwant %+v", got, want)
	}
	if base.OrigRax != 35 || base.Rip != 1016 {
		t.Errorf("withCall changed its receiver")
	}
	got.Rax = uint64(0xffffffffffffffda) // -38
	if r := got.result(); r != -38 {
		t.Errorf("result = %d, want -38", r)
	}
	if errnoOf(got.result()) != unix.ENOSYS {
		t.Errorf("errnoOf(-38) = %v", errnoOf(got.result()))
	}
	if errnoOf(5) != 0 || errnoOf(-4096) != 0 {
		t.Errorf("errnoOf treats a value as an error")
	}
}

func TestX86Candidates(t *testing.T) {
	r := x86Regs{Rip: 0x401002, OrigRax: 0, Cs: x86UserCS}
	if c := r.candidates(); len(c) != 1 || c[0] != 0x401000 {
		t.Errorf("in a call: candidates %x, want [401000]", c)
	}
	r.OrigRax = ^uint64(0)
	if c := r.candidates(); len(c) != 0 {
		t.Errorf("not in a call: candidates %x, want none", c)
	}
	if !r.native() {
		t.Errorf("cs 0x33 not native")
	}
	r.Cs = 0x23
	if r.native() {
		t.Errorf("cs 0x23 (32-bit) native")
	}
}

func TestA64WithCall(t *testing.T) {
	var base a64Regs
	for i := range base.X {
		base.X[i] = uint64(100 + i)
	}
	base.Sp, base.Pc, base.Pstate = 0xffff0000, 0x400000, 0x80000000
	got := base.withCall(0xffffa000, a64Nums.mmap, [6]uint64{9, 8, 7, 6, 5, 4})
	want := base
	want.Pc = 0xffffa000
	want.X[8] = 222
	want.X[0], want.X[1], want.X[2], want.X[3], want.X[4], want.X[5] = 9, 8, 7, 6, 5, 4
	if got != want {
		t.Errorf("withCall:\n got %+v\nwant %+v", got, want)
	}
	if got.X[7] != 107 {
		t.Errorf("x7 changed: %d (the kernel's syscall-stop marker register)", got.X[7])
	}
	got.X[0] = ^uint64(0) - 12 // -13
	if got.result() != -13 {
		t.Errorf("result = %d, want -13", got.result())
	}
	if !base.native() {
		t.Errorf("AArch64 pstate not native")
	}
	base.Pstate |= a64PSRMode32
	if base.native() {
		t.Errorf("AArch32 pstate native")
	}
	if c := base.candidates(); len(c) != 2 || c[0] != 0x400000 || c[1] != 0x3ffffc {
		t.Errorf("candidates %x, want [400000 3ffffc]", c)
	}
}

func TestA64Nums(t *testing.T) {
	// asm-generic/unistd.h numbers, which arm64 uses.
	want := sysnums{mmap: 222, mprotect: 226, munmap: 215, close: 57, prctl: 167, seccomp: 277,
		clone: 220, exit: 93, restart: 128}
	if a64Nums != want {
		t.Errorf("a64Nums = %+v, want %+v", a64Nums, want)
	}
	if nums != x86Nums && nums != a64Nums {
		t.Errorf("host nums are neither table")
	}
}

func TestInsnFind(t *testing.T) {
	const base = 0x7ffd000
	cases := []struct {
		name string
		in   insn
		mem  []byte
		want uint64
		ok   bool
	}{
		{"x86 found", x86Syscall, []byte{0x90, 0x48, 0x0f, 0x05, 0xc3}, base + 2, true},
		{"x86 odd address", x86Syscall, []byte{0x0f, 0x0f, 0x05}, base + 1, true},
		{"x86 none", x86Syscall, []byte{0x0f, 0x90, 0x05, 0x0f}, 0, false},
		{"a64 aligned", a64Svc, []byte{
			0x1f, 0x20, 0x03, 0xd5, // nop
			0x01, 0x00, 0x00, 0xd4, // svc #0
		}, base + 4, true},
		{"a64 skips unaligned", a64Svc, []byte{
			0x00, 0x01, 0x00, 0x00, 0xd4, 0x00, 0x00, 0x00,
			0x01, 0x00, 0x00, 0xd4,
		}, base + 8, true},
		{"a64 svc #1 is not svc #0", a64Svc, []byte{0x21, 0x00, 0x00, 0xd4}, 0, false},
		{"empty", x86Syscall, nil, 0, false},
	}
	for _, c := range cases {
		got, ok := c.in.find(c.mem, base)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: find = %#x, %v; want %#x, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	if !a64Svc.is([]byte{0x01, 0x00, 0x00, 0xd4, 0xff}) || a64Svc.is([]byte{0x01}) {
		t.Errorf("insn.is")
	}
}

func TestParseVdso(t *testing.T) {
	maps := []byte("55d0c000-55d0d000 r--p 00000000 fd:01 1234 /usr/bin/cat\n" +
		"7ffc1000-7ffc3000 r--p 00000000 00:00 0                          [vvar]\n" +
		"7ffc3000-7ffc5000 r-xp 00000000 00:00 0                          [vdso]\n")
	lo, hi, err := parseVdso(maps)
	if err != nil || lo != 0x7ffc3000 || hi != 0x7ffc5000 {
		t.Errorf("parseVdso = %#x, %#x, %v", lo, hi, err)
	}
	lo, hi, err = parseVdso([]byte("00400000-00401000 r-xp 0 0:0 0 /bin/x\n"))
	if lo != 0 || hi != 0 || err != nil {
		t.Errorf("no vdso: %#x, %#x, %v", lo, hi, err)
	}
	if _, _, err := parseVdso([]byte("zz-1 r-xp 0 0:0 0 [vdso]\n")); err != unix.EINVAL {
		t.Errorf("bad line: %v, want EINVAL", err)
	}
}

func TestStatField(t *testing.T) {
	// Field 2 may hold spaces and ')'.
	line := []byte("4242 (a) b (c)) S 1 4242 4242 0 -1 2129984 0 0 0 0 1 2 0 0 20 0 " +
		"1 0 24 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 3 0 0\n")
	if f, err := statFlags(line); err != nil || f != 2129984 || f&pfKthread == 0 {
		t.Errorf("statFlags = %d, %v", f, err)
	}
	if cpu, err := statField(line, 39); err != nil || cpu != 3 {
		t.Errorf("field 39 = %d, %v; want 3", cpu, err)
	}
	if _, err := statField(line, 90); err != unix.EINVAL {
		t.Errorf("field 90: %v, want EINVAL", err)
	}
	if _, err := statField([]byte("no paren"), 9); err != unix.EINVAL {
		t.Errorf("no paren: %v, want EINVAL", err)
	}
}

func TestEncodeProg(t *testing.T) {
	prog := []unix.SockFilter{
		{Code: 0x20, K: 4},
		{Code: 0x15, Jt: 1, Jf: 2, K: 0xc000003e},
		{Code: 0x06, K: unix.SECCOMP_RET_ALLOW},
	}
	b := encodeProg(prog, 0x10000)
	if len(b) != fprogSize+3*8 {
		t.Fatalf("len = %d", len(b))
	}
	ne := binary.NativeEndian
	if ne.Uint16(b) != 3 || ne.Uint64(b[8:]) != 0x10000+fprogSize {
		t.Errorf("sock_fprog = len %d, filter %#x", ne.Uint16(b), ne.Uint64(b[8:]))
	}
	// The instructions must be laid out as the kernel's own struct.
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), 3*8)
	if string(b[fprogSize:]) != string(raw) {
		t.Errorf("instructions % x, want % x", b[fprogSize:], raw)
	}
}

func TestDecode(t *testing.T) {
	stop := func(sig, event int) unix.WaitStatus {
		return unix.WaitStatus(event<<16 | sig<<8 | 0x7f)
	}
	cases := []struct {
		ws   unix.WaitStatus
		kind stopKind
		sig  int
	}{
		{stop(int(unix.SIGTRAP), unix.PTRACE_EVENT_STOP), eventStop, int(unix.SIGTRAP)},
		{stop(int(unix.SIGSTOP), unix.PTRACE_EVENT_STOP), eventStop, int(unix.SIGSTOP)},
		{stop(int(unix.SIGTRAP), unix.PTRACE_EVENT_CLONE), cloneStop, int(unix.SIGTRAP)},
		{stop(int(unix.SIGTRAP)|0x80, 0), syscallStop, int(unix.SIGTRAP) | 0x80},
		{stop(int(unix.SIGUSR1), 0), signalStop, int(unix.SIGUSR1)},
		{stop(int(unix.SIGTRAP), unix.PTRACE_EVENT_EXEC), otherStop, int(unix.SIGTRAP)},
	}
	for _, c := range cases {
		kind, sig := decode(c.ws)
		if kind != c.kind || sig != c.sig {
			t.Errorf("decode(%#x) = %d, %d; want %d, %d", int(c.ws), kind, sig, c.kind, c.sig)
		}
	}
}

func TestX86Stub(t *testing.T) {
	s := x86Stub(sysnums{seccomp: 317, exit: 60, prctl: 157}, 0x2d, 0x1122334455667788,
		0x99aabbccddeeff00)
	want := "0f05 4885c0 7403 cc 0f0b " +
		"b89d000000 bf03000000 0f05 48a300ffeeddccbbaa99 4883f801 750e " +
		"b89d000000 bf04000000 31f6 0f05 " +
		"b83d010000 bf01000000 be2d000000 48ba8877665544332211 0f05 cc " +
		"b83c000000 31ff 0f05 0f0b"
	var got []string
	for _, n := range []int{2, 3, 2, 1, 2, 5, 5, 2, 10, 4, 2, 5, 5, 2, 2, 5, 5, 5, 10, 2, 1,
		5, 2, 2, 2} {
		got = append(got, fmt.Sprintf("%x", s.code[:n]))
		s.code = s.code[n:]
	}
	if g := strings.Join(got, " "); g != want || len(s.code) != 0 {
		t.Errorf("stub\n got %s (+% x)\nwant %s", g, s.code, want)
	}
	// The parent's trap is at 7, the helper's at 79 (0x4f).
	if s.parentStop != 8 || s.helperStop != 80 {
		t.Errorf("stops %d, %d; want 8, 80", s.parentStop, s.helperStop)
	}
}

func TestAuxvValue(t *testing.T) {
	ne := binary.NativeEndian
	var auxv []byte
	for _, kv := range [][2]uint64{{6, 4096}, {atSysinfoEhdr, 0x7ffd1000}, {0, 0},
		{atSysinfoEhdr, 0xdead}} {
		auxv = ne.AppendUint64(auxv, kv[0])
		auxv = ne.AppendUint64(auxv, kv[1])
	}
	if got := auxvValue(auxv, atSysinfoEhdr); got != 0x7ffd1000 {
		t.Errorf("AT_SYSINFO_EHDR = %#x, want 0x7ffd1000", got)
	}
	if got := auxvValue(auxv, 25); got != 0 {
		t.Errorf("missing key = %#x, want 0 (AT_NULL ends the vector)", got)
	}
	if got := auxvValue(auxv[:20], atSysinfoEhdr); got != 0 {
		t.Errorf("cut vector = %#x, want 0", got)
	}
}

func TestExeced(t *testing.T) {
	cases := []struct {
		orig, rax uint64
		want      bool
	}{
		{59, 0, true},
		{322, 0, true},
		{59, ^uint64(0) - 1, false}, // a failed execve: -ENOENT
		{0, 0, false},               // read
		{^uint64(0), 0, false},      // not in a call
	}
	for _, c := range cases {
		r := x86Regs{OrigRax: c.orig, Rax: c.rax}
		if got := r.execed(); got != c.want {
			t.Errorf("execed(orig_rax %d, rax %d) = %v, want %v", int64(c.orig),
				int64(c.rax), got, c.want)
		}
	}
	if (&a64Regs{}).execed() {
		t.Errorf("aarch64 execed")
	}
}

// TestSVESizes: the size and most size of NT_ARM_SVE come from its
// header; a header too short or inconsistent is refused.
func TestSVESizes(t *testing.T) {
	hdr := func(size, max uint32) []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint32(b[0:], size)
		binary.LittleEndian.PutUint32(b[4:], max)
		return b
	}
	for _, c := range []struct {
		b         []byte
		size, max int
		ok        bool
	}{
		{hdr(528, 8736), 528, 8736, true},
		{hdr(8736, 8736), 8736, 8736, true},
		{hdr(528, 100), 0, 0, false},
		{hdr(8, 8736), 0, 0, false},
		{hdr(528, 8736)[:12], 0, 0, false},
	} {
		size, max, ok := sveSizes(c.b)
		if ok != c.ok || ok && (size != c.size || max != c.max) {
			t.Errorf("sveSizes(% x) = %d, %d, %v, want %d, %d, %v", c.b, size, max, ok,
				c.size, c.max, c.ok)
		}
	}
}
