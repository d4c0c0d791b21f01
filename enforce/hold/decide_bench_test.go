package hold

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
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

// BenchmarkThreadIs times the check that a cached anchor is still its
// thread's on a decided call (threadIs): "thread" where the thread's own
// pidfd is watched (Linux 6.9 and later, and main threads everywhere),
// "process" where a thread other than the main one stands by its
// process's watch and tgkill(tgid, TID, 0) (older kernels), and for
// comparison "descriptor", the one-byte read of the thread's
// /proc/TID/cgroup that the second did before. The thread is one of the
// benchmark's own, not the main one, parked on a locked OS thread.
func BenchmarkThreadIs(b *testing.B) {
	h := &Holder{}
	tids, err := newTIDCache(func(int) {})
	if err != nil {
		b.Fatal(err)
	}
	defer tids.close()
	h.tids = tids
	tidc, stop := make(chan int), make(chan struct{})
	go threadUntil(tidc, stop) // never the main thread
	defer close(stop)
	tid := <-tidc
	if tid == unix.Getpid() {
		b.Fatal("the parked thread is the main one")
	}
	check := func(e *anchorEntry) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if !h.threadIs(tid, e) {
					b.Fatal("threadIs = false for a live thread")
				}
			}
		}
	}
	if kernel.PidfdThread.Have() {
		b.Run("thread", check(&anchorEntry{r: tids.ref(tid)}))
	}
	restore := kernel.PidfdThread.Disable()
	b.Run("process", check(&anchorEntry{r: tids.ref(tid)}))
	restore()
	f, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/cgroup", os.Getpid(), tid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.Run("descriptor", func(b *testing.B) {
		var one [1]byte
		for b.Loop() {
			if _, err := f.ReadAt(one[:], 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
