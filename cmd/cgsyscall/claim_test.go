package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestClaimMeets: claims of the same groups meet on the directories, also
// through a bind mount of a group below a claimed one (the walk up goes on
// through the cgroup2 mount past the bind mount's root), and not for
// siblings; a released claim frees them.
func TestClaimMeets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes cgroups and a bind mount")
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var root string
	for _, m := range parseMountinfo(string(data)) {
		if m.fstype == "cgroup2" && m.root == "/" {
			root = m.point
			break
		}
	}
	if root == "" {
		t.Skip("no cgroup2 mount")
	}
	base, err := os.MkdirTemp(root, "cgsyscall-test-")
	if err != nil {
		t.Skip("cannot make a cgroup: ", err)
	}
	for _, d := range []string{"q", "q/c", "r"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{"q/c", "q", "r", ""} {
			os.Remove(filepath.Join(base, d))
		}
	})
	bind := t.TempDir()
	if err := syscall.Mount(filepath.Join(base, "q", "c"), bind, "", syscall.MS_BIND,
		""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(bind, syscall.MNT_DETACH) })

	q, err := claimMirror(filepath.Join(base, "q"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(base, "q"), filepath.Join(base, "q", "c"), bind,
		base} {
		if c, err := claimMirror(dir); err == nil || !strings.Contains(err.Error(),
			"overlaps a directory that another daemon mirrors") {
			t.Errorf("claim of %s beside q's: %v, want it refused", dir, err)
			if c != nil {
				c.release()
			}
		}
	}
	r, err := claimMirror(filepath.Join(base, "r"))
	if err != nil {
		t.Errorf("claim of q's sibling r: %v, want it taken", err)
	} else {
		r.release()
	}
	q.release()
	c, err := claimMirror(bind)
	if err != nil {
		t.Fatalf("claim through the bind mount once q's is released: %v", err)
	}
	c.release()
}
