package cgsyscall_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDeepGroupBehindTheBack (helper-25, F3): a chain of groups made
// behind the mount's back below a restricted group, deeper than PATH_MAX
// (20 levels of 250-byte names), with a running process placed at its
// bottom through the real cgroup.procs. A deny to the top group holds it
// before the write returns, and writes to that group keep working: the
// daemon read the deep groups by their full paths, so the member was
// never held (its getppid answered) and every write to the group failed
// with ENAMETOOLONG. Its calls that the layer hands on fail with ENOSYS
// whatever the group allows: the kernel does not print a cgroup path that
// long in /proc/PID/cgroup, so the daemon cannot tell its group and fails
// closed.
func TestDeepGroupBehindTheBack(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	top, err := unix.Open(filepath.Join(m.base, "g"),
		unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 250)
	fds := []int{top}
	// Removed after the probe is gone (cleanups run last first).
	t.Cleanup(func() {
		for i := len(fds) - 1; i >= 1; i-- {
			for try := 0; unix.Unlinkat(fds[i-1], name, unix.AT_REMOVEDIR) == unix.EBUSY &&
				try < 50; try++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	for range 20 {
		last := fds[len(fds)-1]
		if err := unix.Mkdirat(last, name, 0o755); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Openat(last, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	p := startServing(t, "/proc/self/fd/"+strconv.Itoa(fds[len(fds)-1]))
	if err := m.write("g/syscalls.deny", "uname"); err != nil {
		t.Fatalf("deny uname to g: %v, want success", err)
	}
	got := p.call("getppid", "uname", "getpid")
	want := map[string]string{"getppid": "-38", "uname": "-38", "getpid": strconv.Itoa(p.pid)}
	for tok, w := range want {
		if got[tok] != w {
			t.Errorf("the deep member after the deny: %s = %s, want %s", tok, got[tok], w)
		}
	}
	if err := m.write("g/syscalls.allow", "uname"); err != nil {
		t.Fatalf("allow uname to g: %v, want success", err)
	}
	if got := m.read("g/syscalls.deny"); strings.Contains(got, "uname") {
		t.Errorf("g/syscalls.deny after the allow: %q", got)
	}
	// Failing closed: the layer hands uname on since the deny, and the
	// daemon cannot read the member's group (README).
	if got := p.call("getppid", "uname"); got["getppid"] != "-38" || got["uname"] != "-38" {
		t.Errorf("the deep member after the allow of uname: %v, want both -38", got)
	}
}
