package cgsyscall_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMountPointGroupHeld: with the mount point a group of the mirror (the
// /sys/fs/cgroup/syscalls layout), the mount covers that group, and root
// can still place processes in it (through a second cgroup2 mount, or a
// descriptor kept from before the mount, as here). They, and those of the
// groups below it, are judged as members of its parent: a deny there holds
// a member before it returns, the scan holds one that came in later within
// its bound, and an allow there gives the call back to both. Before,
// neither was ever held, and the deny reported success (helper-58, 3 of 3).
func TestMountPointGroupHeld(t *testing.T) {
	m := unmountedMirror(t)
	m.mnt = filepath.Join(m.base, "syscalls")
	if err := os.Mkdir(m.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	under, err := os.Open(m.mnt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { under.Close() })
	dir := fmt.Sprintf("/proc/self/fd/%d", under.Fd())
	// A chain of 40 groups below it (helper-60: a walk bounded at 32
	// levels left a member 33 levels below unheld).
	deep := filepath.Join(dir, "sub")
	for range 39 {
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the probes end
		for p := deep; p != dir; p = filepath.Dir(p) {
			os.Remove(p)
		}
	})
	persistRemount(t, m)
	if _, err := os.Stat(m.path("syscalls")); !os.IsNotExist(err) {
		t.Fatalf("the mount point shows in the mount: %v", err)
	}

	below := startServing(t, deep)
	m.mustWrite("syscalls.deny", "getppid")
	below.expect(true, "40 groups below the mount point's, after a deny on its parent")

	in := startServing(t, dir)
	time.Sleep(1500 * time.Millisecond) // the scan's bound is 1 s
	in.expect(true, "placed in the mount point's group behind the mount's back, after a scan")

	m.mustWrite("syscalls.allow", "getppid")
	in.expect(false, "in the mount point's group, after an allow on its parent")
	below.expect(false, "below the mount point's group, after an allow on its parent")

	// A restart: the first scan runs before the mount covers the group
	// again, and must not take it into the tree as a group of its own
	// (helper-60: its save then failed with EXDEV, and every later write
	// to its parent with EIO, 5 of 5).
	m.mustWrite("syscalls.deny", "getppid")
	killDaemon(t, m)
	persistRemount(t, m)
	in.expect(true, "in the mount point's group, after a restart")
	m.mustWrite("syscalls.deny", "acct")
	m.mustWrite("syscalls.allow", "getppid")
	in.expect(false, "in the mount point's group, after an allow on its parent since the restart")
	below.expect(false, "below the mount point's group, after an allow since the restart")
}

// TestGroupUnderOtherMount: another mirror's daemon mounted on a group of
// this mirror (g/mnt) covers that group's directory. A deny on g holds the
// group's own member (placed through a descriptor kept from before) and
// leaves the other mirror's member alone, and it is saved. Before, the
// group was read through the other mount: the other mirror's member was
// held for good, the group's own never, and the deny failed with EIO
// (helper-60 F5, 3 of 3).
func TestGroupUnderOtherMount(t *testing.T) {
	a := newMirror(t)
	a.mkdir("g")
	a.mkdir("g/mnt")
	under, err := os.Open(filepath.Join(a.base, "g", "mnt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { under.Close() })
	b := unmountedMirror(t)
	b.mnt = filepath.Join(a.base, "g", "mnt")
	persistRemount(t, b)
	other := startServing(t, b.base)
	own := startServing(t, fmt.Sprintf("/proc/self/fd/%d", under.Fd()))

	a.mustWrite("g/syscalls.deny", "getppid")
	own.expect(true, "in g/mnt under the other mount, after a deny on g")
	other.expect(false, "in the other mirror, after a deny on g of this one")
	time.Sleep(1500 * time.Millisecond) // a scan of each
	other.expect(false, "in the other mirror, after a scan")
	killDaemon(t, a)
	persistRemount(t, a)
	if got, want := a.read("g/mnt/syscalls.deny"), a.read("g/syscalls.deny"); got != want {
		t.Errorf("g/mnt/syscalls.deny after a restart: %q, want g's %q", got, want)
	}
	own.expect(true, "in g/mnt under the other mount, after a restart")
}
