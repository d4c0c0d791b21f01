package fs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMountPointGroup: the mount, the store and the holder must name the
// same group for a mount point inside the mirror, however the paths are
// spelled, also where the mount point itself cannot be resolved.
func TestMountPointGroup(t *testing.T) {
	top := t.TempDir()
	mirror := filepath.Join(top, "mirror")
	for _, d := range []string{"mirror/a/syscalls", "other"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(mirror, "a"), filepath.Join(top, "link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mountpoint string
		group      string
		ok         bool
	}{
		{filepath.Join(mirror, "a/syscalls"), "a/syscalls", true},
		{filepath.Join(mirror, "a/../a/syscalls/"), "a/syscalls", true},
		{filepath.Join(top, "link/syscalls"), "a/syscalls", true},
		{filepath.Join(top, "link"), "a", true},
		// Not there (as a dead mount answers ENOTCONN): its directory tells.
		{filepath.Join(top, "link/gone"), "a/gone", true},
		{mirror, "", false},
		{top, "", false},
		{filepath.Join(top, "other"), "", false},
		{mirror + "x", "", false},
		{"", "", false},
	} {
		group, ok := MountPointGroup(mirror, c.mountpoint)
		if group != c.group || ok != c.ok {
			t.Errorf("MountPointGroup(%q): %q %v, want %q %v", c.mountpoint, group, ok,
				c.group, c.ok)
		}
	}
}
