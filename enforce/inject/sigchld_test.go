package inject_test

import (
	"os"
	"os/signal"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// TestHoldQuietStops: the holder's process gets no SIGCHLD for the ptrace
// stops of a hold, a dozen or so each, only for exits (the helper thread's,
// at most one a hold): its SIGCHLD action takes SA_NOCLDSTOP at the first
// seize, and keeps its handler. Before, each stop sent the signal to one of
// the holder's threads, which the kernel woke for it.
func TestHoldQuietStops(t *testing.T) {
	injecttest.RequireRoot(t)
	const holds = 10
	victims := make([]*injecttest.Victim, holds)
	for i := range victims {
		victims[i] = injecttest.Start(t, injecttest.C, 0)
	}
	before := sigchldAction(t)
	got := make(chan os.Signal, 1000)
	signal.Notify(got, unix.SIGCHLD)
	defer signal.Stop(got)
	for _, v := range victims {
		fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
		if err != nil {
			t.Fatalf("hold of %d: %v", v.Pid, err)
		}
		unix.Close(fd)
	}
	time.Sleep(50 * time.Millisecond) // for signals on their way
	if n := len(got); n > holds {
		t.Fatalf("%d SIGCHLD for %d holds, want at most one each (the helper's exit)", n,
			holds)
	}
	after := sigchldAction(t)
	if after.handler != before.handler || after.flags&saNoCldStop == 0 {
		t.Fatalf("SIGCHLD action after the holds: %+v, want the handler of %+v with "+
			"SA_NOCLDSTOP", after, before)
	}
}

// saNoCldStop is SA_NOCLDSTOP, the same on x86_64 and aarch64.
const saNoCldStop = 1

// action is struct sigaction as rt_sigaction(2) takes it on x86_64 and
// aarch64.
type action struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func sigchldAction(t *testing.T) action {
	t.Helper()
	var sa action
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), 0,
		uintptr(unsafe.Pointer(&sa)), 8, 0, 0); e != 0 {
		t.Fatalf("rt_sigaction: %v", e)
	}
	return sa
}
