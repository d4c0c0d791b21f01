package cgsyscall_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountHelper is where mount(8) looks for the helper of type fuse.cgsyscall.
const mountHelper = "/sbin/mount.fuse.cgsyscall"

// installHelper links mount(8)'s helper to the binary under test for the
// test's duration, as scripts/install.sh does for good. It refuses to
// replace a helper that is already installed.
func installHelper(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("util-linux mount is not installed")
	}
	if _, err := os.Lstat(mountHelper); err == nil {
		t.Skipf("%s is already installed; not replacing it", mountHelper)
	}
	if err := os.Symlink(bin.cgsyscall, mountHelper); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(mountHelper) })
}

// fstabMirror is a test cgroup and a mount point that an fstab of the
// test's own names, not mounted yet.
func fstabMirror(t *testing.T, options string) (m *mirror, fstab string) {
	t.Helper()
	m = unmountedMirror(t)
	base := m.base
	fstab = filepath.Join(t.TempDir(), "fstab")
	line := fmt.Sprintf("%s %s fuse.cgsyscall log=%s%s 0 0\n", base, m.mnt, m.log, options)
	if err := os.WriteFile(fstab, []byte("# test fstab\n"+line), 0o644); err != nil {
		t.Fatal(err)
	}
	return m, fstab
}

func mountCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("mount", args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestFstabMountAll(t *testing.T) {
	installHelper(t)
	m, fstab := fstabMirror(t, "")
	if out, st := mountCmd(t, "-T", fstab, "-a"); st != 0 {
		t.Fatalf("mount -a: exit %d: %s", st, out)
	}
	if !m.mounted() {
		t.Fatal("mount -a returned, but nothing is mounted")
	}
	// The daemon detached only once the mount answered.
	if got := m.read("syscalls.deny"); got != "\n" {
		t.Fatalf("root syscalls.deny: %q", got)
	}
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "getppid")
	// A second mount -a sees it mounted and does nothing.
	if out, st := mountCmd(t, "-T", fstab, "-a"); st != 0 {
		t.Fatalf("second mount -a: exit %d: %s", st, out)
	}
	pid := daemonPID(t, m)
	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	waitGone(t, pid)
	if m.mounted() {
		t.Fatal("still mounted after umount")
	}

	// By mount point alone, as at boot with "mount /sys/fs/cgroup/syscalls".
	if out, st := mountCmd(t, "-T", fstab, m.mnt); st != 0 {
		t.Fatalf("mount MOUNTPOINT: exit %d: %s", st, out)
	}
	// SIGTERM unmounts and ends the daemon.
	pid = daemonPID(t, m)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if m.mounted() {
		t.Fatal("still mounted after SIGTERM")
	}
}

func TestFstabMountFailure(t *testing.T) {
	installHelper(t)
	m, _ := fstabMirror(t, "")
	bad := filepath.Join(t.TempDir(), "fstab")
	notCgroup := t.TempDir()
	line := fmt.Sprintf("%s %s fuse.cgsyscall log=%s 0 0\n", notCgroup, m.mnt, m.log)
	if err := os.WriteFile(bad, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	out, st := mountCmd(t, "-T", bad, m.mnt)
	if st != 32 || !strings.Contains(out, "is not a cgroup directory") {
		t.Fatalf("mount of a non-cgroup mirror: exit %d, %q; want 32 and the reason", st, out)
	}
	unknown := filepath.Join(t.TempDir(), "fstab")
	line = fmt.Sprintf("%s %s fuse.cgsyscall bogus_option 0 0\n", m.base, m.mnt)
	if err := os.WriteFile(unknown, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	out, st = mountCmd(t, "-T", unknown, m.mnt)
	if st != 32 || !strings.Contains(out, `unknown mount option "bogus_option"`) {
		t.Fatalf("mount with an unknown option: exit %d, %q; want 32 and the option", st, out)
	}
	if m.mounted() {
		t.Fatal("a failed mount left a mount behind")
	}
}

// waitGone waits until process pid (a daemon this test started) has ended.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d still runs", pid)
}
