package hold

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
	"github.com/cgsyscall/cgsyscall/policy"
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
	if os.Geteuid() != 0 {
		b.Skip("needs root: makes a cgroup")
	}
	a := arch.Host()
	base, err := os.MkdirTemp("/sys/fs/cgroup/unified", "cgsyscall-test-")
	if err != nil {
		b.Skip("no cgroup2 at /sys/fs/cgroup/unified: ", err)
	}
	defer os.Remove(base)
	g := filepath.Join(base, "g")
	if err := os.Mkdir(g, 0o755); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(g)
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
	tree := policy.NewTree(a)
	getppid, _ := a.Native.SyscallNumber("getppid")
	getpid, _ := a.Native.SyscallNumber("getpid")
	if err := tree.Ensure("g"); err != nil {
		b.Fatal(err)
	}
	if err := tree.Deny("g", policy.NewSet(getppid)); err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.ErrorLevel)
	h, err := New(a, tree, base, false, log)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
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
