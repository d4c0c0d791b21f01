package persist

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// testEnv is one test's own real cgroup and a store of it.
type testEnv struct {
	t    *testing.T
	base string // cgroup2 root/cgsyscall-test-XXXX
	a    *arch.Arch
	s    *Store
}

// newEnv makes the test's own cgroup with the groups named (parents
// first), opens a store of it, and removes everything at the end.
func newEnv(t *testing.T, groups ...string) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes real cgroups and writes trusted.* attributes")
	}
	a := arch.Host()
	if a == nil {
		t.Skip("needs x86_64 or aarch64")
	}
	base, err := os.MkdirTemp(cgroup2Root(t), "cgsyscall-test-")
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, base: base, a: a}
	t.Cleanup(func() { removeTree(t, base) })
	for _, g := range groups {
		e.mkdir(g)
	}
	if e.s, err = Open(base, "", a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.s.Close() })
	return e
}

// cgroup2Root finds the cgroup v2 mount, or skips.
func cgroup2Root(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		for i, x := range fl {
			if x == "-" && i+1 < len(fl) && fl[i+1] == "cgroup2" {
				return fl[4]
			}
		}
	}
	t.Skip("no cgroup2 file system mounted")
	return ""
}

// removeTree removes a test cgroup, children first.
func removeTree(t *testing.T, dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			removeTree(t, filepath.Join(dir, e.Name()))
		}
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("removing test cgroup %s: %v", dir, err)
}

func (e *testEnv) dir(g string) string {
	if g == "" {
		return e.base
	}
	return filepath.Join(e.base, g)
}

func (e *testEnv) mkdir(g string) {
	e.t.Helper()
	if err := os.Mkdir(e.dir(g), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// attr reads group g's saved value; "-" when it has none.
func (e *testEnv) attr(g string) string {
	e.t.Helper()
	buf := make([]byte, maxValue)
	n, err := unix.Getxattr(e.dir(g), Attr, buf)
	if errors.Is(err, unix.ENODATA) {
		return "-"
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return string(buf[:n])
}

// setAttr writes group g's saved value behind the store's back.
func (e *testEnv) setAttr(g, val string) {
	e.t.Helper()
	if err := unix.Setxattr(e.dir(g), Attr, []byte(val), 0); err != nil {
		e.t.Fatal(err)
	}
}

// tree is a fresh policy tree holding the groups named.
func (e *testEnv) tree(groups ...string) *policy.Tree {
	e.t.Helper()
	tr := policy.NewTree(e.a)
	for _, g := range groups {
		if err := tr.Ensure(g); err != nil {
			e.t.Fatal(err)
		}
	}
	return tr
}

// load loads the store into a fresh tree.
func (e *testEnv) load() (*policy.Tree, Summary) {
	e.t.Helper()
	tr := policy.NewTree(e.a)
	sum, err := e.s.Load(tr)
	if err != nil {
		e.t.Fatal(err)
	}
	return tr, sum
}

// nrs returns the native numbers of the syscalls named.
func (e *testEnv) nrs(names ...string) policy.Set {
	e.t.Helper()
	var s policy.Set
	for _, n := range names {
		nr, ok := e.a.Native.SyscallNumber(n)
		if !ok {
			e.t.Fatalf("no syscall %s", n)
		}
		s.Add(nr)
	}
	return s
}

// sets renders a tree as "path=set" lines, sorted, for comparisons.
func sets(tr *policy.Tree) string {
	var b strings.Builder
	for _, p := range tr.Paths() {
		d, _ := tr.Denied(p)
		b.WriteString("/" + p + "=" + strings.TrimSpace(string(policy.Format(d))) + "\n")
	}
	return b.String()
}

// withBeforeSet installs a beforeSet hook for the rest of the test.
func withBeforeSet(t *testing.T, f func(group string) error) {
	beforeSet = f
	t.Cleanup(func() { beforeSet = nil })
}
