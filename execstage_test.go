package cgsyscall_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExecHeldUnderSIGCONT: CMD of cgsyscall exec runs held from its first
// instruction while every member of the group gets SIGCONT all the time.
// Before the stage (package enforce/stage), CMD was handed to the daemon
// stopped with SIGSTOP, and a SIGCONT from any process of its user let it
// run its start unheld (helper-24: 14 of 20; this test at b4ceb8a: 5, 5
// and 11 of 50).
// dash and bash ask getppid for $PPID before any command (glibc hands
// the raw -ENOSYS on: getppid cannot fail).
func TestExecHeldUnderSIGCONT(t *testing.T) {
	m := newMirror(t)
	m.mkdir("cont")
	m.mustWrite("cont/syscalls.deny", "getppid")
	procs := filepath.Join(m.base, "cont", "cgroup.procs")
	stop, stopped := make(chan struct{}), make(chan struct{})
	var sent atomic.Int64
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Every process of the group, all started by this test.
			b, _ := os.ReadFile(procs)
			for _, f := range strings.Fields(string(b)) {
				var pid int
				fmt.Sscan(f, &pid)
				if pid > 0 && unix.Kill(pid, unix.SIGCONT) == nil {
					sent.Add(1)
				}
			}
		}
	}()
	const runs = 50
	unheld := 0
	for range runs {
		out, errOut, status := run(t, "exec", "-m", m.mnt, "cont", "--", "sh", "-c",
			"echo $PPID")
		if status != 0 || out != "-38\n" {
			unheld++
			t.Logf("sh printed %q (status %d, stderr %q), want -38: its getppid was not denied",
				out, status, errOut)
		}
	}
	close(stop)
	<-stopped
	if unheld > 0 {
		t.Errorf("%d of %d commands ran unheld under a SIGCONT storm", unheld, runs)
	}
	if sent.Load() < runs {
		t.Fatalf("only %d SIGCONTs reached the group's members; the storm is too thin",
			sent.Load())
	}
	t.Logf("%d SIGCONTs sent", sent.Load())
}
