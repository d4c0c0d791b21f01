package persist

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"

	cgfs "github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
)

var _ cgfs.Store = (*Store)(nil)

// mount mounts the mirror of e's cgroup in this process, with e's store,
// and unmounts it at the end. It returns the mount point and the tree.
func (e *testEnv) mount() (string, *policy.Tree) {
	e.t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		e.t.Skip("needs /dev/fuse")
	}
	mnt := e.t.TempDir()
	tr := policy.NewTree(e.a)
	if _, err := e.s.Load(tr); err != nil {
		e.t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := cgfs.Mount(mnt, cgfs.Options{Mirror: e.base, Tree: tr, Arch: e.a,
		Log: log, Store: e.s})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			e.t.Errorf("unmount: %v", err)
		}
	})
	return mnt, tr
}

// writeFile writes data to a file of the mount with one write(2).
func writeFile(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMountSaves: writes through the mount reach the attributes, and a
// group removed and made again through the mount starts from its parent,
// with no saved set left from its old self.
func TestMountSaves(t *testing.T) {
	e := newEnv(t, "a", "a/b")
	mnt, _ := e.mount()
	if err := writeFile(filepath.Join(mnt, "a/syscalls.deny"), "getppid uname"); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(mnt, "a/b/syscalls.deny"), "ptrace"); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(mnt, "a/syscalls.allow"), "uname"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"": "-", "a": e.fmtSet("getppid"), "a/b": e.fmtSet("getppid", "uname", "ptrace"),
	}
	for g, w := range want {
		if got := e.attr(g); got != w {
			t.Errorf("attribute of /%s: %q, want %q", g, got, w)
		}
	}

	if err := os.Remove(filepath.Join(mnt, "a/b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := e.attr("a/b"); got != "-" {
		t.Errorf("a/b made again has %q saved", got)
	}
	if got, w := readFile(t, filepath.Join(mnt, "a/b/syscalls.deny")), e.fmtSet("getppid"); got != w {
		t.Errorf("a/b made again reads %q, want its parent's %q", got, w)
	}
	got, _ := e.load()
	if d, _ := got.Denied("a/b"); policy.Format(d) == nil || string(policy.Format(d)) != want["a"] {
		t.Errorf("a/b after a restart: %v, want its parent's set", d)
	}
}

// TestMountSaveFails: a save that fails half way fails the write with EIO
// and takes the change back, in the tree and in the attributes.
func TestMountSaveFails(t *testing.T) {
	e := newEnv(t, "a", "a/b", "a/c")
	mnt, tr := e.mount()
	if err := writeFile(filepath.Join(mnt, "a/syscalls.deny"), "getppid"); err != nil {
		t.Fatal(err)
	}
	before := sets(tr)
	n := 0
	withBeforeSet(t, func(string) error {
		if n++; n == 2 {
			return syscall.ENOSPC
		}
		return nil
	})
	err := writeFile(filepath.Join(mnt, "a/syscalls.deny"), "uname")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("deny with a failing save: %v, want EIO", err)
	}
	if got, w := readFile(t, filepath.Join(mnt, "a/b/syscalls.deny")), e.fmtSet("getppid"); got != w {
		t.Errorf("a/b reads %q after the failed deny, want %q", got, w)
	}
	if sets(tr) != before {
		t.Errorf("tree after the failed deny:\n%swant:\n%s", sets(tr), before)
	}
	if got, _ := e.load(); sets(got) != before {
		t.Errorf("saved state after the failed deny:\n%swant:\n%s", sets(got), before)
	}

	// An allow writes a/b and a/c only where they differ (they do not),
	// then a: failing its first write fails it.
	n = 1
	err = writeFile(filepath.Join(mnt, "a/syscalls.allow"), "getppid")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("allow with a failing save: %v, want EIO", err)
	}
	if got, _ := e.load(); sets(got) != before || sets(tr) != before {
		t.Errorf("after the failed allow: saved\n%stree\n%swant\n%s", sets(got), sets(tr),
			before)
	}
	beforeSet = nil
	if err := writeFile(filepath.Join(mnt, "a/syscalls.allow"), "getppid"); err != nil {
		t.Errorf("allow: %v", err)
	}
	if got := e.attr("a"); got != "\n" {
		t.Errorf("a after the allow: %q", got)
	}
}
