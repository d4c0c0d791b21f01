package cgsyscall_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// testUser creates an unprivileged user for the test and removes it after.
func testUser(t *testing.T) (uid, gid int) {
	t.Helper()
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("useradd is not installed")
	}
	name := fmt.Sprintf("cgsys%d", os.Getpid()%100000)
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--user-group",
		"--shell", "/bin/sh", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// asUser runs a shell script as uid:gid and returns its output and status.
func asUser(t *testing.T, uid, gid int, env []string, script string) (string, int) {
	t.Helper()
	return asUserIn(t, "", uid, gid, env, script)
}

// asUserIn is asUser with the script started in real cgroup directory dir
// (clone3 into it), unless dir is "".
func asUserIn(t *testing.T, dir string, uid, gid int, env []string, script string) (string,
	int) {

	t.Helper()
	cmd := exec.Command("setpriv", "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid),
		"--clear-groups", "sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	if dir != "" {
		cg, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer cg.Close()
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestPermissions checks SPEC section 5 with a real unprivileged user:
// anyone reads; only root, or the owner of a delegated group, writes its
// control files; moving a process needs root or the process's uid, and on
// cgroup2 also, as the kernel has it, write access to cgroup.procs of the
// group that holds both the process's group and the destination: the user
// moves its processes inside its delegated group, but cannot pull one in
// from outside (helper-31: the daemon, moving as root, let it).
func TestPermissions(t *testing.T) {
	m := newMirror(t)
	uid, gid := testUser(t)
	// Let the user walk to the mount point and the mirror.
	for _, d := range []string{filepath.Dir(m.mnt), m.mnt, m.base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m.mkdir("mine")
	m.mkdir("mine/b")
	m.mkdir("theirs")
	m.mustWrite("theirs/syscalls.deny", "uname")
	// Delegate "mine" as cgroupfs delegation does: the directory and its
	// cgroup.procs, and so a group the user made in it.
	for _, p := range []string{"mine", "mine/cgroup.procs", "mine/b", "mine/b/cgroup.procs"} {
		if err := os.Chown(filepath.Join(m.base, p), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// A process of root's, for the user to try to move.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })

	// A process of the user's outside the delegated group.
	outsider := exec.Command("setpriv", "--reuid="+strconv.Itoa(uid),
		"--regid="+strconv.Itoa(gid), "--clear-groups", "sleep", "30")
	if err := outsider.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outsider.Process.Kill(); outsider.Wait() })

	env := []string{"M=" + m.mnt, "ROOTPID=" + strconv.Itoa(sleeper.Process.Pid),
		"OUTPID=" + strconv.Itoa(outsider.Process.Pid)}
	// The user's shell runs in its delegated group, as a delegated
	// session's processes do.
	out, st := asUserIn(t, filepath.Join(m.base, "mine"), uid, gid, env, `
		cat $M/theirs/syscalls.deny | tr -d '\n'; echo " read $?"
		ls $M/theirs >/dev/null; echo "ls $?"
		/bin/echo getppid > $M/mine/syscalls.deny; echo "deny mine $?"
		/bin/echo getppid > $M/theirs/syscalls.deny; echo "deny theirs $?"
		/bin/echo uname > $M/theirs/syscalls.allow; echo "allow theirs $?"
		/bin/echo getppid > $M/syscalls.deny; echo "deny root $?"
		/bin/echo $ROOTPID > $M/mine/tasks; echo "move root's $?"
		/bin/echo $OUTPID > $M/mine/tasks; echo "pull own $?"
		/bin/echo $OUTPID > $M/mine/cgroup.procs; echo "pull own procs $?"
		sleep 30 & echo $! > $M/mine/b/tasks; echo "move own $?"; kill $!`)
	if st != 0 {
		t.Fatalf("user script exited %d:\n%s", st, out)
	}
	// The kernel refuses the opens (default_permissions: sh says "cannot
	// create", status 2); the moves of root's process and of the user's
	// from outside are the daemon's EACCES.
	uname := map[bool]string{true: "63", false: "160"}[strings.Contains(
		m.read("theirs/syscalls.deny"), "63 ")]
	for _, want := range []string{uname + "  read 0", "ls 0", "deny mine 0", "deny theirs 2",
		"allow theirs 2", "deny root 2", "move root's 1", "pull own 1", "pull own procs 1",
		"move own 0"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("as the user, output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Permission denied"); n != 6 {
		t.Errorf("%d EACCES messages, want 6:\n%s", n, out)
	}
	if got := m.read("theirs/syscalls.deny"); got != uname+" \n" {
		t.Errorf("theirs/syscalls.deny = %q after the user's writes", got)
	}
	if got := m.read("mine/syscalls.deny"); got == "\n" {
		t.Errorf("mine/syscalls.deny is empty: the owner's deny was lost")
	}
	procs, _ := os.ReadFile(filepath.Join(m.base, "mine", "cgroup.procs"))
	if strings.Contains(" "+strings.ReplaceAll(string(procs), "\n", " "),
		" "+strconv.Itoa(sleeper.Process.Pid)+" ") {
		t.Errorf("root's process was moved into the user's group")
	}
	if strings.Contains(" "+strings.ReplaceAll(string(procs), "\n", " "),
		" "+strconv.Itoa(outsider.Process.Pid)+" ") {
		t.Errorf("the user pulled a process of theirs into the delegated group from outside")
	}
}
