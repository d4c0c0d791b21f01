package cgsyscall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

// TestMountRaceOneWins: two mounts of the same groups started at once,
// through two paths (the cgroup2 mount and a second one), both pass the
// mounting command's look at the mount table; the daemons' claims let one
// of them through, and the other fails saying it overlaps (helper-60: both
// mounted in 3 of 6 races). So does a mount made in a mount namespace that
// does not see the first mount.
func TestMountRaceOneWins(t *testing.T) {
	m := unmountedMirror(t)
	cg2 := t.TempDir()
	if err := syscall.Mount("none", cg2, "cgroup2", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(cg2, syscall.MNT_DETACH) })
	rel, err := filepath.Rel(cgroup2Root(t), m.base)
	if err != nil {
		t.Fatal(err)
	}
	mirrors := [2]string{m.base, filepath.Join(cg2, rel)}
	t.Cleanup(func() { // the keeper of a daemon through the second path
		endKeepers(mirrors[1])
		os.Remove(filepath.Join("/run/cgsyscall", "placements-"+
			strings.ReplaceAll(strings.Trim(mirrors[1], "/"), "/", "_")))
	})
	for round := range 4 {
		var mnts [2]string
		var errOut [2]string
		var status [2]int
		var wg sync.WaitGroup
		for i := range 2 {
			mnts[i] = t.TempDir()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errOut[i], status[i] = run(t, "mount", "--mirror", mirrors[i], "--log",
					m.log, mnts[i])
			}()
		}
		wg.Wait()
		won := -1
		for i := range 2 {
			if status[i] == 0 {
				won = i
			}
		}
		if won < 0 || status[1-won] != 1 ||
			!strings.HasPrefix(errOut[1-won], "cgsyscall: "+mirrors[1-won]+" overlaps ") {
			t.Errorf("round %d: statuses %v, stderr %q; want one 0, and 1 saying it overlaps",
				round, status, errOut)
		}
		for i := range 2 {
			if status[i] == 0 {
				if out, err := exec.Command("umount", mnts[i]).CombinedOutput(); err != nil {
					t.Fatalf("umount %s: %v: %s", mnts[i], err, out)
				}
			}
		}
	}

	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1): the mount namespace case is left out")
	}
	// A mount namespace made before the first mount does not see it.
	ns := exec.Command(unshare, "-m", "--propagation", "private", "sleep", "60")
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Process.Kill(); ns.Wait() })
	time.Sleep(200 * time.Millisecond) // unshare has made it
	if _, errOut, status := run(t, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt); status != 0 {
		t.Fatalf("first mount: status %d, %s", status, errOut)
	}
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(ns.Process.Pid), "-m",
		bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log, t.TempDir()).CombinedOutput()
	if want := "cgsyscall: " + m.base + " overlaps a directory that another daemon mirrors " +
		"(its lock on the directory is held)\n"; err == nil || string(out) != want {
		t.Errorf("a mount in another mount namespace: %v, %q; want it refused, %q...", err,
			out, want)
	}
}

// TestMountRefusedInCgroupNamespace: a daemon in a cgroup namespace whose
// root is the parent of the mirror names the mirror "/x" in its mount
// table, where the first daemon's is ".../cgsyscall-test-N/x": lock files
// named by those paths differed, and both mounted (helper-62: 3 of 3, and a
// saved deny was lost); the lock on the directory itself refuses the second.
func TestMountRefusedInCgroupNamespace(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	if err := exec.Command(unshare, "-C", "-m", "true").Run(); err != nil {
		t.Skip("unshare(1) makes no cgroup namespace here (-C): ", err)
	}
	m := unmountedMirror(t)
	if err := os.Mkdir(filepath.Join(m.base, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	first := &mirror{t: t, base: filepath.Join(m.base, "x"), mnt: m.mnt, log: m.log}
	if _, errOut, status := run(t, "mount", "--mirror", first.base, "--log", m.log,
		m.mnt); status != 0 {
		t.Fatalf("first mount: status %d, %s", status, errOut)
	}
	t.Cleanup(func() { // its keeper, named after x, once the daemon is gone
		m.unmountAndWait()
		endKeepers(first.base)
		os.Remove(filepath.Join("/run/cgsyscall", "placements-"+
			strings.ReplaceAll(strings.Trim(first.base, "/"), "/", "_")))
	})
	cg2, mnt2 := t.TempDir(), t.TempDir()
	script := `echo $$ > "$1/cgroup.procs" && exec "$2" -C -m sh -c ` +
		`'mount -t cgroup2 none "$1" && exec "$2" mount --mirror "$1/x" --log "$3" "$4"' ` +
		`sh "$3" "$4" "$5" "$6"`
	out, err := exec.Command("sh", "-c", script, "sh", m.base, unshare, cg2, bin.cgsyscall,
		m.log, mnt2).CombinedOutput()
	t.Cleanup(func() { // a daemon that was let through, in the namespace it made
		second := &mirror{t: t, mnt: mnt2}
		for _, pid := range daemonPIDs(second) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	want := "cgsyscall: " + cg2 + "/x overlaps a directory that another daemon mirrors"
	if err == nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("a mount of x in a cgroup namespace rooted at its parent: %v, %q; want "+
			"it refused, %q...", err, out, want)
	}
}
