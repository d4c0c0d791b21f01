package inject_test

import (
	"os"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// TestGrowLayers checks the kernel facts that growing a held process's
// layer rests on. Once the first listener is closed a new layer with a
// listener of its own goes in; the newest filter's notification is the
// one delivered, so its listener decides every number it notifies, and
// CONTINUE lets the call run. A number that only the older layer notifies
// fails with ENOSYS (its listener is closed), which is why a new layer
// must notify a superset of the older ones. Filters lists the chain,
// oldest first.
func TestGrowLayers(t *testing.T) {
	injecttest.RequireRoot(t)
	var allow atomic.Bool
	allow.Store(true)
	s := supervised(t, &allow)
	v := injecttest.Start(t, injecttest.C, 0)
	pid, ppid := strconv.Itoa(v.Pid), strconv.Itoa(os.Getpid())
	a := injecttest.Filter(unix.SYS_GETPPID)
	b := injecttest.Filter(unix.SYS_GETPID)
	c := injecttest.Filter(unix.SYS_GETPPID, unix.SYS_GETPID)
	grow := func(prog []unix.SockFilter, old int) int {
		t.Helper()
		sess, err := inject.Seize(v.Pid)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := sess.InstallWith(prog, func() { s.Remove(old) })
		if err != nil {
			t.Fatalf("new layer: %v", err)
		}
		if err := s.Add(fd, v.Pid); err != nil {
			t.Fatal(err)
		}
		return fd
	}
	check := func(when, wantPpid, wantPid string) {
		t.Helper()
		if got := v.Do(t, "getppid"); got != wantPpid {
			t.Errorf("%s: getppid = %s, want %s", when, got, wantPpid)
		}
		if got := v.Do(t, "getpid"); got != wantPid {
			t.Errorf("%s: getpid = %s, want %s", when, got, wantPid)
		}
	}
	la := hold(t, s, v, a)
	check("layer A {getppid}", ppid, pid)
	lb := grow(b, la)
	check("A closed, B {getpid}", "-38", pid)
	grow(c, lb)
	check("A and B closed, C {getppid, getpid}", ppid, pid)

	sess, err := inject.Seize(v.Pid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sess.Filters()
	sess.Detach()
	if err != nil {
		t.Fatalf("Filters: %v", err)
	}
	if want := [][]unix.SockFilter{a, b, c}; !reflect.DeepEqual(got, want) {
		t.Errorf("Filters = %v, want A, B, C: %v", got, want)
	}
	check("after Filters and Detach", ppid, pid)
}
