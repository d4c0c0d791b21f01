package supervise_test

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

func TestMain(m *testing.M) {
	code := m.Run()
	injecttest.Cleanup()
	os.Exit(code)
}

// held starts a victim of kind held to a filter that notifies getppid,
// with its listener in s.
func held(t testing.TB, s *supervise.Supervisor, kind string) *injecttest.Victim {
	t.Helper()
	v := injecttest.Start(t, kind, 0)
	fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if err := s.Add(fd, v.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	return v
}

func TestDecisionFlipsLive(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	var last atomic.Value
	s, err := supervise.New(func(n *supervise.Notif) bool {
		last.Store(*n)
		return allow.Load()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ppid := strconv.Itoa(os.Getpid())
	for _, kind := range []string{injecttest.C, injecttest.Go} {
		t.Run(kind, func(t *testing.T) {
			v := held(t, s, kind)
			allow.Store(false)
			if got := v.Do(t, "getppid"); got != "-38" {
				t.Errorf("denied getppid = %s, want -38", got)
			}
			n := last.Load().(supervise.Notif)
			if n.Nr != unix.SYS_GETPPID || n.Pid != v.Pid || n.Holder != v.Pid {
				t.Errorf("notification %+v: want Nr %d, Pid and Holder %d",
					n, unix.SYS_GETPPID, v.Pid)
			}
			allow.Store(true)
			if got := v.Do(t, "getppid"); got != ppid {
				t.Errorf("allowed getppid = %s, want %s", got, ppid)
			}
			allow.Store(false)
			if got := v.Do(t, "getppid"); got != "-38" {
				t.Errorf("denied again getppid = %s, want -38", got)
			}
		})
	}
	st := s.Stats()
	if st.Notifications != 6 || st.Allowed != 2 || st.Denied != 4 {
		t.Errorf("Stats = %+v, want 6 notifications, 2 allowed, 4 denied", st)
	}
	if runtimeHasSyncWake() && !s.SyncWakeUp() {
		t.Errorf("SyncWakeUp false on a kernel that has it")
	}
}

func TestCloseFailsClosed(t *testing.T) {
	injecttest.RequireRoot(t)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	v := held(t, s, injecttest.C)
	ppid := strconv.Itoa(os.Getpid())
	if got := v.Do(t, "getppid"); got != ppid {
		t.Fatalf("allowed getppid = %s, want %s", got, ppid)
	}
	s.Close()
	if got := v.Do(t, "getppid"); got != "-38" {
		t.Errorf("getppid after Close = %s, want -38", got)
	}
	if got := v.Do(t, "getpid"); got != strconv.Itoa(v.Pid) {
		t.Errorf("getpid (allowed by the filter) after Close = %s", got)
	}
	dup, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(dup, 1); err != unix.EBADF {
		t.Errorf("Add after Close = %v, want EBADF", err)
	}
	if _, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("Add after Close left its descriptor open")
	}
}

// TestRemoveWhileWaiting: Remove waits for an answer in progress, and
// later calls of the removed listener's filter fail with ENOSYS.
func TestRemoveWhileWaiting(t *testing.T) {
	injecttest.RequireRoot(t)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s, err := supervise.New(func(*supervise.Notif) bool {
		entered <- struct{}{}
		<-release
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := injecttest.Start(t, injecttest.C, 0)
	fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(fd, v.Pid); err != nil {
		t.Fatal(err)
	}
	v.Send(t, "getppid")
	<-entered
	done := make(chan struct{})
	go func() { s.Remove(fd); close(done) }()
	time.Sleep(20 * time.Millisecond)
	close(release) // the answer goes out before Remove closes
	<-done
	if got := v.Reply(t); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("answered getppid = %s", got)
	}
	if got := v.Do(t, "getppid"); got != "-38" {
		t.Errorf("getppid after Remove = %s, want -38", got)
	}
}

func TestOnGone(t *testing.T) {
	injecttest.RequireRoot(t)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type gone struct{ fd, pid int }
	got := make(chan gone, 1)
	s.OnGone(func(fd, pid int) { got <- gone{fd, pid} })
	v := injecttest.Start(t, injecttest.Go, 0)
	fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(fd, v.Pid); err != nil {
		t.Fatal(err)
	}
	v.Kill()
	select {
	case g := <-got:
		if g.fd != fd || g.pid != v.Pid {
			t.Errorf("OnGone(%d, %d), want (%d, %d)", g.fd, g.pid, fd, v.Pid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnGone not called within 5s of the victim's death")
	}
}

// runtimeHasSyncWake reports whether the running kernel is 6.6 or later,
// where SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP exists.
func runtimeHasSyncWake() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major > 6 || major == 6 && minor >= 6
}

// TestManyListeners: several held processes make notified calls at once;
// every call is answered, by the right decision, and counted.
func TestManyListeners(t *testing.T) {
	injecttest.RequireRoot(t)
	var denied atomic.Int64
	s, err := supervise.New(func(n *supervise.Notif) bool {
		return int64(n.Holder) != denied.Load()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const procs, calls = 4, 3000
	vs := make([]*injecttest.Victim, procs)
	for i := range vs {
		kind := injecttest.C
		if i%2 == 1 {
			kind = injecttest.Go
		}
		vs[i] = held(t, s, kind)
	}
	denied.Store(int64(vs[0].Pid))
	for _, v := range vs {
		v.Send(t, fmt.Sprintf("loop %d", calls))
	}
	// A minute: the test is about answers, not speed, and under qemu a call
	// served outside a hot stay (on two CPUs one listener at a time has one) takes
	// milliseconds.
	for i, v := range vs {
		var ret, ns int64
		fmt.Sscan(v.ReplyWithin(t, time.Minute), &ret, &ns)
		want := int64(os.Getpid())
		if i == 0 {
			want = -38
		}
		if ret != want {
			t.Errorf("victim %d: last getppid of %d = %d, want %d", i, calls, ret, want)
		}
	}
	st := s.Stats()
	if st.Notifications < procs*calls || st.Denied < calls {
		t.Errorf("Stats = %+v, want at least %d notifications, %d denied",
			st, procs*calls, calls)
	}
}

// TestListen: a listener added with Listen is removed by its own function
// alone, which a reused descriptor number cannot confuse; its own onGone
// runs, not the OnGone hook, when its process exits.
func TestListen(t *testing.T) {
	injecttest.RequireRoot(t)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.OnGone(func(fd, pid int) { t.Errorf("OnGone(%d, %d) called for a Listen listener", fd, pid) })
	listen := func(v *injecttest.Victim, onGone func()) func() {
		t.Helper()
		fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
		if err != nil {
			t.Fatal(err)
		}
		remove, err := s.Listen(fd, v.Pid, onGone)
		if err != nil {
			t.Fatal(err)
		}
		return remove
	}
	a := injecttest.Start(t, injecttest.C, 0)
	gone := make(chan struct{})
	listen(a, func() { close(gone) })
	b := injecttest.Start(t, injecttest.C, 0)
	removeB := listen(b, nil)
	ppid := strconv.Itoa(os.Getpid())
	if got := b.Do(t, "getppid"); got != ppid {
		t.Fatalf("getppid of b = %s, want %s", got, ppid)
	}
	a.Kill()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("onGone not called within 5s of the victim's death")
	}
	removeB()
	removeB()
	if got := b.Do(t, "getppid"); got != "-38" {
		t.Errorf("getppid of b after its remove = %s, want -38", got)
	}
	// A third listener, likely under a's or b's old descriptor number, is
	// untouched by the earlier remove functions.
	c := injecttest.Start(t, injecttest.C, 0)
	listen(c, nil)
	removeB()
	if got := c.Do(t, "getppid"); got != ppid {
		t.Errorf("getppid of c = %s, want %s", got, ppid)
	}
}

// TestOnDenied: the hook hears of each ENOSYS answer once, delivered, with
// the notification's caller and number; allowed calls are not reported.
func TestOnDenied(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	s, err := supervise.New(func(*supervise.Notif) bool { return allow.Load() })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type denial struct {
		pid, nr   int
		delivered bool
	}
	got := make(chan denial, 10)
	s.OnDenied(func(n supervise.Notif, delivered bool) {
		got <- denial{n.Holder, n.Nr, delivered}
	})
	v := held(t, s, injecttest.C)
	for i := 0; i < 3; i++ {
		if r := v.Do(t, "getppid"); r != "-38" {
			t.Fatalf("denied getppid = %s, want -38", r)
		}
	}
	allow.Store(true)
	v.Do(t, "getppid")
	want := denial{v.Pid, unix.SYS_GETPPID, true}
	for i := 0; i < 3; i++ {
		if d := <-got; d != want {
			t.Fatalf("denial %d reported as %+v, want %+v", i+1, d, want)
		}
	}
	select {
	case d := <-got:
		t.Fatalf("an allowed call was reported as denied: %+v", d)
	case <-time.After(100 * time.Millisecond):
	}
}

// marks records the IDs a listener's Mark is told.
type marks struct {
	mu  sync.Mutex
	ids []uint64
}

func (m *marks) Received(id uint64) {
	m.mu.Lock()
	m.ids = append(m.ids, id)
	m.mu.Unlock()
}

// TestListenMarked: the Mark of a listener hears the ID of every
// notification received on it before the call is decided; the Decider sees
// the same ID.
func TestListenMarked(t *testing.T) {
	injecttest.RequireRoot(t)
	mk := &marks{}
	var decided []uint64
	var dmu sync.Mutex
	s, err := supervise.New(func(n *supervise.Notif) bool {
		mk.mu.Lock()
		seen := len(mk.ids) > 0 && mk.ids[len(mk.ids)-1] == n.ID
		mk.mu.Unlock()
		if !seen {
			t.Errorf("notification %d decided before its mark", n.ID)
		}
		dmu.Lock()
		decided = append(decided, n.ID)
		dmu.Unlock()
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := injecttest.Start(t, injecttest.C, 0)
	fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListenMarked(fd, v.Pid, mk, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if got := v.Do(t, "getppid"); got != "-38" {
			t.Fatalf("getppid %d = %s, want -38", i, got)
		}
	}
	mk.mu.Lock()
	ids := append([]uint64(nil), mk.ids...)
	mk.mu.Unlock()
	dmu.Lock()
	defer dmu.Unlock()
	if len(ids) != 3 || fmt.Sprint(ids) != fmt.Sprint(decided) {
		t.Errorf("marks %v, decided %v: want the same 3 IDs", ids, decided)
	}
}
