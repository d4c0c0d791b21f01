package keeper

import (
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

const (
	enosys = "-38"
	ebusy  = "-16"
)

// TestKeeperLifecycle: while the daemon answers, calls run; once it says
// Bye, the keeper fails them with ENOSYS and the victim cannot load a
// listener of its own; a new daemon takes the listener back and answers
// again; once both are gone, the kernel fails the calls and the victim
// can load its own listener (the escape that the keeper closes).
func TestKeeperLifecycle(t *testing.T) {
	k := startKeeper(t, time.Minute)
	v := startVictim(t)
	fd := hold(t, v)
	c := k.connect(t)
	mark, err := c.Keep(fd, v.pid, v.start)
	if err != nil {
		t.Fatalf("Keep: %v", err)
	}
	a := answer(fd, mark)
	if got := v.do(t, "getppid"); got != ppid {
		t.Fatalf("getppid answered by the daemon = %s, want %s", got, ppid)
	}
	waitFor(t, "one listener kept", func() bool { return k.Stats().Kept == 1 })
	if st := k.Stats(); st.Answered != 0 {
		t.Errorf("Stats with the daemon answering = %+v, want 0 answered", st)
	}

	a.close(fd)
	c.Close()
	if got := v.do(t, "getppid"); got != enosys {
		t.Errorf("getppid with no daemon = %s, want %s", got, enosys)
	}
	if got := v.do(t, "listen"); got != ebusy {
		t.Errorf("the victim's own NEW_LISTENER filter with no daemon = %s, want %s", got, ebusy)
	}
	waitFor(t, "one answer counted", func() bool { return k.Stats().Answered == 1 })

	c2 := k.connect(t)
	ls, err := c2.Take()
	if err != nil || len(ls) != 1 {
		t.Fatalf("Take = %v, %v; want one listener", ls, err)
	}
	if ls[0].Pid != v.pid || ls[0].Start != v.start {
		t.Errorf("taken listener of %d (start %d), want %d (start %d)",
			ls[0].Pid, ls[0].Start, v.pid, v.start)
	}
	if again, err := c2.Take(); err != nil || len(again) != 0 {
		t.Errorf("second Take = %v, %v; want nothing", again, err)
	}
	// The new daemon's supervisor, as enforce/hold has it, answers.
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ls[0].Fd, ls[0].Pid); err != nil {
		t.Fatalf("supervisor Add of a taken listener: %v", err)
	}
	if got := v.do(t, "getppid"); got != ppid {
		t.Errorf("getppid answered by the new daemon = %s, want %s", got, ppid)
	}
	s.Close()
	c2.Close()
	k.stop()
	if got := v.do(t, "getppid"); got != enosys {
		t.Errorf("getppid with no keeper and no daemon = %s, want %s", got, enosys)
	}
	if got, _ := strconv.Atoi(v.do(t, "listen")); got < 0 {
		t.Errorf("own NEW_LISTENER filter with every listener closed = %d, want a descriptor",
			got)
	}
}

// TestDropThenNewLayer: a second NEW_LISTENER layer goes in once both the
// daemon and the keeper closed their copies, and not before.
func TestDropThenNewLayer(t *testing.T) {
	k := startKeeper(t, time.Minute)
	v := startVictim(t)
	fd := hold(t, v)
	c := k.connect(t)
	if _, err := c.Keep(fd, v.pid, v.start); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	unix.Close(fd)
	_, err := inject.Hold(v.pid, injecttest.Filter(unix.SYS_GETPPID))
	if !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("new layer while the keeper has a copy: %v, want EBUSY", err)
	}
	waitFor(t, "one listener kept", func() bool { return k.Stats().Kept == 1 })
	if err := c.Drop(v.pid, v.start); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if st := k.Stats(); st.Kept != 0 {
		t.Errorf("Stats after Drop = %+v, want 0 kept", st)
	}
	fd2, err := inject.Hold(v.pid, injecttest.Filter(unix.SYS_GETPPID))
	if err != nil {
		t.Fatalf("new layer after Drop: %v", err)
	}
	defer unix.Close(fd2)
	if err := c.Drop(v.pid, v.start); err != nil {
		t.Errorf("Drop of what is not kept: %v, want nil", err)
	}
}

// TestGoneClosesCopy: when the held process exits, the keeper closes its
// copy on its own.
func TestGoneClosesCopy(t *testing.T) {
	k := startKeeper(t, time.Minute)
	v := startVictim(t)
	fd := hold(t, v)
	defer unix.Close(fd)
	c := k.connect(t)
	if _, err := c.Keep(fd, v.pid, v.start); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	waitFor(t, "one listener kept", func() bool { return k.Stats().Kept == 1 })
	v.kill()
	waitFor(t, "the keeper closing the listener of an exited process", func() bool {
		st := k.Stats()
		return st.Kept == 0 && st.Gone == 1
	})
}

// TestKeepErrors: a descriptor that is no listener is refused, and so is
// a second listener for the same process.
func TestKeepErrors(t *testing.T) {
	k := startKeeper(t, time.Minute)
	c := k.connect(t)
	if _, err := c.Keep(0, 1, 1); err != syscall.EINVAL {
		t.Errorf("Keep of stdin = %v, want EINVAL", err)
	}
	v := startVictim(t)
	fd := hold(t, v)
	defer unix.Close(fd)
	if _, err := c.Keep(fd, v.pid, v.start); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	if _, err := c.Keep(fd, v.pid, v.start); err != syscall.EEXIST {
		t.Errorf("second Keep = %v, want EEXIST", err)
	}
	waitFor(t, "one listener kept", func() bool { return k.Stats().Kept == 1 })
}

