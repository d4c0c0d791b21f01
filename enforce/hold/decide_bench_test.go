package hold

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

// BenchmarkDecide times Decide for a process that is not held (a sleep
// started in a group denying getppid), once its group is cached: "deny"
// asks about getppid, "allow" about getpid. A denied call also runs the
// OnDenied hook as the supervisor does once the answer is sent, with the
// notification as Decide left it and delivered true: with
// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP the caller waits for that too. At
// the end the group's syscalls.stat must count every denied call once.
// It needs root and the cgroup2 mount at /sys/fs/cgroup/unified.
func BenchmarkDecide(b *testing.B) {
	h, _, g, getppid := holderOfG(b)
	a := h.a
	cg, err := os.Open(g)
	if err != nil {
		b.Fatal(err)
	}
	defer cg.Close()
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	getpid, _ := a.Native.SyscallNumber("getpid")
	pid := cmd.Process.Pid
	denied := 0
	for _, c := range []struct {
		name  string
		nr    int
		allow bool
	}{{"deny", getppid, false}, {"allow", getpid, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n supervise.Notif
			for i := 0; b.Loop(); i++ {
				n = supervise.Notif{ID: uint64(i), Pid: pid, Holder: pid,
					Arch: a.Native.AuditArch, Nr: c.nr}
				if got := h.Decide(&n); got != c.allow {
					b.Fatalf("Decide = %v, want %v", got, c.allow)
				}
				if !c.allow {
					h.answeredDenial(n, true)
					denied++
				}
			}
		})
	}
	want := "total 0\n"
	if denied > 0 {
		want = fmt.Sprintf("getppid %d\ntotal %d\n", denied, denied)
	}
	if got := string(h.Denials().Stat("g")); got != want {
		b.Fatalf("syscalls.stat of g: %q, want %q", got, want)
	}
}
