package inject

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
)

// TestMayAnswer: which filters may answer a seccomp(2) call themselves, so
// that the call's errno is not the kernel's. The forger is adversary
// helper-17's: EBUSY for a load with TSYNC, which the daemon always sets.
func TestMayAnswer(t *testing.T) {
	const nr, other = 317, 39 // seccomp and getpid on x86_64
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt,
			Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
	}
	allow, errno := uint32(unix.SECCOMP_RET_ALLOW), uint32(unix.SECCOMP_RET_ERRNO|uint32(unix.EBUSY))
	notif := uint32(unix.SECCOMP_RET_USER_NOTIF)
	type answerCase struct {
		name string
		prog []unix.SockFilter
		want bool
	}
	cases := []answerCase{
		{"allow", []unix.SockFilter{ret(allow)}, false},
		{"log", []unix.SockFilter{ret(unix.SECCOMP_RET_LOG)}, false},
		{"other number denied", []unix.SockFilter{ld(0), jeq(other, 0, 1), ret(errno), ret(allow)},
			false},
		{"seccomp denied", []unix.SockFilter{ld(0), jeq(nr, 0, 1), ret(errno), ret(allow)}, true},
		{"seccomp notified", []unix.SockFilter{ld(0), jeq(nr, 0, 1), ret(notif), ret(allow)}, true},
		{"other arch only", []unix.SockFilter{ld(4), jeq(arch.AuditArchX86_64, 1, 0),
			ret(errno), ret(allow)}, false},
		{"forger: flags has TSYNC", []unix.SockFilter{
			ld(0), jeq(nr, 0, 3),
			ld(24), // args[1], low word: the flags
			{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: unix.SECCOMP_FILTER_FLAG_TSYNC,
				Jt: 0, Jf: 1},
			ret(errno), ret(allow)}, true},
		{"arguments of another number", []unix.SockFilter{
			ld(0), jeq(other, 0, 3), ld(16), jeq(7, 0, 1), ret(errno), ret(allow)}, false},
		{"kept in scratch", []unix.SockFilter{
			ld(0), {Code: unix.BPF_ST, K: 3}, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_IMM},
			{Code: unix.BPF_LD | unix.BPF_MEM, K: 3}, jeq(nr, 0, 1), ret(errno), ret(allow)}, true},
		{"returns A, unknown", []unix.SockFilter{ld(16),
			{Code: unix.BPF_RET | unix.BPF_A}}, true},
		{"runs off the end", []unix.SockFilter{ld(0)}, true},
	}
	// helper-18's: 40 branches on an unknown word, each doubling a known
	// count in scratch memory; a walk of every path never ended.
	branches := func(tail ...unix.SockFilter) []unix.SockFilter {
		prog := []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_IMM}, {Code: unix.BPF_ST}}
		for i := 0; i < 40; i++ {
			prog = append(prog,
				unix.SockFilter{Code: unix.BPF_LD | unix.BPF_MEM},
				unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_MUL | unix.BPF_K, K: 2},
				unix.SockFilter{Code: unix.BPF_ST},
				ld(24),
				unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 1, Jf: 3},
				unix.SockFilter{Code: unix.BPF_LD | unix.BPF_MEM},
				unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_ADD | unix.BPF_K, K: 1},
				unix.SockFilter{Code: unix.BPF_ST})
		}
		return append(prog, tail...)
	}
	cases = append(cases,
		answerCase{"40 branches, then seccomp denied", branches(ld(0), jeq(nr, 0, 1), ret(errno),
			ret(allow)), true},
		answerCase{"40 branches, then allow", branches(ret(allow)), false},
		answerCase{"division by an unknown X", []unix.SockFilter{ld(16),
			{Code: unix.BPF_MISC | unix.BPF_TAX},
			{Code: unix.BPF_ALU | unix.BPF_DIV | unix.BPF_X}, ret(allow)}, true},
	)
	for _, c := range cases {
		if got := mayAnswer(c.prog, nr, arch.AuditArchX86_64); got != c.want {
			t.Errorf("%s: mayAnswer = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestMayHarm: which filters may kill or trap a call that a hold makes
// (mmap, clone, prctl, seccomp, close, munmap, exit, with the arguments
// known before it starts), on the host's architecture.
func TestMayHarm(t *testing.T) {
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt,
			Jf: jf}
	}
	jset := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: k, Jt: jt,
			Jf: jf}
	}
	and := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: k}
	}
	ret := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
	}
	const (
		allow    = unix.SECCOMP_RET_ALLOW
		killProc = unix.SECCOMP_RET_KILL_PROCESS
		killThr  = unix.SECCOMP_RET_KILL_THREAD
		trap     = unix.SECCOMP_RET_TRAP
		eperm    = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	)
	// on returns a filter that gives action for number nr and allows the
	// rest.
	on := func(nr int, action uint32) []unix.SockFilter {
		return []unix.SockFilter{ld(0), jeq(uint32(nr), 0, 1), ret(action), ret(allow)}
	}
	// onArg gives action for number nr when the low word of argument i,
	// masked, equals want.
	onArg := func(nr, i int, mask, want, action uint32) []unix.SockFilter {
		return []unix.SockFilter{ld(0), jeq(uint32(nr), 0, 4), ld(uint32(16 + 8*i)), and(mask),
			jeq(want, 0, 1), ret(action), ret(allow)}
	}
	wx := uint32(unix.PROT_WRITE | unix.PROT_EXEC)
	cases := []struct {
		name string
		prog []unix.SockFilter
		want bool
	}{
		{"allow", []unix.SockFilter{ret(allow)}, false},
		{"kills for seccomp (systemd's @system-service)", on(nums.seccomp, killProc), true},
		{"kills the thread for seccomp", on(nums.seccomp, killThr), true},
		{"traps clone", on(nums.clone, trap), true},
		{"kills for prctl", on(nums.prctl, killProc), true},
		{"kills for munmap", on(nums.munmap, killProc), true},
		{"fails seccomp with EPERM", on(nums.seccomp, eperm), false},
		{"an action the kernel does not know (kill)", on(nums.prctl, 0x00040000), true},
		{"fails exit with EPERM (the helper stays, its listener with it)",
			on(nums.exit, eperm), true},
		{"notifies exit", on(nums.exit, unix.SECCOMP_RET_USER_NOTIF), true},
		{"traces seccomp (ENOSYS with no tracer asking)", on(nums.seccomp,
			unix.SECCOMP_RET_TRACE), false},
		{"notifies mmap (a listener of the process's own)", on(nums.mmap,
			unix.SECCOMP_RET_USER_NOTIF), true},
		{"notifies clone", on(nums.clone, unix.SECCOMP_RET_USER_NOTIF), true},
		{"fails clone with EAGAIN (no helper: a load from the thread)",
			on(nums.clone, unix.SECCOMP_RET_ERRNO|uint32(unix.EAGAIN)), false},
		{"fails mmap with EPERM (the stack is used)", on(nums.mmap, eperm), false},
		{"answers clone with 0 (a fake child)", on(nums.clone, unix.SECCOMP_RET_ERRNO), true},
		{"answers seccomp with 0 (a fake listener 0)", on(nums.seccomp,
			unix.SECCOMP_RET_ERRNO), true},
		{"answers mmap with 0 (a page at 0)", on(nums.mmap, unix.SECCOMP_RET_ERRNO), true},
		{"answers close with 0 (the listener stays)", on(nums.close, unix.SECCOMP_RET_ERRNO),
			true},
		{"fails close with EPERM", on(nums.close, eperm), true},
		{"answers munmap with 0 (the page stays)", on(nums.munmap, unix.SECCOMP_RET_ERRNO),
			true},
		{"logs exit", on(nums.exit, unix.SECCOMP_RET_LOG), false},
		// helper-25's: the flag is put back after the load, so an errno
		// there failed a hold whose layer was in; restart_syscall is the
		// program's own call, which the hold causes.
		{"fails prctl(PR_SET_DUMPABLE, 1) with EPERM", onArg(nums.prctl, 1, ^uint32(0), 1,
			eperm), true},
		{"fails prctl(PR_SET_DUMPABLE, 0) with EPERM (the hold fails before its load)",
			onArg(nums.prctl, 1, ^uint32(0), 0, eperm), false},
		{"kills for restart_syscall", on(nums.restart, killProc), true},
		{"fails restart_syscall with EPERM", on(nums.restart, eperm), true},
		{"logs restart_syscall", on(nums.restart, unix.SECCOMP_RET_LOG), false},
		{"kills for getppid only", on(int(unix.SYS_GETPPID), killProc), false},
		{"kills for another architecture", []unix.SockFilter{ld(4), jeq(auditArch, 1, 0),
			ret(killProc), ret(allow)}, false},
		{"kills clone with CLONE_NEWUSER", onArg(nums.clone, 0, unix.CLONE_NEWUSER,
			unix.CLONE_NEWUSER, killProc), false},
		{"kills clone without CLONE_THREAD", onArg(nums.clone, 0, unix.CLONE_THREAD, 0,
			killProc), false},
		{"kills a writable and executable mmap", onArg(nums.mmap, 2, wx, wx, killProc), true},
		{"kills prctl(PR_SET_MM)", onArg(nums.prctl, 0, ^uint32(0), unix.PR_SET_MM, killProc),
			false},
		{"kills prctl but PR_SET_NAME", []unix.SockFilter{ld(0), jeq(uint32(nums.prctl), 0, 3),
			ld(16), jeq(unix.PR_SET_NAME, 1, 0), ret(killProc), ret(allow)}, true},
		{"kills seccomp for a program at 0 (an address: unknown)",
			onArg(nums.seccomp, 2, ^uint32(0), 0, killProc), true},
		{"kills seccomp with SECCOMP_FILTER_FLAG_LOG", []unix.SockFilter{ld(0),
			jeq(uint32(nums.seccomp), 0, 3), ld(24), jset(unix.SECCOMP_FILTER_FLAG_LOG, 0, 1),
			ret(killProc), ret(allow)}, false},
		{"division by an unknown X (0: kill)", []unix.SockFilter{ld(0),
			jeq(uint32(nums.close), 0, 3), ld(16), {Code: unix.BPF_MISC | unix.BPF_TAX},
			{Code: unix.BPF_ALU | unix.BPF_DIV | unix.BPF_X}, ret(allow)}, true},
	}
	for _, c := range cases {
		if got := mayHarm(c.prog); got != c.want {
			t.Errorf("%s: mayHarm = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestOwnFilterLeftOut: a filter that a test of AddOwnFilter takes for
// the caller's own is not judged, whatever it returns; another with the
// same effect is.
func TestOwnFilterLeftOut(t *testing.T) {
	notify := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: uint32(nums.clone), Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_USER_NOTIF},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0x5eed}, // unreached: this test's mark
	}
	AddOwnFilter(func(p []unix.SockFilter) bool {
		return len(p) == len(notify) && p[len(p)-1] == notify[len(notify)-1]
	})
	if !isOwn(notify) || !mayHarm(notify) {
		t.Fatalf("isOwn %v, mayHarm %v: want true, true", isOwn(notify), mayHarm(notify))
	}
	other := append([]unix.SockFilter(nil), notify...)
	other[len(other)-1].K = 0x5eee
	if isOwn(other) {
		t.Error("a filter with another mark is taken for the caller's own")
	}
}
