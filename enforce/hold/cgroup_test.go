package hold

import (
	"strings"
	"testing"
)

// A /proc/PID/cgroup of a machine with v1 hierarchies beside cgroup2.
const procCgroup = `12:name=cgsystest1:/cgsyscall-test-x/web
9:name=systemd:/
4:memory:/some/long/path
2:cpu,cpuacct:/a
0::/unified/g
`

func TestV1Line(t *testing.T) {
	for _, c := range []struct {
		opts, want string
	}{
		{"rw,xattr,name=cgsystest1", "12:name=cgsystest1:"},
		{"rw,name=systemd", "9:name=systemd:"},
		{"rw,memory", "4:memory:"},
		{"rw,cpu,cpuacct", "2:cpu,cpuacct:"},
		{"rw,cpu", ""}, // cpuacct is not among the options: another mount
		{"rw,name=other", ""},
		{"rw", ""}, // the empty controller field of cgroup2 never matches
	} {
		got := string(v1Line([]byte(procCgroup), strings.Split(c.opts, ",")))
		if got != c.want {
			t.Errorf("v1Line(%q) = %q, want %q", c.opts, got, c.want)
		}
	}
}

func TestPathOf(t *testing.T) {
	for _, c := range []struct {
		line, want string
		ok         bool
	}{
		{"0::", "/unified/g", true},
		{"12:name=cgsystest1:", "/cgsyscall-test-x/web", true},
		{"2:cpu,cpuacct:", "/a", true},
		{"2:cpu:", "", false},
		{"1:name=cgsystest1:", "", false},
	} {
		got, ok := pathOf([]byte(procCgroup), []byte(c.line))
		if got != c.want || ok != c.ok {
			t.Errorf("pathOf(%q) = %q, %v, want %q, %v", c.line, got, ok, c.want, c.ok)
		}
	}
	// Without a final newline, as a short read could end.
	if got, ok := pathOf([]byte("0::/x"), []byte("0::")); got != "/x" || !ok {
		t.Errorf("pathOf without a newline = %q, %v", got, ok)
	}
}

func TestCommonAncestor(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"/lab/mine", "/lab/mine/b", "/lab/mine"},
		{"/lab/mine/b", "/lab/mine", "/lab/mine"},
		{"/lab/mine/a", "/lab/mine/b", "/lab/mine"},
		{"/lab/mine", "/lab/mine", "/lab/mine"},
		{"/lab/mine2", "/lab/mine", "/lab"},
		{"/user.slice/x", "/lab/mine", "/"},
		{"/", "/lab", "/"},
		{"/lab", "", "/"},
	} {
		if got := commonAncestor(c.a, c.b); got != c.want {
			t.Errorf("commonAncestor(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestWhereDir(t *testing.T) {
	all := where{mount: "/sys/fs/cgroup", root: "/"}
	sub := where{mount: "/mnt/cg", root: "/lab"}
	for _, c := range []struct {
		w    where
		p    string
		want string
		ok   bool
	}{
		{all, "/", "/sys/fs/cgroup", true},
		{all, "/lab/mine", "/sys/fs/cgroup/lab/mine", true},
		{sub, "/lab", "/mnt/cg", true},
		{sub, "/lab/mine", "/mnt/cg/mine", true},
		{sub, "/", "", false},
		{sub, "/labs", "", false},
	} {
		got, ok := c.w.dir(c.p)
		if got != c.want || ok != c.ok {
			t.Errorf("%+v.dir(%q) = %q, %v, want %q, %v", c.w, c.p, got, ok, c.want, c.ok)
		}
	}
}
