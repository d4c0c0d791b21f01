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
