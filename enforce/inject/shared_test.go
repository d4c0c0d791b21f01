package inject_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// startSharer has the C victim v start a process that shares its file
// table and looks for a seccomp listener in it, and waits until that
// process has looked a few times.
func startSharer(t *testing.T, v *injecttest.Victim) int {
	t.Helper()
	pid, err := strconv.Atoi(v.Do(t, "share"))
	if err != nil || pid <= 0 {
		t.Fatalf("share: %v", err)
	}
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	for i := 0; ; i++ {
		if passes, _ := seen(t, v); passes > 10 {
			return pid
		}
		if i == 100 {
			t.Fatal("the sharer does not run")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seen returns the sharer's passes over the table and how many found a
// listener there.
func seen(t *testing.T, v *injecttest.Victim) (int, int) {
	t.Helper()
	var passes, found int
	if _, err := fmt.Sscan(v.Do(t, "seen"), &passes, &found); err != nil {
		t.Fatal(err)
	}
	return passes, found
}

// TestSharedFileTable: a process whose file table another process shares
// (clone with CLONE_FILES) is held, and the listener never appears in that
// table: it is made in a helper thread with a table of its own (Linux 6.9).
func TestSharedFileTable(t *testing.T) {
	injecttest.RequireRoot(t)
	if !kernel.PidfdThread.Have() {
		t.Skip("no thread pidfds (Linux 6.9): TestSharedFileTableRefused covers the fallback")
	}
	var allow atomic.Bool
	s := supervised(t, &allow)
	v := injecttest.Start(t, injecttest.C, 0)
	startSharer(t, v)
	before := fdLinks(t, v.Pid)
	for i := 0; i < 20; i++ {
		fd := hold(t, s, v, injecttest.Filter(unix.SYS_GETPPID))
		if got := v.Do(t, "getppid"); got != "-38" {
			t.Fatalf("hold %d: getppid = %s, want -38", i, got)
		}
		s.Remove(fd) // for the next round's listener
	}
	if passes, found := seen(t, v); found != 0 {
		t.Errorf("the sharer found a listener in the shared table in %d of %d passes",
			found, passes)
	}
	if after := fdLinks(t, v.Pid); after != before {
		t.Errorf("descriptors after 20 holds:\n%s\nbefore:\n%s", after, before)
	}
	if n := strings.Count(fdLinks(t, v.Pid), "\n"); n == 0 {
		t.Fatal("no descriptors read")
	}
}

// TestSharedFileTableRefused: without thread pidfds the listener passes
// through the tracee's own table, so a process that shares it with
// another is refused with EBUSY, and nothing is loaded.
func TestSharedFileTableRefused(t *testing.T) {
	injecttest.RequireRoot(t)
	defer kernel.PidfdThread.Disable()()
	v := injecttest.Start(t, injecttest.C, 0)
	other := startSharer(t, v)
	_, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
	var e *inject.Error
	if !errors.Is(err, unix.EBUSY) || !errors.As(err, &e) || e.Op != "files" ||
		e.Other != other {
		t.Fatalf("Hold of a process sharing its file table with %d: %v, want EBUSY (files)",
			other, err)
	}
	if got := v.Do(t, "getppid"); got == "-38" {
		t.Errorf("getppid after the refused hold = %s, want a PID", got)
	}
}

// fdLinks lists the descriptors of process pid with what they refer to.
func fdLinks(t *testing.T, pid int) string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	var b strings.Builder
	for fd := 0; fd < 64; fd++ {
		l, err := readlink(fmt.Sprintf("%s/%d", dir, fd))
		if err == nil {
			fmt.Fprintf(&b, "%d %s\n", fd, l)
		}
	}
	return b.String()
}

func readlink(path string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Readlink(path, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
