package inject_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

func TestMain(m *testing.M) {
	if arg := os.Getenv(tracerEnv); arg != "" {
		tracerMain(arg)
	}
	code := m.Run()
	injecttest.Cleanup()
	os.Exit(code)
}

var kinds = []string{injecttest.C, injecttest.Go}

func TestHoldClosedListenerFailsClosed(t *testing.T) {
	injecttest.RequireRoot(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			v := injecttest.Start(t, kind, 0)
			ppid := strconv.Itoa(os.Getpid())
			if got := v.Do(t, "getppid"); got != ppid {
				t.Fatalf("getppid before hold = %s, want %s", got, ppid)
			}
			fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
			if err != nil {
				t.Fatalf("Hold: %v", err)
			}
			unix.Close(fd)
			if got := v.Do(t, "getppid"); got != "-38" {
				t.Errorf("getppid with listener closed = %s, want -38", got)
			}
			if got, want := v.Do(t, "getpid"), strconv.Itoa(v.Pid); got != want {
				t.Errorf("getpid = %s, want %s", got, want)
			}
			_, err = inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
			if err != nil {
				t.Errorf("second Hold after closing the first listener: %v", err)
			}
			var e *inject.Error
			if err != nil && !errors.As(err, &e) {
				t.Errorf("error %T is not *inject.Error", err)
			}
		})
	}
}

// supervised starts a supervisor whose decider allows what *allow says,
// closed when the test ends.
func supervised(t *testing.T, allow *atomic.Bool) *supervise.Supervisor {
	t.Helper()
	s, err := supervise.New(func(*supervise.Notif) bool { return allow.Load() })
	if err != nil {
		t.Fatalf("supervise.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hold holds v to prog and hands the listener to s.
func hold(t *testing.T, s *supervise.Supervisor, v *injecttest.Victim, prog []unix.SockFilter) int {
	t.Helper()
	fd, err := inject.Hold(v.Pid, prog)
	if err != nil {
		t.Fatalf("Hold(%d): %v", v.Pid, err)
	}
	if err := s.Add(fd, v.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	return fd
}

func TestHoldInterruptedSleepResumes(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s := supervised(t, &allow)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			v := injecttest.Start(t, kind, 0)
			v.Send(t, "sleep 300")
			time.Sleep(150 * time.Millisecond) // well inside nanosleep
			hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID))
			ret, ms := split2(t, v.Reply(t))
			// The kernel restarts the sleep with the time left
			// (restart_syscall): neither cut short nor started over,
			// which would take 450 ms.
			if ret != 0 || ms < 300 || ms > 400 {
				t.Errorf("sleep 300 across Hold = %d after %d ms, want 0 after 300..400",
					ret, ms)
			}
			if got := v.Do(t, "getppid"); got != "-38" {
				t.Errorf("getppid denied = %s, want -38", got)
			}
		})
	}
}

func TestHoldInterruptedReadResumes(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s := supervised(t, &allow)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			v := injecttest.Start(t, kind, 0)
			v.Send(t, "read")
			time.Sleep(50 * time.Millisecond)
			hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID))
			if _, err := v.Feed.WriteString("hello"); err != nil {
				t.Fatal(err)
			}
			if got := v.Reply(t); got != "5 hello" {
				t.Errorf("read across Hold = %q, want \"5 hello\"", got)
			}
		})
	}
}

func TestHoldEveryThread(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s := supervised(t, &allow)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			const workers = 3
			v := injecttest.Start(t, kind, workers)
			tids := map[string]bool{}
			for i := range workers {
				tid, ret := split2(t, v.Do(t, fmt.Sprintf("t %d getppid", i)))
				if ret != int64(os.Getpid()) {
					t.Fatalf("worker %d getppid before = %d", i, ret)
				}
				tids[strconv.FormatInt(tid, 10)] = true
			}
			if len(tids) != workers {
				t.Fatalf("workers run on %d threads, want %d", len(tids), workers)
			}
			hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID))
			for i := range workers {
				_, ret := split2(t, v.Do(t, fmt.Sprintf("t %d getppid", i)))
				if ret != -38 {
					t.Errorf("worker %d getppid held = %d, want -38", i, ret)
				}
			}
			// A thread made after the hold inherits the filter.
			if got := v.Do(t, "thread"); got != "-38" {
				t.Errorf("new thread getppid = %s, want -38", got)
			}
			allow.Store(true)
			defer allow.Store(false)
			_, ret := split2(t, v.Do(t, "t 1 getppid"))
			if ret != int64(os.Getpid()) {
				t.Errorf("worker getppid allowed = %d, want %d", ret, os.Getpid())
			}
		})
	}
}

