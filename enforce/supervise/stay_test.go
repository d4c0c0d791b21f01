package supervise_test

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

// watchHot samples supervise.HotStays until stop is closed and returns
// the most it saw.
func watchHot(s *supervise.Supervisor, stop chan struct{}) *atomic.Int32 {
	var most atomic.Int32
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := supervise.HotStays(s); n > most.Load() {
				most.Store(n)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	return &most
}

// tooSlowForStays skips t where notified calls of victim v came further
// apart than half the supervisor's hot window on average (ns for calls
// round trips): a stay begins only for a call that comes within that window
// of the one before (work.go), and a loaded host, or the aarch64 VM on a
// slow day, can take longer for each round trip (2.4 ms once in a
// clean-clone run, where 20,000 calls took 47 s and no stay began).
func tooSlowForStays(t *testing.T, ns int64, calls int) {
	t.Helper()
	if gap := time.Duration(ns / int64(calls)); gap > supervise.HotWindow/2 {
		t.Skipf("notified calls came %v apart on average, too far apart for a hot stay "+
			"(window %v): the host is too slow to tell", gap, supervise.HotWindow)
	}
}

// busyRate skips t, as tooSlowForStays, where 500 notified calls of v show
// the host too slow for a stay, before a test of one.
func busyRate(t *testing.T, v *injecttest.Victim) {
	t.Helper()
	var ret, ns int64
	fmt.Sscan(v.ReplyWithin(t, time.Minute), &ret, &ns)
	tooSlowForStays(t, ns, 500)
}

// TestStayEndsWhenQuiet: a run of notified calls gets a hot stay, which
// ends on its own once the calls stop, within twice the longest tick.
func TestStayEndsWhenQuiet(t *testing.T) {
	injecttest.RequireRoot(t)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := held(t, s, injecttest.C)
	stop := make(chan struct{})
	most := watchHot(s, stop)
	var ret, ns int64
	// 20,000 round trips: seconds in the aarch64 VM, where every call
	// goes through qemu, and more on a loaded machine (helper-21 saw the
	// 10 s of Do run out at a load of 8-15 on 2 vCPUs).
	v.Send(t, "loop 20000")
	fmt.Sscan(v.ReplyWithin(t, time.Minute), &ret, &ns)
	close(stop)
	if ret < 0 {
		t.Fatalf("getppid in the loop = %d", ret)
	}
	if most.Load() != 1 {
		tooSlowForStays(t, ns, 20000)
		t.Errorf("hot stays during 20000 calls in a row: at most %d, want 1", most.Load())
	}
	deadline := time.Now().Add(time.Second)
	for supervise.HotStays(s) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := supervise.HotStays(s); n != 0 {
		t.Fatalf("%d hot stays 1s after the last call, want 0", n)
	}
	// The listener is served through epoll again.
	if got, want := v.Do(t, "getppid"), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("getppid after the stay = %s, want %s", got, want)
	}
}

// TestCloseEndsBusyStay: Close does not wait for a member that keeps
// making notified calls; the calls it makes afterwards fail with ENOSYS.
func TestCloseEndsBusyStay(t *testing.T) {
	injecttest.RequireRoot(t)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	v := held(t, s, injecttest.C)
	v.Send(t, "loop 500")
	busyRate(t, v)
	v.Send(t, "loop 3000000") // about 9 s of calls answered one by one
	deadline := time.Now().Add(5 * time.Second)
	for supervise.HotStays(s) != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if supervise.HotStays(s) != 1 {
		t.Fatal("the busy listener got no hot stay within 5s")
	}
	start := time.Now()
	s.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v with a busy stay, want well under 1s", took)
	}
	// The rest of the loop's calls fail in the kernel now, a few seconds
	// of them natively; under qemu (the aarch64 VM, a busy host) they took
	// longer than Reply's 10 s once.
	var ret, ns int64
	fmt.Sscan(v.ReplyWithin(t, time.Minute), &ret, &ns)
	if ret != -38 {
		t.Errorf("last getppid of the loop, after Close = %d, want -38", ret)
	}
}

// TestStayOfExitingMember: a member that dies in the middle of a stay
// leaves nothing behind: its listener is reported gone.
func TestStayOfExitingMember(t *testing.T) {
	injecttest.RequireRoot(t)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gone := make(chan int, 1)
	s.OnGone(func(fd, pid int) { gone <- pid })
	v := held(t, s, injecttest.C)
	v.Send(t, "loop 500")
	busyRate(t, v)
	v.Send(t, "loop 3000000")
	deadline := time.Now().Add(5 * time.Second)
	for supervise.HotStays(s) != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if supervise.HotStays(s) != 1 {
		t.Fatal("the busy listener got no hot stay within 5s")
	}
	v.Kill()
	select {
	case pid := <-gone:
		if pid != v.Pid {
			t.Errorf("OnGone for pid %d, want %d", pid, v.Pid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnGone not called within 5s of the death of a member in a stay")
	}
	deadline = time.Now().Add(time.Second)
	for supervise.HotStays(s) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := supervise.HotStays(s); n != 0 {
		t.Errorf("%d hot stays after the member died, want 0", n)
	}
}
