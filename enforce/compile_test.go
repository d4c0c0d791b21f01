package enforce

import (
	"encoding/binary"
	"errors"
	"math/rand"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/cgsyscall/cgsyscall/arch"
)

// seccompData encodes struct seccomp_data {int nr; u32 arch; u64 ip;
// u64 args[6]} for x/net/bpf's VM. The VM loads words big-endian, while
// the kernel loads them in host order; so each 32-bit word is written
// big-endian, at the offset where a little-endian kernel keeps it: the
// low word of an argument first, then its high word. The program then
// sees exactly what it sees on x86_64 and aarch64.
func seccompData(nr int32, auditArch uint32, args [6]uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], uint32(nr))
	binary.BigEndian.PutUint32(b[4:], auditArch)
	for i, v := range args {
		off := 16 + 8*i
		binary.BigEndian.PutUint32(b[off:], uint32(v))
		binary.BigEndian.PutUint32(b[off+4:], uint32(v>>32))
	}
	return b
}

// vm wraps a compiled program in x/net/bpf's VM.
type vm struct {
	t    *testing.T
	v    *bpf.VM
	prog []bpf.Instruction
}

func newVM(t *testing.T, a *arch.Arch, deny []int, mode Mode) *vm {
	t.Helper()
	return passVM(t, a, deny, mode, nil)
}

func (m *vm) run(auditArch uint32, nr int32, args [6]uint64) uint32 {
	m.t.Helper()
	r, err := m.v.Run(seccompData(nr, auditArch, args))
	if err != nil {
		m.t.Fatalf("VM: %v", err)
	}
	return uint32(r)
}

const (
	allowV  = 0x7fff0000
	enosysV = 0x00050026
	notifyV = 0x7fc00000
	x32     = 0x40000000
)

// vmCase is one call and the action the filter must give it.
type vmCase struct {
	name  string
	audit uint32
	nr    int32
	args  [6]uint64
	want  uint32 // in ModeErrno; ModeNotify expects notifyV for enosysV
	// static: the answer is ENOSYS in both modes (a foreign arch).
	static bool
}

func arg0(v uint64) [6]uint64 { return [6]uint64{v} }

// x86Deny holds getppid, setuid, socket, msgget and the never-deny calls
// rt_sigreturn, exit, restart_syscall, exit_group (which stay allowed).
var x86Deny = []int{110, 105, 41, 68, 15, 60, 219, 231}

