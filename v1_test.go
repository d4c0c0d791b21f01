// cgroup v1 mirrors, end to end. Each test mounts a named v1 hierarchy
// of its own (-o none,name=cgsystestNNN,xattr: no controllers, so nothing
// of the machine's is bound to it) on a temporary directory, mirrors a
// group of it, and at the end kills its processes by PID, unmounts the
// mirror, removes its groups depth first and unmounts the hierarchy,
// which then goes away. The machine's own v1 hierarchies are never
// touched.
package cgsyscall_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
)

// v1Count numbers the hierarchies of this test binary, for unique names.
var v1Count int

// v1Hierarchy mounts a named v1 hierarchy of the test's own and returns
// its directory. Its unmount is registered first, so it runs last.
func v1Hierarchy(t *testing.T) string {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	v1Count++
	name := fmt.Sprintf("cgsystest%d_%d", os.Getpid(), v1Count)
	opts := "none,name=" + name + ",xattr"
	out, err := exec.Command("mount", "-t", "cgroup", "-o", opts, "cgroup",
		dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a named cgroup v1 hierarchy: %v: %s", err, out)
	}
	t.Cleanup(func() { dropHierarchy(t, dir, name, opts) })
	return dir
}

// dropHierarchy unmounts the test's hierarchy name, mounted at dir with
// opts, and makes sure that it is gone. The kernel destroys a v1
// hierarchy at its unmount only if its root has no child group left, and
// a removed group stays a child until the kernel has released it, a
// moment after the rmdir: a hierarchy unmounted in that moment lingers,
// unmounted and empty. It is then mounted again and unmounted until
// /proc/self/cgroup no longer names it. A group still in it is a test's
// leftover: it is removed, and reported.
func dropHierarchy(t *testing.T, dir, name, opts string) {
	for try := 0; ; try++ {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				t.Errorf("group %s was left in the test's v1 hierarchy; removing it",
					e.Name())
				removeCgroupTree(t, filepath.Join(dir, e.Name()))
			}
		}
		if err := umountBusy(dir); err != nil {
			t.Errorf("unmounting the test's v1 hierarchy %s: %v; detaching it lazily", dir,
				err)
			exec.Command("umount", "-l", dir).Run()
			return
		}
		// The kernel destroys the hierarchy a moment after the unmount.
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
		out, err := exec.Command("mount", "-t", "cgroup", "-o", opts, "cgroup",
			dir).CombinedOutput()
		if err != nil {
			t.Errorf("mounting the lingering v1 hierarchy name=%s again: %v: %s", name, err,
				out)
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

// umountBusy unmounts dir, waiting up to 5 s while it is busy: the
// daemon closes its descriptors of the hierarchy as it exits, a moment
// after the unmount of its mirror returned.
func umountBusy(dir string) error {
	var out []byte
	var err error
	for i := 0; i < 100; i++ {
		if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
}

// newV1Mirror makes the group cgsyscall-test-v1 in a v1 hierarchy of the
// test's own and mounts its mirror. Any process left in the test's groups
// at the end (a test bug) is killed by its PID before they are removed.
func newV1Mirror(t *testing.T) *mirror {
	t.Helper()
	hier := v1Hierarchy(t)
	base := filepath.Join(hier, "cgsyscall-test-v1")
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &mirror{t: t, base: base, mnt: t.TempDir()}
	m.log = filepath.Join(t.TempDir(), "daemon.log")
	t.Cleanup(m.cleanup)
	t.Cleanup(func() {
		for _, pid := range membersBelow(m.base) {
			t.Errorf("PID %d was left in the test's v1 groups; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	m.mount()
	return m
}

// mount starts the daemon of m.
func (m *mirror) mount() {
	m.t.Helper()
	out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput()
	if err != nil {
		m.t.Fatalf("mount --mirror %s: %v\n%s", m.base, err, out)
	}
}

// startServingHere starts the probe in its serving form where the test
// runs: in the root of the test's v1 hierarchy, outside the mirror
// (CLONE_INTO_CGROUP takes no v1 directory). It is killed by its PID at
// the end.
func startServingHere(t *testing.T) *live {
	t.Helper()
	return startServing(t, "")
}

// nativeNr is the native number of syscall name, as the control files
// print it.
func nativeNr(t *testing.T, name string) string {
	t.Helper()
	a := arch.Host()
	if a == nil {
		t.Skip("needs x86_64 or aarch64")
	}
	nr, ok := a.Native.SyscallNumber(name)
	if !ok {
		t.Fatalf("no syscall %s", name)
	}
	return strconv.Itoa(nr)
}

// lines splits a file's text into its lines.
func lines(s string) []string {
	return strings.Fields(s)
}

// TestV1Policy: the policy tree and the control files behave on a v1
// mirror as on cgroup2, the listing shows v1's files with one tasks (ours),
// and cgsyscall exec gets ENOSYS for a denied call, natively and through
// the i386 gate.
func TestV1Policy(t *testing.T) {
	m := newV1Mirror(t)
	ppid := nativeNr(t, "getppid") + " \n"
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "getppid")
	if got := m.read("web/syscalls.deny"); got != ppid {
		t.Errorf("web/syscalls.deny = %q, want %q", got, ppid)
	}
	m.mkdir("web/worker")
	if got := m.read("web/worker/syscalls.deny"); got != ppid {
		t.Errorf("new group web/worker starts with %q, want its parent's %q", got, ppid)
	}
	err := m.write("web/worker/syscalls.allow", "getppid")
	if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("allow under a denying parent: %v, want Operation not permitted", err)
	}
	if got := m.read("syscalls.deny"); got != "\n" {
		t.Errorf("root syscalls.deny = %q, want a lone newline", got)
	}

	ents, err := os.ReadDir(m.path("web"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"cgroup.clone_children", "cgroup.procs", "notify_on_release",
		"syscalls.allow", "syscalls.deny", "syscalls.stat", "tasks", "worker"}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("ls web = %v, want %v", names, want)
	}

	out, errOut, status := run(t, append([]string{"exec", "-m", m.mnt, "web/worker", "--",
		bin.probe}, probeTokens()...)...)
	if status != 0 {
		t.Fatalf("exec in web/worker exited %d: %s", status, errOut)
	}
	checkProbe(t, out, true)

	// Allowed in web, the call works there; web/worker keeps its denial.
	m.mustWrite("web/syscalls.allow", "getppid")
	out, errOut, status = run(t, append([]string{"exec", "-m", m.mnt, "web", "--",
		bin.probe}, probeTokens()...)...)
	if status != 0 {
		t.Fatalf("exec in web exited %d: %s", status, errOut)
	}
	checkProbe(t, out, false)
	out, _, _ = run(t, "exec", "-m", m.mnt, "web/worker", "--", bin.probe, "getppid")
	if got := parseProbe(t, out)["getppid"]; got != "-38" {
		t.Errorf("web/worker after allow in web: getppid %s, want -38", got)
	}
}

// TestV1ExecJoinsTheGroup: the command of cgsyscall exec is a member of the
// group from its start, though v1 cannot create it there: the shell's
// first command already sees itself in the group.
func TestV1ExecJoinsTheGroup(t *testing.T) {
	m := newV1Mirror(t)
	m.mkdir("web")
	out, errOut, status := run(t, "exec", "-m", m.mnt, "web", "--", "sh", "-c",
		`echo $$; cat "$1"`, "sh", m.path("web", "tasks"))
	if status != 0 {
		t.Fatalf("exec exited %d: %s", status, errOut)
	}
	// web/tasks lists the shell and cat, its child.
	if l := lines(out); len(l) != 3 || !slices.Contains(l[1:], l[0]) {
		t.Errorf("shell PID and web/tasks: %q, want the shell's PID in web/tasks", out)
	}
}

// TestV1LiveMoves: a running process moved through tasks and through the
// mirror's cgroup.procs is held before the write returns, released by an
// allow or a move out, and tasks lists it (its process, where v1's own
// tasks file lists every thread).
func TestV1LiveMoves(t *testing.T) {
	m := newV1Mirror(t)
	s := startServingHere(t)
	pid := strconv.Itoa(s.pid)
	denyGetppid(m, "g")
	s.expect(false, "outside the mirror")

	moveTo(m, "g", s.pid)
	s.expect(true, "moved into g through tasks")
	if got := lines(m.read("g/tasks")); !slices.Equal(got, []string{pid}) {
		t.Errorf("g/tasks = %q, want [%s]", got, pid)
	}
	realTasks, err := os.ReadFile(filepath.Join(m.base, "g", "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	if tids := lines(string(realTasks)); len(tids) < 2 || !slices.Contains(tids, pid) {
		t.Errorf("v1's own g/tasks = %q, want every thread of the Go probe", tids)
	}
	m.mustWrite("g/syscalls.allow", "getppid")
	s.expect(false, "after allow in g")
	m.mustWrite("g/syscalls.deny", "getppid")
	s.expect(true, "after deny in g again")

	// One thread moved out on its own through v1's real tasks file: a
	// write of the PID to our tasks brings every thread back, though the
	// main thread is in g already.
	var tid string
	for _, x := range lines(string(realTasks)) {
		if x != pid {
			tid = x
		}
	}
	if err := os.WriteFile(filepath.Join(m.base, "tasks"), []byte(tid), 0); err != nil {
		t.Fatal(err)
	}
	moveTo(m, "g", s.pid)
	again, err := os.ReadFile(filepath.Join(m.base, "g", "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(lines(string(again)), tid) {
		t.Errorf("v1's g/tasks after moving PID %s again = %q, want thread %s back",
			pid, lines(string(again)), tid)
	}

	m.mustWrite("tasks", pid)
	s.expect(false, "moved to the mirror's root through tasks")
	if got := lines(m.read("g/tasks")); len(got) != 0 {
		t.Errorf("g/tasks after the move out = %q, want it empty", got)
	}

	m.mustWrite("g/cgroup.procs", pid)
	s.expect(true, "moved into g through the mirror's cgroup.procs")
	if got := lines(m.read("g/cgroup.procs")); !slices.Equal(got, []string{pid}) {
		t.Errorf("g/cgroup.procs = %q, want [%s]", got, pid)
	}
	m.mustWrite("cgroup.procs", pid)
	s.expect(false, "moved to the root through the mirror's cgroup.procs")

	// Held already, moved into g behind the mount's back: it is judged by
	// g, read from its line of the v1 hierarchy in /proc/PID/cgroup, once
	// the daemon reads that again, within the scan bound.
	err = os.WriteFile(filepath.Join(m.base, "g", "cgroup.procs"), []byte(pid), 0)
	if err != nil {
		t.Fatal(err)
	}
	s.expectSoon(true, "held, moved into g through v1's real cgroup.procs")

	// Garbage and a PID that does not exist fail as on cgroup2.
	if err := m.write("g/tasks", "12x"); err == nil ||
		!strings.Contains(err.Error(), "Invalid argument") {
		t.Errorf("garbage into g/tasks: %v, want Invalid argument", err)
	}
	if err := m.write("g/tasks", "999999999"); err == nil ||
		!strings.Contains(err.Error(), "No such process") {
		t.Errorf("missing PID into g/tasks: %v, want No such process", err)
	}
}

// TestV1Restart: the daemon killed with SIGKILL leaves its member failing
// closed; a new daemon finds the saved policy in the v1 directories'
// attributes and holds the member again, with no write.
func TestV1Restart(t *testing.T) {
	m := newV1Mirror(t)
	s := startServingHere(t)
	denyGetppid(m, "g")
	m.mkdir("g/sub")
	moveTo(m, "g", s.pid)
	s.expect(true, "held in g")

	killDaemon(t, m)
	expectDead(s)
	m.mount()
	ppid := nativeNr(t, "getppid") + " \n"
	for _, g := range []string{"g", "g/sub"} {
		if got := m.read(g + "/syscalls.deny"); got != ppid {
			t.Errorf("%s/syscalls.deny after the restart = %q, want %q", g, got, ppid)
		}
	}
	s.expect(true, "after the restart, with no write")
	if got := lines(m.read("g/tasks")); !slices.Equal(got, []string{strconv.Itoa(s.pid)}) {
		t.Errorf("g/tasks after the restart = %q, want the subject", got)
	}
	m.mustWrite("g/syscalls.allow", "getppid")
	s.expect(false, "after the new daemon's allow")
	m.mustWrite("tasks", strconv.Itoa(s.pid))
}
