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

// TestOverlapsThroughOtherPaths: mirrors are compared where they lie in
// the cgroup file system, so a second cgroup2 mount of the hierarchy and
// a bind mount of a group are no way around the refusal (helper-58).
func TestOverlapsThroughOtherPaths(t *testing.T) {
	info := "" +
		"24 1 0:22 / / rw - ext4 /dev/vda1 rw\n" +
		"30 24 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n" +
		"31 24 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n" +
		"40 24 0:26 / /tmp/cg2 rw - cgroup2 none rw\n" +
		"41 24 0:26 /lab/k /tmp/bind rw - cgroup2 cgroup2 rw\n" +
		"42 24 0:40 / /tmp/mnt rw - fuse.cgsyscall /sys/fs/cgroup/unified/lab rw\n" +
		"43 24 0:22 /srv /tmp/my\\040dir rw - ext4 /dev/vda1 rw\n"
	mounts := parseMountinfo(info)
	if len(mounts) != 7 || mounts[6].point != "/tmp/my dir" || mounts[4].root != "/lab/k" {
		t.Fatalf("parsed %+v", mounts)
	}
	const lab = "/sys/fs/cgroup/unified/lab"
	for _, c := range []struct {
		a    string
		want bool
	}{
		{"/tmp/cg2/lab", true},             // the same group, another cgroup2 mount
		{"/tmp/cg2/lab/k/j", true},         // inside it
		{"/tmp/cg2", true},                 // holds it
		{"/tmp/bind", true},                // lab/k, bound elsewhere
		{"/tmp/bind/j", true},              // lab/k/j
		{"/tmp/cg2/labx", false},           // a sibling
		{"/sys/fs/cgroup/pids/lab", false}, // another file system, same path below
		{"/tmp/my dir/lab", false},         // not a cgroup at all
	} {
		if got := overlaps(mounts, c.a, lab); got != c.want {
			t.Errorf("overlaps(%q, %q) = %v, want %v", c.a, lab, got, c.want)
		}
	}
	if dev, path, ok := fsSpot(mounts, "/tmp/bind/j"); dev != "0:26" || path != "/lab/k/j" || !ok {
		t.Errorf("fsSpot of /tmp/bind/j: %q %q %v, want 0:26 /lab/k/j true", dev, path, ok)
	}
}
