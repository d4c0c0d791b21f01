package main

import "testing"

func TestNested(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"/sys/fs/cgroup/a", "/sys/fs/cgroup/a", true},
		{"/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a", true},
		{"/sys/fs/cgroup/a", "/sys/fs/cgroup/a/b", true},
		{"/sys/fs/cgroup", "/sys/fs/cgroup/a", true},
		{"/", "/sys/fs/cgroup/a", true},
		{"/sys/fs/cgroup/a", "/sys/fs/cgroup/ab", false},
		{"/sys/fs/cgroup/ab", "/sys/fs/cgroup/a", false},
		{"/sys/fs/cgroup/a", "/sys/fs/cgroup/b", false},
	} {
		if got := nested(c.a, c.b); got != c.want {
			t.Errorf("nested(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestParseOptionsIgnoresMountsOwn: fstab's x-* options (X-mount.mkdir,
// x-systemd.requires=...) and comment= belong to mount(8) and systemd.
func TestParseOptionsIgnoresMountsOwn(t *testing.T) {
	var c mountConfig
	if err := c.parseOptions("defaults,X-mount.mkdir,x-systemd.requires=a.mount,comment=x," +
		"mirror=/sys/fs/cgroup/lab"); err != nil {
		t.Fatal(err)
	}
	if c.mirror != "/sys/fs/cgroup/lab" {
		t.Errorf("mirror %q", c.mirror)
	}
	if err := c.parseOptions("xmirror=1"); err == nil ||
		err.Error() != `unknown mount option "xmirror=1"` {
		t.Errorf("xmirror=1: %v", err)
	}
}
