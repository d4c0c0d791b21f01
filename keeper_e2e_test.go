package cgsyscall_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// oneKeeper returns the PID of the one keeper of m's mirror.
func oneKeeper(t *testing.T, m *mirror) int {
	t.Helper()
	var pids []int
	for i := 0; i < 300; i++ {
		if pids = keeperPIDs(m.base); len(pids) == 1 {
			return pids[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("keepers of %s: %v, want exactly one", m.base, pids)
	return 0
}

// TestKeeperDaemonDeath: while no daemon runs, a held process cannot load
// a listener of its own (EBUSY: the keeper keeps a copy of its listener)
// and its notified calls fail with ENOSYS; a new daemon takes the listener
// back from the keeper, injecting nothing, and decides the process live.
// The keeper itself can never be held.
func TestKeeperDaemonDeath(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	s.expect(true, "held in g")
	if got := s.call("newlistener")["newlistener"]; got != "-16" {
		t.Fatalf("newlistener of a held process while its daemon runs = %s, want -16", got)
	}
	keeper := oneKeeper(t, m)
	err := m.write("g/tasks", strconv.Itoa(keeper))
	if err == nil || !strings.Contains(err.Error(), "Invalid argument") {
		t.Errorf("moving the keeper (PID %d) into g: %v, want Invalid argument", keeper, err)
	}
	filters := seccompFilters(t, s.pid)

	killDaemon(t, m)
	expectDead(s)
	if got := s.call("newlistener")["newlistener"]; got != "-16" {
		t.Fatalf("newlistener of a held process with no daemon = %s, want -16 (EBUSY)", got)
	}
	expectDead(s)

	persistRemount(t, m)
	if k := oneKeeper(t, m); k != keeper {
		t.Errorf("keeper after the restart: PID %d, want the same %d", k, keeper)
	}
	s.expect(true, "held again by the new daemon")
	if got := seccompFilters(t, s.pid); got != filters {
		t.Errorf("Seccomp_filters after the restart = %d, want %d (no new layer)", got, filters)
	}
	log, err := os.ReadFile(m.log)
	if err != nil {
		t.Fatal(err)
	}
	want := "held again: listener taken from the keeper, no layer injected"
	found := false
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, want) && strings.Contains(l, " pid="+strconv.Itoa(s.pid)) {
			found = true
			// Where it was placed and where it is now, named apart.
			if !strings.Contains(l, " placed=/g") || !strings.Contains(l, " group=/g") {
				t.Errorf("the line for PID %d: %s, want placed=/g and group=/g", s.pid, l)
			}
		}
	}
	if !found {
		t.Errorf("daemon log lacks %q for PID %d", want, s.pid)
	}
	m.mustWrite("g/syscalls.allow", "getppid")
	s.expect(false, "getppid allowed by the new daemon")
	m.mustWrite("g/syscalls.deny", "getppid")
	s.expect(true, "getppid denied again by the new daemon")
	if got := s.call("newlistener")["newlistener"]; got != "-16" {
		t.Errorf("newlistener after the restart = %s, want -16", got)
	}

	// A number the taken layer does not notify: the layer grows (the
	// keeper drops the old listener first), and the keeper keeps the new
	// one, which a second death shows.
	m.mustWrite("g/syscalls.deny", "uname")
	if got := s.call("uname")["uname"]; got != "-38" {
		t.Fatalf("uname after its deny = %s, want -38", got)
	}
	if got := seccompFilters(t, s.pid); got != filters+1 {
		t.Errorf("Seccomp_filters after the growth = %d, want %d", got, filters+1)
	}
	killDaemon(t, m)
	got := s.call("getppid", "uname", "getpid", "newlistener")
	after := map[string]string{"getppid": "-38", "uname": "-38",
		"getpid": strconv.Itoa(s.pid), "newlistener": "-16"}
	for tok, w := range after {
		if got[tok] != w {
			t.Errorf("after the second death, with the grown layer: %s = %s, want %s", tok,
				got[tok], w)
		}
	}
}

// TestKeeperRestartedLeavesMountToDaemon: a keeper that the daemon starts
// again (its first one was killed) holds no descriptor of the FUSE
// connection, so once the daemon dies the mount fails at once with
// ENOTCONN (or ECONNABORTED). Before, go-fuse's /dev/fuse descriptor went to that keeper
// across its exec, and every access to the dead mount hung.
func TestKeeperRestartedLeavesMountToDaemon(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	s.expect(true, "held in g")
	first := oneKeeper(t, m)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var second int
	for i := 0; second == 0; i++ {
		if pids := keeperPIDs(m.base); len(pids) == 1 && pids[0] != first {
			second = pids[0]
		} else if i == 500 {
			t.Fatalf("keepers of %s 5 s after killing PID %d: %v, want one new", m.base,
				first, pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", second))
	for _, fd := range fds {
		if target, _ := os.Readlink(fd); target == "/dev/fuse" {
			t.Errorf("the keeper started again (PID %d) has %s open on /dev/fuse", second, fd)
		}
	}

	killDaemonOnly(t, m)
	t.Cleanup(func() { exec.Command("umount", "-l", m.mnt).Run() })
	stat := make(chan error, 1)
	go func() {
		_, err := os.Stat(filepath.Join(m.mnt, "g"))
		stat <- err
	}()
	select {
	case err := <-stat:
		// ECONNABORTED when the request went out before the daemon's
		// last thread closed the connection (its main thread can be a
		// zombie first).
		if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
			t.Errorf("stat in the dead mount: %v, want ENOTCONN or ECONNABORTED", err)
		}
	case <-time.After(5 * time.Second):
		// The stat ends when the cleanup ends the keeper.
		t.Errorf("stat in the dead mount still blocked 5 s after the daemon died")
	}
	expectDead(s)
}

// TestRestartedLayerNotForged: a held process loads a filter of its own
// above its layer that hands calls on, with no listener; the daemon
// restarts and takes the layer back from the keeper. A second process
// that loads the same bytes with a listener of its own, and answers its
// own calls, is then refused (EBUSY) when moved into the group, not
// adopted as carrying the layer: the restarted daemon finds the layer in
// the chain by its tag (adversary helper-20: it took the newest filter
// that hands calls on for the layer, and the second process escaped, 5 of
// 5).
func TestRestartedLayerNotForged(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	p := startServing(t, m.base)
	moveTo(m, "g", p.pid)
	if got := p.call("getppid", "notifygetppid", "getppid"); got["getppid"] != "-38" ||
		got["notifygetppid"] != "0" {
		t.Fatalf("held in g, loading a filter of its own: %v, want getppid -38, "+
			"notifygetppid 0", got)
	}
	killDaemon(t, m)
	persistRemount(t, m)
	if got := p.call("getppid")["getppid"]; got != "-38" {
		t.Fatalf("getppid of the held process after the restart: %s, want -38", got)
	}

	x := startServing(t, m.base)
	ppid := strconv.Itoa(os.Getpid())
	got := x.call("answergetppid", "getppid")
	if fd, err := strconv.Atoi(got["answergetppid"]); err != nil || fd < 0 ||
		got["getppid"] != ppid {
		t.Fatalf("a listener of its own: %v, want a descriptor and getppid %s", got, ppid)
	}
	err := m.write("g/tasks", strconv.Itoa(x.pid))
	if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
		t.Errorf("moving a process with the same filter and a listener of its own into g: "+
			"%v, want EBUSY", err)
	}
	procs, err := os.ReadFile(filepath.Join(m.base, "g", "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(x.pid)+"\n") {
		t.Errorf("PID %d is in g: it answers its own getppid (%s)", x.pid,
			x.call("getppid")["getppid"])
	}
}
