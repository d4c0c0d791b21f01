package hold

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce/kernel"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
)

// TestPlacedInGroupNotSeenYet: the mount saw g (its identity in the tree)
// and g is removed and made again before a move into it is carried out
// (the race between a write's look at its group and the move, helper-54):
// the process goes into the new directory while the tree still holds the
// old g's set. Once the mount sees the new g, which starts afresh, the
// process must still be judged by the old g's set, pinned when it was
// placed. The placement took the new directory's identity, and the
// process was judged by the new g's empty set (9 of 22).
func TestPlacedInGroupNotSeenYet(t *testing.T) {
	h, tree, g, getppid := holderOfG(t)
	var st syscall.Stat_t
	if err := syscall.Stat(g, &st); err != nil {
		t.Fatal(err)
	}
	tree.Identify("g", st.Ino) // as the mount's look at it does
	pid := sleeper(t)
	// g made again behind the mount's back, before the move.
	if err := os.Remove(g); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.Move(fs.Caller{Pid: os.Getpid()}, pid, "g"); err != nil {
		t.Fatal(err)
	}
	// The mount now sees the new g, which starts from its parent's set.
	if err := syscall.Stat(g, &st); err != nil {
		t.Fatal(err)
	}
	tree.Remove("g")
	tree.Ensure("g")
	tree.Identify("g", st.Ino)
	if d, _ := tree.Denied("g"); !d.Empty() {
		t.Fatalf("the new g denies %v, want nothing", d.Numbers())
	}
	n := supervise.Notif{Pid: pid, Holder: pid, Arch: h.a.Native.AuditArch, Nr: getppid}
	if h.Decide(&n) {
		t.Errorf("getppid of the process placed in g while g was made again: allowed, " +
			"want denied by the set pinned in the old g")
	}
}

// holderOfG makes a cgroup under the cgroup2 mount with a group g in it,
// a tree in which g denies getppid, and a Holder of that cgroup, all gone
// when tb ends; it skips where it cannot make them. It returns the Holder,
// the tree, g's real directory and getppid's number.
func holderOfG(tb testing.TB) (*Holder, *policy.Tree, string, int) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: makes cgroups")
	}
	a := arch.Host()
	base, err := os.MkdirTemp("/sys/fs/cgroup/unified", "cgsyscall-test-")
	if err != nil {
		tb.Skip("no cgroup2 at /sys/fs/cgroup/unified: ", err)
	}
	tb.Cleanup(func() { os.Remove(base) })
	g := filepath.Join(base, "g")
	if err := os.Mkdir(g, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.Remove(g) })
	tree := policy.NewTree(a)
	getppid, _ := a.Native.SyscallNumber("getppid")
	if err := tree.Ensure("g"); err != nil {
		tb.Fatal(err)
	}
	if err := tree.Deny("g", policy.NewSet(getppid)); err != nil {
		tb.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.ErrorLevel)
	h, err := New(a, tree, base, false, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		h.Close()
		os.Remove(filepath.Join(placementDir,
			"placements-"+strings.ReplaceAll(strings.Trim(base, "/"), "/", "_")))
	})
	return h, tree, g, getppid
}

// TestAnchorOfOtherThread: a record that anchorOf cached for a thread
// that has exited (its watch is not the TID's any more) is not the record
// of the thread that takes its TID next. Here the TID's new thread is a
// process outside the mirror that was never placed: its getppid must be
// allowed, not judged by the stale record's anchor g. helper-59 found a
// record stored after its thread's exit was seen; a thread of another
// process that took the TID a PID wrap later was judged by it (6 of 6,
// there a laxer anchor instead of the victim's own).
func TestAnchorOfOtherThread(t *testing.T) {
	h, _, _, getppid := holderOfG(t)
	pid := sleeper(t)
	// Where threads cannot be watched (before Linux 6.9), a record of a
	// thread other than the main one holds its process's watch and asks
	// whether the TID is a thread of that process: here this test's
	// process, which lives, and of which pid is no thread.
	n := supervise.Notif{Pid: pid, Holder: pid, Arch: h.a.Native.AuditArch, Nr: getppid}
	for _, stale := range []*anchorEntry{
		{p: newProc(1, nil, "g"), at: time.Now(), r: ref{w: &watch{fd: -1}}},
		{p: newProc(1, nil, "g"), at: time.Now(),
			r: ref{w: h.tids.watch(os.Getpid()), tgid: os.Getpid()}},
	} {
		h.anchors.Store(pid, stale)
		if !h.Decide(&n) {
			t.Errorf("getppid of a process never placed, outside the mirror, whose TID had "+
				"a stale record anchored in g (of process %d): denied, want allowed",
				stale.r.tgid)
		}
		v, ok := h.anchors.Load(pid)
		if !ok {
			t.Fatalf("no record cached for PID %d after its decided call", pid)
		}
		if e := v.(*anchorEntry); e == stale || e.p != nil || !h.threadIs(pid, e) {
			t.Errorf("record of PID %d after its call: stale %v, process %v, the thread's %v; "+
				"want a new miss for the thread", pid, e == stale, e.p, h.threadIs(pid, e))
		}
	}
	// A record that stands for the live thread, by its process's watch
	// and its TID, anchored in g, judges the call.
	defer kernel.PidfdThread.Disable()()
	r := ref{w: h.tids.watch(pid), tgid: pid}
	if r.w == nil {
		t.Fatalf("no watch of process %d", pid)
	}
	h.anchors.Store(pid, &anchorEntry{p: newProc(1, nil, "g"), at: time.Now(), r: r})
	if h.Decide(&n) {
		t.Errorf("getppid with a record standing for the thread by its process, anchored " +
			"in g: allowed, want denied")
	}
}

// sleeper starts a process that sleeps until tb ends, and returns its PID.
func sleeper(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}