var x86Cases = []vmCase{
	{"getppid denied", arch.AuditArchX86_64, 110, arg0(0), enosysV, false},
	{"setuid denied", arch.AuditArchX86_64, 105, arg0(0), enosysV, false},
	{"getpid allowed", arch.AuditArchX86_64, 39, arg0(0), allowV, false},
	{"uname allowed", arch.AuditArchX86_64, 63, arg0(0), allowV, false},
	{"read allowed", arch.AuditArchX86_64, 0, arg0(0), allowV, false},
	{"getppid-1 allowed", arch.AuditArchX86_64, 109, arg0(0), allowV, false},
	{"getppid+1 allowed", arch.AuditArchX86_64, 111, arg0(0), allowV, false},
	{"file_setattr allowed", arch.AuditArchX86_64, 469, arg0(0), allowV, false},
	{"past NRMax allowed", arch.AuditArchX86_64, 470, arg0(0), allowV, false},
	{"far past NRMax", arch.AuditArchX86_64, 0x3fffffff, arg0(0), allowV, false},
	{"x32 getpid", arch.AuditArchX86_64, x32 | 39, arg0(0), enosysV, false},
	{"x32 read", arch.AuditArchX86_64, x32, arg0(0), enosysV, false},
	{"x32 512", arch.AuditArchX86_64, x32 | 512, arg0(0), enosysV, false},
	{"nr -1", arch.AuditArchX86_64, -1, arg0(0), enosysV, false},
	{"rt_sigreturn never", arch.AuditArchX86_64, 15, arg0(0), allowV, false},
	{"exit never", arch.AuditArchX86_64, 60, arg0(0), allowV, false},
	{"restart never", arch.AuditArchX86_64, 219, arg0(0), allowV, false},
	{"exit_group never", arch.AuditArchX86_64, 231, arg0(0), allowV, false},
	{"native args ignored", arch.AuditArchX86_64, 39, arg0(1), allowV, false},

	{"i386 getppid", arch.AuditArchI386, 64, arg0(0), enosysV, false},
	{"i386 setuid", arch.AuditArchI386, 23, arg0(0), enosysV, false},
	{"i386 setuid32", arch.AuditArchI386, 213, arg0(0), enosysV, false},
	{"i386 getpid", arch.AuditArchI386, 20, arg0(0), allowV, false},
	{"i386 uname", arch.AuditArchI386, 122, arg0(0), allowV, false},
	{"i386 olduname", arch.AuditArchI386, 109, arg0(0), allowV, false},
	{"i386 getuid32", arch.AuditArchI386, 199, arg0(0), allowV, false},
	{"i386 socket", arch.AuditArchI386, 359, arg0(0), enosysV, false},
	{"i386 bind", arch.AuditArchI386, 361, arg0(0), allowV, false},
	{"i386 msgget", arch.AuditArchI386, 399, arg0(0), enosysV, false},
	{"i386 no native", arch.AuditArchI386, 17, arg0(0), enosysV, false}, // break
	{"i386 past NRMax", arch.AuditArchI386, 470, arg0(0), enosysV, false},
	{"i386 restart", arch.AuditArchI386, 0, arg0(0), allowV, false},
	{"i386 exit", arch.AuditArchI386, 1, arg0(0), allowV, false},
	{"i386 sigreturn", arch.AuditArchI386, 119, arg0(0), allowV, false},
	{"i386 rt_sigreturn", arch.AuditArchI386, 173, arg0(0), allowV, false},
	{"i386 exit_group", arch.AuditArchI386, 252, arg0(0), allowV, false},

	{"SYS_SOCKET", arch.AuditArchI386, 102, arg0(1), enosysV, false},
	{"SYS_BIND", arch.AuditArchI386, 102, arg0(2), allowV, false},
	{"SYS_SENDMMSG", arch.AuditArchI386, 102, arg0(20), allowV, false},
	{"SYS_SOCKET hi bits", arch.AuditArchI386, 102, arg0(1<<32 | 1), enosysV, false},
	{"SYS_BIND hi bits", arch.AuditArchI386, 102, arg0(1<<32 | 2), allowV, false},
	{"socketcall 0", arch.AuditArchI386, 102, arg0(0), enosysV, false},
	{"socketcall 21", arch.AuditArchI386, 102, arg0(21), enosysV, false},
	{"socketcall 1<<16|2", arch.AuditArchI386, 102, arg0(1<<16 | 2), enosysV, false},
	{"MSGGET", arch.AuditArchI386, 117, arg0(13), enosysV, false},
	{"MSGGET version 1", arch.AuditArchI386, 117, arg0(1<<16 | 13), enosysV, false},
	{"MSGSND version 1", arch.AuditArchI386, 117, arg0(1<<16 | 11), allowV, false},
	{"SEMOP", arch.AuditArchI386, 117, arg0(1), allowV, false},
	{"ipc 5 unknown", arch.AuditArchI386, 117, arg0(5), enosysV, false},
	{"ipc 25 unknown", arch.AuditArchI386, 117, arg0(0xffff0019), enosysV, false},

	{"aarch64 arch", arch.AuditArchAArch64, 39, arg0(0), enosysV, true},
	{"arm arch", arch.AuditArchARM, 20, arg0(0), enosysV, true},
	{"arch 0", 0, 39, arg0(0), enosysV, true},
	{"x32 arch bit", arch.AuditArchX86_64 &^ 0x80000000, 39, arg0(0), enosysV, true},
}

// armDeny holds getppid, setuid, socket, msgget and the never-deny calls
// exit, exit_group, restart_syscall, rt_sigreturn.
var armDeny = []int{173, 146, 198, 186, 93, 94, 128, 139}

var armCases = []vmCase{
	{"getppid denied", arch.AuditArchAArch64, 173, arg0(0), enosysV, false},
	{"setuid denied", arch.AuditArchAArch64, 146, arg0(0), enosysV, false},
	{"socket denied", arch.AuditArchAArch64, 198, arg0(0), enosysV, false},
	{"getpid allowed", arch.AuditArchAArch64, 172, arg0(0), allowV, false},
	{"uname allowed", arch.AuditArchAArch64, 160, arg0(0), allowV, false},
	{"bind allowed", arch.AuditArchAArch64, 200, arg0(0), allowV, false},
	{"hole allowed", arch.AuditArchAArch64, 300, arg0(0), allowV, false},
	{"past NRMax", arch.AuditArchAArch64, 470, arg0(0), allowV, false},
	{"x32 bit is no ABI", arch.AuditArchAArch64, x32 | 173, arg0(0), allowV, false},
	{"exit never", arch.AuditArchAArch64, 93, arg0(0), allowV, false},
	{"exit_group never", arch.AuditArchAArch64, 94, arg0(0), allowV, false},
	{"restart never", arch.AuditArchAArch64, 128, arg0(0), allowV, false},
	{"rt_sigreturn never", arch.AuditArchAArch64, 139, arg0(0), allowV, false},

	{"arm getppid", arch.AuditArchARM, 64, arg0(0), enosysV, false},
	{"arm setuid", arch.AuditArchARM, 23, arg0(0), enosysV, false},
	{"arm setuid32", arch.AuditArchARM, 213, arg0(0), enosysV, false},
	{"arm getpid", arch.AuditArchARM, 20, arg0(0), allowV, false},
	{"arm uname", arch.AuditArchARM, 122, arg0(0), allowV, false},
	{"arm socket", arch.AuditArchARM, 281, arg0(0), enosysV, false},
	{"arm bind", arch.AuditArchARM, 282, arg0(0), allowV, false},
	{"arm msgget", arch.AuditArchARM, 303, arg0(0), enosysV, false},
	{"arm past NRMax", arch.AuditArchARM, 470, arg0(0), enosysV, false},
	{"arm sigreturn", arch.AuditArchARM, 119, arg0(0), allowV, false},
	{"arm rt_sigreturn", arch.AuditArchARM, 173, arg0(0), allowV, false},
	{"arm exit", arch.AuditArchARM, 1, arg0(0), allowV, false},

	{"x86_64 arch", arch.AuditArchX86_64, 110, arg0(0), enosysV, true},
	{"i386 arch", arch.AuditArchI386, 64, arg0(0), enosysV, true},
}