// TestHoldFilterNotifyingInjectedCalls: a program that notifies close and
// munmap, which the injector itself calls after loading it, still goes in:
// the injector lets its own calls through on the new listener.
func TestHoldFilterNotifyingInjectedCalls(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s := supervised(t, &allow)
	v := injecttest.Start(t, injecttest.C, 0)
	hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID, unix.SYS_CLOSE, unix.SYS_MUNMAP))
	if got := v.Do(t, "close"); got != "-38" {
		t.Errorf("close denied = %s, want -38", got)
	}
	allow.Store(true)
	if got := v.Do(t, "close"); got != "0" {
		t.Errorf("close allowed = %s, want 0", got)
	}
}

func TestSecondLayer(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s := supervised(t, &allow)
	v := injecttest.Start(t, injecttest.Go, 0)
	old := hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID))
	pid := strconv.Itoa(v.Pid)
	if got := v.Do(t, "getpid"); got != pid {
		t.Fatalf("getpid in layer 1 = %s, want %s", got, pid)
	}
	// Without closing the first listener the kernel refuses a second.
	_, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID, unix.SYS_GETPID))
	if !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second listener with the first open: %v, want EBUSY", err)
	}
	sess, err := inject.Seize(v.Pid)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sess.InstallWith(injecttest.Filter(unix.SYS_GETPPID, unix.SYS_GETPID),
		func() { s.Remove(old) })
	if err != nil {
		t.Fatalf("second layer: %v", err)
	}
	if err := s.Add(fd, v.Pid); err != nil {
		t.Fatal(err)
	}
	if got := v.Do(t, "getpid"); got != "-38" {
		t.Errorf("getpid denied in layer 2 = %s, want -38", got)
	}
	if got := v.Do(t, "getppid"); got != "-38" {
		t.Errorf("getppid denied in layer 2 = %s, want -38", got)
	}
	allow.Store(true)
	if got := v.Do(t, "getpid"); got != pid {
		t.Errorf("getpid allowed in layer 2 = %s, want %s", got, pid)
	}
	if got, want := v.Do(t, "getppid"), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("getppid allowed in layer 2 = %s, want %s", got, want)
	}
}

func TestSeizeRefuses(t *testing.T) {
	injecttest.RequireRoot(t)
	cases := []struct {
		name string
		pid  int
		want unix.Errno
	}{
		{"zero", 0, unix.EINVAL},
		{"self", os.Getpid(), unix.EINVAL},
		{"kthreadd", 2, unix.EINVAL},
		{"missing", 1 << 30, unix.ESRCH},
		{"zombie", zombie(t), unix.ESRCH},
	}
	cases = append(cases, struct {
		name string
		pid  int
		want unix.Errno
	}{"own thread", otherThread(t), unix.EINVAL})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := inject.Seize(c.pid)
			if err == nil {
				s.Detach()
			}
			if !errors.Is(err, c.want) {
				t.Errorf("Seize(%d) = %v, want %v", c.pid, err, c.want)
			}
		})
	}
}

// zombie starts a process that exits at once and is reaped only when the
// test ends, and returns its PID once it is a zombie.
func zombie(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Wait() })
	pid := cmd.Process.Pid
	var si unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	return pid
}

// otherThread returns the ID of a thread of this process that is not the
// main thread.
func otherThread(t *testing.T) int {
	t.Helper()
	tc, done := make(chan int), make(chan struct{})
	t.Cleanup(func() { close(done) })
	var run func()
	run = func() {
		// Locked until the test ends, so that the thread lives on; a
		// goroutine on the main thread starts one that cannot be there.
		runtime.LockOSThread()
		if unix.Gettid() == os.Getpid() {
			go run()
		} else {
			tc <- unix.Gettid()
		}
		<-done
		runtime.UnlockOSThread()
	}
	go run()
	return <-tc
}

// TestSeizeTraced: a process that a tracer already holds is refused with
// EBUSY, and left as it was.
func TestSeizeTraced(t *testing.T) {
	injecttest.RequireRoot(t)
	v := injecttest.Start(t, injecttest.C, 0)
	attached := make(chan error)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := unix.PtraceSeize(v.Pid)
		attached <- err
		<-release
		if err == nil {
			unix.PtraceInterrupt(v.Pid)
			var ws unix.WaitStatus
			unix.Wait4(v.Pid, &ws, unix.WALL, nil)
			unix.PtraceDetach(v.Pid)
		}
		close(attached)
	}()
	if err := <-attached; err != nil {
		t.Fatalf("test tracer: %v", err)
	}
	_, err := inject.Seize(v.Pid)
	close(release)
	<-attached
	if !errors.Is(err, unix.EBUSY) {
		t.Errorf("Seize of a traced process = %v, want EBUSY", err)
	}
	if got := v.Do(t, "getppid"); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("getppid after refused Seize = %s", got)
	}
}

