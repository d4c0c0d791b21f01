package persist

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
)

// v1Mounts counts the hierarchies this test binary mounted, for unique names.
var v1Mounts int

// newV1Env is newEnv on a cgroup v1 hierarchy of the test's own: a named
// hierarchy without controllers (-o none,name=cgsystestNNN,xattr) mounted
// on a temporary directory, never one of the machine's. At the end the
// groups go, then the mount, which takes the hierarchy with it.
func newV1Env(t *testing.T, groups ...string) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a cgroup v1 hierarchy and writes trusted.* attributes")
	}
	a := arch.Host()
	if a == nil {
		t.Skip("needs x86_64 or aarch64")
	}
	hier, err := os.MkdirTemp("", "cgsyscall-v1-")
	if err != nil {
		t.Fatal(err)
	}
	v1Mounts++
	name := fmt.Sprintf("cgsystest%d_%d", os.Getpid(), v1Mounts)
	opts := "none,name=" + name + ",xattr"
	if err := unix.Mount("cgroup", hier, "cgroup", 0, opts); err != nil {
		os.Remove(hier)
		t.Skipf("cannot mount a named cgroup v1 hierarchy: %v", err)
	}
	base := filepath.Join(hier, "cgsyscall-test-persist")
	t.Cleanup(func() {
		removeTree(t, base)
		dropHierarchy(t, hier, name, opts)
		os.Remove(hier)
	})
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, base: base, a: a}
	for _, g := range groups {
		e.mkdir(g)
	}
	if e.s, err = Open(base, "", a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.s.Close() })
	return e
}

// dropHierarchy unmounts the test's hierarchy name at dir and makes sure
// it is gone. The kernel destroys a v1 hierarchy at its unmount only if
// its root has no child left, and a removed group stays a child until the
// kernel has released it, a moment after the rmdir: a hierarchy unmounted
// then lingers, unmounted and empty, until it is mounted (with opts) and
// unmounted again.
func dropHierarchy(t *testing.T, dir, name, opts string) {
	for try := 0; ; try++ {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting the test's v1 hierarchy %s: %v", dir, err)
			return
		}
		for i := 0; i < 10 && hierarchyExists(name); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if !hierarchyExists(name) {
			return
		}
		if try == 20 {
			t.Errorf("v1 hierarchy name=%s lingers after %d unmounts", name, try+1)
			return
		}
		if err := unix.Mount("cgroup", dir, "cgroup", 0, opts); err != nil {
			t.Errorf("mounting the lingering v1 hierarchy name=%s again: %v", name, err)
			return
		}
	}
}

// hierarchyExists tells whether a v1 hierarchy called name exists, mounted
// or not: /proc/self/cgroup has a line for every one.
func hierarchyExists(name string) bool {
	b, _ := os.ReadFile("/proc/self/cgroup")
	return strings.Contains(string(b), ":name="+name+":")
}

// TestV1SaveAndLoad: on a v1 hierarchy mounted with xattr the policy is
// saved and comes back, as on cgroup2.
func TestV1SaveAndLoad(t *testing.T) {
	e := newV1Env(t, "a", "a/b")
	tr := e.tree("a", "a/b")
	if err := tr.Deny("a", e.nrs("getppid")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Save(tr, "a", true); err != nil {
		t.Fatal(err)
	}
	if got, want := e.attr("a/b"), e.fmtSet("getppid"); got != want {
		t.Errorf("attribute of /a/b = %q, want %q", got, want)
	}
	if got, _ := e.load(); sets(got) != sets(tr) {
		t.Errorf("loaded:\n%swant:\n%s", sets(got), sets(tr))
	}
	if e.attr("") != "-" {
		t.Errorf("the probe left an attribute on the mirror: %q", e.attr(""))
	}
}

// TestV1WithoutXattr: a v1 hierarchy whose setxattr says EOPNOTSUPP (what
// a kernel that honours a mount without xattr answers; this one keeps
// trusted.* either way, so the answer is played) fails Open with one line
// that says what to do.
func TestV1WithoutXattr(t *testing.T) {
	e := newV1Env(t)
	fsetxattr = func(int, string, []byte, int) error { return unix.EOPNOTSUPP }
	t.Cleanup(func() { fsetxattr = unix.Fsetxattr })
	s, err := Open(e.base, "", e.a)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a hierarchy without attributes")
	}
	want := fmt.Sprintf("saved policy: the cgroup v1 hierarchy of %s keeps no extended "+
		"attributes (operation not supported); remount it with -o xattr", e.base)
	if err.Error() != want || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open: %q, want %q", err, want)
	}
}
