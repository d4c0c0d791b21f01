package cgsyscall_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMountRefusesNestedMirror: a second daemon over a part of a mirrored
// hierarchy, or over a directory that holds one, would keep a policy of
// its own for the same groups and overwrite the first one's saved sets; it
// is refused with one line, and the first mount's saved policy stays.
func TestMountRefusesNestedMirror(t *testing.T) {
	m := newMirror(t)
	m.mkdir("q")
	m.mkdir("q/c")
	m.mustWrite("q/syscalls.deny", "getppid")
	// The same groups through another path too: a second cgroup2 mount of
	// the hierarchy, and a bind mount of q (helper-58: the second mount was
	// taken, and a write through it overwrote the first one's saved set).
	cg2, bind := t.TempDir(), t.TempDir()
	if err := syscall.Mount("none", cg2, "cgroup2", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(cg2, syscall.MNT_DETACH) })
	if err := syscall.Mount(filepath.Join(m.base, "q"), bind, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(bind, syscall.MNT_DETACH) })
	rel, err := filepath.Rel(cgroup2Root(t), m.base)
	if err != nil {
		t.Fatal(err)
	}
	// (A directory that holds the mirror is refused the same way, which
	// cmd/cgsyscall's TestNested checks: a test here would, if that broke,
	// mount the machine's whole cgroup tree.)
	for _, mirror := range []string{filepath.Join(m.base, "q"), filepath.Join(m.base, "q", "c"),
		filepath.Join(cg2, rel), filepath.Join(cg2, rel, "q"), bind, filepath.Join(bind, "c")} {
		_, errOut, status := run(t, "mount", "--mirror", mirror, t.TempDir())
		want := "cgsyscall: " + mirror + " overlaps " + m.base + ", which is already mirrored at " +
			m.mnt + "\n"
		if status != 1 || errOut != want {
			t.Errorf("mount of %s: status %d, stderr %q; want 1, %q", mirror, status, errOut,
				want)
		}
	}
	b, err := os.ReadFile(filepath.Join(m.base, "q", "cgroup.procs"))
	if err != nil || strings.TrimSpace(string(b)) != "" {
		t.Fatalf("q's members %q (%v)", b, err)
	}
	if got := m.read("q/c/syscalls.deny"); got != "110 \n" && got != "173 \n" {
		t.Fatalf("q/c/syscalls.deny = %q after the refused mounts", got)
	}
}