// TestSeizeWaitsForOwnSession: a second session on a process that a
// session of this same process holds waits for the first to let it go
// (two growths, or a growth and the orphan search, can reach one child at
// once), rather than failing with EBUSY as for another tracer.
func TestSeizeWaitsForOwnSession(t *testing.T) {
	injecttest.RequireRoot(t)
	v := injecttest.Start(t, injecttest.C, 0)
	first, err := inject.Seize(v.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		s, err := inject.Seize(v.Pid)
		if err == nil {
			err = s.Detach()
		}
		second <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := first.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Errorf("Seize while another session of this process held the process "+
			"for 20 ms: %v, want it to wait", err)
	}
	if got := v.Do(t, "getppid"); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("getppid after both sessions = %s", got)
	}
}

func TestSeizeDetach(t *testing.T) {
	injecttest.RequireRoot(t)
	v := injecttest.Start(t, injecttest.Go, 2)
	v.Send(t, "sleep 200")
	time.Sleep(20 * time.Millisecond)
	s, err := inject.Seize(v.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Detach(); err != nil {
		t.Fatal(err)
	}
	if ret, ms := split2(t, v.Reply(t)); ret != 0 || ms < 200 {
		t.Errorf("sleep across Seize+Detach = %d after %d ms", ret, ms)
	}
	if _, err := s.Install(injecttest.Filter(unix.SYS_GETPPID)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Install after Detach = %v, want EINVAL", err)
	}
	if got := v.Do(t, "getppid"); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("getppid after Detach = %s", got)
	}
}

// split2 parses an answer of two integers.
func split2(t *testing.T, s string) (int64, int64) {
	t.Helper()
	var a, b int64
	if _, err := fmt.Sscan(s, &a, &b); err != nil {
		t.Fatalf("answer %q: %v", s, err)
	}
	return a, b
}

// TestTracerRewriteIsJudged: a held process traces its child (held too,
// forked after the hold) and rewrites the child's allowed getpid into the
// notified getppid at syscall entry. seccomp judges the call after the
// tracer's change, so the rewritten call is decided by the supervisor and
// a tracer cannot slip a notified call past it.
func TestTracerRewriteIsJudged(t *testing.T) {
	injecttest.RequireRoot(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the victim's tracer rewrites x86_64 registers only")
	}
	var allow atomic.Bool
	var from atomic.Int64
	s, err := supervise.New(func(n *supervise.Notif) bool {
		from.Store(int64(n.Pid))
		return allow.Load()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := injecttest.Start(t, injecttest.C, 0)
	hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID))
	rewrite := fmt.Sprintf("tracedcall %d %d", unix.SYS_GETPID, unix.SYS_GETPPID)
	child, ret := split2(t, v.Do(t, rewrite))
	if ret != -38 {
		t.Errorf("getpid rewritten to denied getppid = %d, want -38", ret)
	}
	if from.Load() != child {
		t.Errorf("notification from %d, want the traced child %d", from.Load(), child)
	}
	allow.Store(true)
	if _, ret := split2(t, v.Do(t, rewrite)); ret != int64(v.Pid) {
		t.Errorf("rewritten getppid allowed = %d, want %d", ret, v.Pid)
	}
	allow.Store(false)
	// The other way round the tracer only swaps a call for one the filter
	// allows: what runs is getpid, not the denied call.
	back := fmt.Sprintf("tracedcall %d %d", unix.SYS_GETPPID, unix.SYS_GETPID)
	if child, ret := split2(t, v.Do(t, back)); ret != child {
		t.Errorf("getppid rewritten to getpid = %d, want the child's pid %d", ret, child)
	}
}

// TestHoldReportsSubreaper: a hold tells whether the process was a child
// subreaper when its layer went in, which no file of /proc shows; the
// daemon judges the orphans given to one by every group its layer was
// placed in (helper-44). A second layer asks again.
func TestHoldReportsSubreaper(t *testing.T) {
	injecttest.RequireRoot(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			v := injecttest.Start(t, kind, 0)
			fd, sub, err := inject.HoldReport(v.Pid, injecttest.Filter(unix.SYS_UNAME), nil)
			if err != nil {
				t.Fatalf("HoldReport: %v", err)
			}
			if sub != 0 {
				t.Errorf("a process that is no subreaper: %d, want 0", sub)
			}
			if got := v.Do(t, "subreaper"); got != "0" {
				t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER, 1) = %s", got)
			}
			unix.Close(fd) // the kernel refuses a second listener while one is open
			s, err := inject.Seize(v.Pid)
			if err != nil {
				t.Fatalf("Seize: %v", err)
			}
			fd, err = s.Install(injecttest.Filter(unix.SYS_GETPPID))
			if err != nil {
				t.Fatalf("Install: %v", err)
			}
			defer unix.Close(fd)
			if got := s.Subreaper(); got != 1 {
				t.Errorf("a subreaper: %d, want 1", got)
			}
		})
	}
}