func TestCompileVM(t *testing.T) {
	for _, tc := range []struct {
		a     *arch.Arch
		deny  []int
		cases []vmCase
	}{
		{arch.X86_64, x86Deny, x86Cases},
		{arch.AArch64, armDeny, armCases},
	} {
		for _, mode := range []Mode{ModeErrno, ModeNotify} {
			m := newVM(t, tc.a, tc.deny, mode)
			for _, c := range tc.cases {
				want := c.want
				if mode == ModeNotify && want == enosysV && !c.static {
					want = notifyV
				}
				got := m.run(c.audit, c.nr, c.args)
				if got != want {
					t.Errorf("%s %v %s (arch %#x nr %d args %#x): got %#x, want %#x",
						tc.a.Name, mode, c.name, c.audit, c.nr, c.args[0], got, want)
				}
			}
		}
	}
}

// TestCompileEmpty checks that an empty deny set, or one of only never-deny
// numbers, allows everything on every arch value, x32 included.
func TestCompileEmpty(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		for _, deny := range [][]int{nil, a.NeverDeny} {
			m := newVM(t, a, deny, ModeErrno)
			for _, audit := range []uint32{a.Native.AuditArch, a.Compat.AuditArch, 0, 1} {
				for _, nr := range []int32{0, 20, 102, 117, 469, 470, x32 | 1, -1} {
					for _, arg := range []uint64{0, 1, 1<<16 | 13, 99} {
						if got := m.run(audit, nr, arg0(arg)); got != allowV {
							t.Errorf("%s deny %v: arch %#x nr %d arg %d: %#x",
								a.Name, deny, audit, nr, arg, got)
						}
					}
				}
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	a := arch.X86_64
	for _, deny := range [][]int{{-1}, {470}, {1, 2, 100000}} {
		_, err := Compile(a, deny, ModeErrno)
		if !errors.Is(err, syscall.ERANGE) {
			t.Errorf("Compile(%v): %v, want ERANGE", deny, err)
		}
	}
	if _, err := Compile(a, []int{1}, Mode(7)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Compile with Mode(7): %v, want EINVAL", err)
	}
}

// denySets gives the deny sets that the structural tests try on a.
func denySets(a *arch.Arch) map[string][]int {
	r := rand.New(rand.NewSource(1))
	sets := map[string][]int{
		"empty": nil, "one": {a.Native.NRMax / 4}, "last": {a.Native.NRMax},
	}
	var first, alt, all []int
	for n := 0; n <= a.Native.NRMax; n++ {
		if n < 300 {
			first = append(first, n)
		}
		if n%2 == 0 {
			alt = append(alt, n)
		}
		all = append(all, n)
	}
	sets["first300"], sets["alternate"], sets["all"] = first, alt, all
	for i := range 3 {
		sets["random300-"+string(rune('a'+i))] = r.Perm(a.Native.NRMax + 1)[:300]
	}
	sets["random60"] = r.Perm(a.Native.NRMax + 1)[:60]
	return sets
}

// TestPrctlNoNewPrivs: a denied prctl still lets PR_SET_NO_NEW_PRIVS
// through (the daemon injects it to hold a process that dropped root), in
// the filter and in Judge alike; every other option is denied.
func TestPrctlNoNewPrivs(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		prctl, _ := a.Native.SyscallNumber("prctl")
		for _, mode := range []Mode{ModeErrno, ModeNotify} {
			deniedV := deniedValue(mode)
			m := newVM(t, a, []int{prctl, 1}, mode)
			for _, c := range []struct {
				arg  uint64
				want uint32
			}{{38, allowV}, {38 | 1<<32, allowV}, {37, deniedV}, {4, deniedV}, {0, deniedV}} {
				if got := m.run(a.Native.AuditArch, int32(prctl), arg0(c.arg)); got != c.want {
					t.Errorf("%s %v prctl(%#x): %#x, want %#x", a.Name, mode, c.arg, got,
						c.want)
				}
				if denied := Judge(a, []int{1, prctl}, a.Native.AuditArch, prctl,
					arg0(c.arg)); denied != (c.want != allowV) {
					t.Errorf("%s Judge prctl(%#x) denied = %v", a.Name, c.arg, denied)
				}
			}
		}
	}
}