// TestOneDaemon: a second daemon is refused while one is connected, and
// a held process is refused always, also with no daemon connected: it
// cannot take its own listener back.
func TestOneDaemon(t *testing.T) {
	k := startKeeper(t, time.Minute)
	c := k.connect(t)
	if _, err := Connect(k.mirror, ClientOptions{Dir: k.dir, NoSpawn: true}); err != syscall.EBUSY {
		t.Errorf("second daemon: %v, want EBUSY", err)
	}
	v := startVictim(t)
	fd := hold(t, v)
	defer unix.Close(fd)
	if _, err := c.Keep(fd, v.pid, v.start); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	c.Close()
	before := k.Stats().Refused
	eperm := strconv.Itoa(int(syscall.EPERM))
	if got := v.do(t, "take "+k.dir+" "+k.mirror); got != eperm {
		t.Errorf("a held process connecting: errno %s, want %s (EPERM)", got, eperm)
	}
	if st := k.Stats(); st.Refused != before+1 || st.Kept != 1 {
		t.Errorf("Stats = %+v, want %d refused, 1 kept", st, before+1)
	}
}

// TestIdleExit: a keeper with nothing kept and no daemon exits after its
// idle time, and not while a daemon is connected.
func TestIdleExit(t *testing.T) {
	k := startKeeper(t, 300*time.Millisecond)
	c := k.connect(t)
	select {
	case err := <-k.ran:
		t.Fatalf("keeper exited (%v) while a daemon was connected", err)
	case <-time.After(600 * time.Millisecond):
	}
	c.Close()
	select {
	case err := <-k.ran:
		k.ran = nil
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("idle keeper still running 3 s after the daemon left")
	}
	if err := unix.Stat(k.Path(), &unix.Stat_t{}); err != unix.ENOENT {
		t.Errorf("socket of an exited keeper: %v, want ENOENT", err)
	}
}

// TestKeepRefused: a keeper that has another listener for the same
// process refuses a Keep; the Client hears of it later and forgets it.
func TestKeepRefused(t *testing.T) {
	k := startKeeper(t, time.Minute)
	v, w := startVictim(t), startVictim(t)
	fv, fw := hold(t, v), hold(t, w)
	defer unix.Close(fv)
	defer unix.Close(fw)
	c := k.connect(t)
	if _, err := c.Keep(fv, v.pid, v.start); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	c.Close()
	c2 := k.connect(t)
	if _, err := c2.Keep(fw, v.pid, v.start); err != nil {
		t.Fatalf("Keep of another listener for the same process: %v, want nil (refused later)",
			err)
	}
	if err := c2.Drop(w.pid, w.start); err != nil { // a round trip: the refusal is in
		t.Fatalf("Drop: %v", err)
	}
	c2.mu.Lock()
	left := len(c2.kept)
	c2.mu.Unlock()
	if st := k.Stats(); left != 0 || st.Kept != 1 {
		t.Errorf("after the refusal: the client keeps %d, the keeper %+v; want 0 and 1",
			left, st)
	}
}

// TestReconnect: when its keeper goes, a Client sends a new keeper every
// listener it keeps, and the drops that it could not send meanwhile.
func TestReconnect(t *testing.T) {
	k := startKeeper(t, time.Minute)
	v, w := startVictim(t), startVictim(t)
	fv, fw := hold(t, v), hold(t, w)
	defer unix.Close(fv)
	defer unix.Close(fw)
	c := k.connect(t)
	for _, x := range []struct {
		fd int
		v  *victim
	}{{fv, v}, {fw, w}} {
		if _, err := c.Keep(x.fd, x.v.pid, x.v.start); err != nil {
			t.Fatalf("Keep: %v", err)
		}
	}
	waitFor(t, "two listeners kept", func() bool { return k.Stats().Kept == 2 })
	k.stop()
	waitFor(t, "the client seeing its keeper gone", func() bool { return c.KeeperPid() == 0 })
	// The keeper is this very process, which lives: the drop must wait.
	if err := c.Drop(w.pid, w.start); err != syscall.ENOTCONN {
		t.Errorf("Drop with no keeper reachable: %v, want ENOTCONN", err)
	}
	k2 := startKeeperIn(t, k.dir, time.Minute)
	waitFor(t, "the client connecting to the new keeper", func() bool {
		return c.KeeperPid() != 0
	})
	if err := c.Drop(0, 0); err != nil { // a round trip: the resent ones are in
		t.Fatalf("Drop: %v", err)
	}
	if st := k2.Stats(); st.Kept != 1 {
		t.Errorf("new keeper's Stats = %+v, want 1 kept (v's sent again, w's dropped)", st)
	}
}

// TestFilteredThreadAdmitted: a daemon whose main thread runs under a
// filter (enforce/kernel's probe may leave one there) is admitted; a held
// process, all of whose threads have the layer, is not (TestOneDaemon).
func TestFilteredThreadAdmitted(t *testing.T) {
	k := startKeeper(t, time.Minute)
	v := startVictim(t) // not held
	if got, _ := strconv.Atoi(v.do(t, "listen")); got < 0 {
		t.Fatalf("filter on the main thread: %d", got)
	}
	if got := v.do(t, "take "+k.dir+" "+k.mirror); got != "0" {
		t.Errorf("a process with one filtered thread connecting: errno %s, want 0", got)
	}
}
