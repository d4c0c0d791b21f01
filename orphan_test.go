package cgsyscall_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOrphanOfHeldIsHeld: a held process forks a child and exits before
// the child makes any call its layer hands over, so the daemon never heard
// of the child, which init adopts. Moved into a group that denies a call
// that layer does not cover, the child is held all the same (its layer is
// found from its filter chain and grows), and the call fails from then on.
func TestOrphanOfHeldIsHeld(t *testing.T) { orphanOfHeld(t, false) }

// TestOrphanAfterRestartIsHeld is TestOrphanOfHeldIsHeld with the daemon
// killed and mounted again before the move, and the orphan's grandparent
// (the held process, a shell) alive: the new daemon takes the layer back
// from the keeper and finds its program in the shell's chain by its tag,
// made with the key kept in the placement log. (An orphan whose held
// parent exited before the restart cannot be moved after it: the new
// daemon serves that layer's listener, but cannot read its program from a
// process; the move fails with EBUSY.)
func TestOrphanAfterRestartIsHeld(t *testing.T) { orphanOfHeld(t, true) }

func orphanOfHeld(t *testing.T, restart bool) {
	prog := cProgram(t, "orphan")
	m := liveMirror(t)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "uname")
	m.mkdir("h")
	m.mustWrite("h/syscalls.deny", "uname getpid")

	out := filepath.Join(t.TempDir(), "orphan.out")
	// Not through run: the orphan would keep its output pipes open.
	if !restart {
		if err := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "g", "--", prog,
			out).Run(); err != nil {
			t.Fatalf("exec of the orphan's parent: %v", err)
		}
	} else {
		sh := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "g", "--", "/bin/sh", "-c",
			`"$0" "$1"; exec sleep 30`, prog, out)
		if err := sh.Start(); err != nil {
			t.Fatalf("exec of the orphan's grandparent: %v", err)
		}
		t.Cleanup(func() {
			killMembers(t, m) // the shell's sleep
			sh.Process.Kill()
			sh.Wait()
		})
	}
	var pid int
	for i := 0; pid == 0; i++ {
		b, _ := os.ReadFile(out)
		if first, _, ok := strings.Cut(string(b), "\n"); ok {
			pid, _ = strconv.Atoi(first)
		}
		if i == 100 {
			t.Fatal("the orphan wrote no PID within 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		// Not our child: init reaps it; wait until it is gone.
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 200; i++ {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	if restart {
		killDaemon(t, m)
		persistRemount(t, m)
	}
	if err := m.write("h/tasks", strconv.Itoa(pid)); err != nil {
		t.Fatalf("moving the orphan into h: %v", err)
	}
	// The orphan's calls start 1.5 s after its fork; give it time for a
	// dozen after that.
	time.Sleep(2 * time.Second)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
	if len(lines) < 5 {
		t.Fatalf("the orphan made %d calls in 2 s", len(lines))
	}
	for i, ln := range lines {
		if ln != "getpid -38" {
			t.Fatalf("call %d of the orphan in h: %q, want getpid -38", i+1, ln)
		}
	}
}

// TestOrphanGivenToReaper: P, held in L (uname denied), may receive
// orphans: a child subreaper before its hold ("subreaper") or after it
// ("late": it execs testdata/subreaper, whose prctl the layer hands over),
// or through a child Q that is the init of a pid namespace ("pidns"). Its
// child H is moved through the mount into L/S (getppid denied too); a probe
// X that a subshell of H starts and leaves is born in S and given to P (or
// Q), whose parent line leads to L. Once X had moved itself into L behind
// the mount's back, the daemon judged it by L and let its getppid run
// (helper-44: 12 of 12, 3 of 3 late, 3 of 3 pidns). It must fail, also after
// the scans, and after a restart; a deny in S made after X was met must
// reach it too.
//
// In the "grand" variants the orphan is a shell that starts X: X's parent
// never was a reaper, its grandparent is (helper-46: 20 of 20).
func TestOrphanGivenToReaper(t *testing.T) {
	for _, how := range []string{"subreaper", "late", "pidns"} {
		t.Run(how, func(t *testing.T) { orphanGivenToReaper(t, how, false, false) })
	}
	for _, how := range []string{"subreaper", "pidns"} {
		t.Run(how+"/grand", func(t *testing.T) { orphanGivenToReaper(t, how, true, false) })
	}
	t.Run("subreaper/scan", func(t *testing.T) { orphanGivenToReaper(t, "subreaper", false, true) })
	t.Run("subreaper/grand/scan", func(t *testing.T) {
		orphanGivenToReaper(t, "subreaper", true, true)
	})
}

// orphanGivenToReaper: with scanFirst, the daemon's scan meets the orphan
// before its first decided call (the test lets one run), and records it
// from its chain: taken for a process placed where it was met, it made
// getppid after a restart (aarch64 runs under qemu, where the scan came
// first by chance: 3 of 4; 2 of 2 here with the wait).
func orphanGivenToReaper(t *testing.T, how string, grand, scanFirst bool) {
	subreaper := cProgram(t, "subreaper")
	if how == "pidns" {
		for _, tool := range []string{"unshare", "nsenter"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s is not installed", tool)
			}
		}
	}
	m := liveMirror(t)
	m.mkdir("L")
	m.mustWrite("L/syscalls.deny", "uname")
	m.mkdir("L/S")
	m.mustWrite("L/S/syscalls.deny", "getppid")
	loop := `while read -r l; do eval "$l"; done`
	var p *live
	if how == "subreaper" {
		p = startLive(t, m.base, subreaper, "bash", "-c", loop)
	} else {
		p = evalShell(t, m.base)
	}
	moveTo(m, "L", p.pid)
	reaper := p.pid
	switch how {
	case "late":
		p.send("exec " + subreaper + " bash -c '" + loop + "'")
	case "pidns":
		p.send("unshare -p -f sleep 600 & echo $!")
		u, err := strconv.Atoi(p.next())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { killGone(t, u) })
		if reaper = childOf(t, u, "sleep"); reaper == 0 {
			t.Fatalf("unshare %d started no sleep", u)
		}
		q := reaper
		t.Cleanup(func() { killGone(t, q) })
	}
	h := childShell(t, p)
	moveTo(m, "L/S", h.pid)
	f := newFIFOs(t)
	start := bin.probe + " -serve < " + f.in + " > " + f.out + " &"
	if grand {
		// The shell waits for X, then makes one more command.
		start = `sh -c "` + bin.probe + " -serve < " + f.in + " > " + f.out + `; :" &`
	}
	if how == "pidns" {
		h.send("nsenter -t " + strconv.Itoa(reaper) + " -p -- sh -c '" + start + " exit'")
	} else {
		h.send("( " + start + " )")
	}
	x := f.open(t)
	if how == "pidns" {
		// Its PID in the namespace is not the one to end it by: it is
		// found among Q's children (or the orphaned shell's) by name.
		if l := x.next(); !strings.HasPrefix(l, "ready ") {
			t.Fatalf("the probe printed %q", l)
		}
		parent := reaper
		if grand {
			if parent = childOf(t, reaper, "sh"); parent == 0 {
				t.Fatalf("no shell was given to the namespace's init %d", reaper)
			}
		}
		if x.pid = childOf(t, parent, "probe"); x.pid == 0 {
			t.Fatalf("no probe under %d", parent)
		}
		pid := x.pid
		t.Cleanup(func() { killGone(t, pid) })
	} else {
		x.ready()
		up := func() int {
			if grand {
				return parentPID(t, parentPID(t, x.pid))
			}
			return parentPID(t, x.pid)
		}
		for i := 0; up() != reaper; i++ {
			if i == 100 {
				t.Fatalf("the probe's line leads to %d, want %d", up(), reaper)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if grand {
			// The shell waits for X: ended first, it is gone before the
			// test's cgroups are looked at (on a slow machine it was not).
			sh := parentPID(t, x.pid)
			t.Cleanup(func() { killGone(t, sh) })
		}
	}
	if scanFirst {
		waitScans(t, m, 1)
	}
	if got := x.call("getppid")["getppid"]; got != "-38" {
		t.Fatalf("the orphan's getppid in S: %s, want -38", got)
	}
	intoL := "write:" + filepath.Join(m.base, "L", "cgroup.procs") + ":0"
	if got := x.call(intoL, "getppid"); got[intoL] != "0" || got["getppid"] != "-38" {
		t.Errorf("the orphan moved into L behind the mount's back: %v, want 0 and getppid -38",
			got)
	}
	waitScans(t, m, 2)
	if got := x.call("getppid", "uname")["getppid"]; got != "-38" {
		t.Errorf("the orphan in L after two scans: getppid %s, want -38", got)
	}
	// A deny in S after X was met reaches it, as it reaches a child born in
	// S that stayed under H (helper-47: judged by what S denied when X was
	// met, X made sysinfo, 5 of 5), before the write returns, also with S
	// empty (helper-48: at the next scan, 8 of 8).
	h.send("exit")
	waitGone(t, h.pid)
	m.mustWrite("L/S/syscalls.deny", "sysinfo")
	if got := x.call("sysinfo")["sysinfo"]; got != "-38" {
		t.Errorf("the orphan in L after a deny of sysinfo in S: %s, want -38", got)
	}
	remount(t, m)
	if got := x.call("getppid")["getppid"]; got != "-38" {
		t.Errorf("the orphan in L after a restart: getppid %s, want -38", got)
	}
}

// childOf waits up to two seconds for a child of process pid named comm
// and returns its PID, 0 if none came.
func childOf(t *testing.T, pid int, comm string) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) +
			"/children")
		for _, f := range strings.Fields(string(b)) {
			c, _ := os.ReadFile("/proc/" + f + "/comm")
			if strings.TrimSpace(string(c)) == comm {
				n, _ := strconv.Atoi(f)
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// TestShellNotTakenForReaper: a held shell P that is no subreaper, in L,
// which denies prctl, has its layer grown (a deny of getuid); the growth
// asks P again whether it is a subreaper, through its first layer, which
// lets PR_GET_CHILD_SUBREAPER run for that. P's child H is then placed in
// L/S (getppid denied). A probe P starts after that is P's own child and is
// judged by L: its getppid runs. Had the question failed (ENOSYS from the
// layer, as for any other prctl option), P would count as a subreaper and
// the probe be judged by S too.
func TestShellNotTakenForReaper(t *testing.T) {
	m := liveMirror(t)
	m.mkdir("L")
	m.mustWrite("L/syscalls.deny", "uname prctl")
	m.mkdir("L/S")
	m.mustWrite("L/S/syscalls.deny", "getppid")
	p := evalShell(t, m.base)
	moveTo(m, "L", p.pid)
	m.mustWrite("L/syscalls.deny", "getuid")
	h := childShell(t, p)
	moveTo(m, "L/S", h.pid)
	f := newFIFOs(t)
	p.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
	x := f.open(t)
	x.ready()
	want := map[string]string{"getppid": strconv.Itoa(p.pid), "uname": "-38", "getuid": "-38"}
	if got := x.call("getppid", "uname", "getuid"); !maps.Equal(got, want) {
		t.Errorf("the shell's own child in L: %v, want %v", got, want)
	}
}

// TestHolderPidReused: H, held in L/S (getppid denied) with a layer of its
// own, starts a probe X, which leaves for the mirror's root behind the
// mount's back and makes no call the daemon decides; H exits. Z, started
// with H's PID (testdata/withpid), is held in F, which denies only acct.
// The daemon kept the holder of each listener by the listener's label, the
// holder's PID: Z's record took H's place, and X, moved into L behind the
// mount's back, was judged by L and F and made getppid (helper-47, 4 of
// 4). Z's listener gets a label of its own; X's getppid fails.
func TestHolderPidReused(t *testing.T) {
	withpid := cProgram(t, "withpid")
	m := liveMirror(t)
	m.mkdir("L")
	m.mustWrite("L/syscalls.deny", "uname")
	m.mkdir("L/S")
	m.mustWrite("L/S/syscalls.deny", "getppid")
	m.mkdir("F")
	m.mustWrite("F/syscalls.deny", "acct")
	h := evalShell(t, m.base)
	moveTo(m, "L/S", h.pid)
	f := newFIFOs(t)
	h.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
	x := f.open(t)
	x.ready()
	toRoot := "write:" + filepath.Join(m.base, "cgroup.procs") + ":0"
	if got := x.call(toRoot)[toRoot]; got != "0" {
		t.Fatalf("the probe's move to the root: %s", got)
	}
	hpid := h.pid
	h.send("exit")
	h.cmd.Wait() // reaped: a zombie keeps its PID
	z := startLive(t, m.base, withpid, strconv.Itoa(hpid), "bash", "-c",
		`echo $$; while read -r l; do eval "$l"; done`)
	if l := z.next(); l != strconv.Itoa(hpid) {
		t.Skipf("no process with PID %d (%q): the PID was taken again meanwhile", hpid, l)
	}
	t.Cleanup(func() { killGone(t, hpid) })
	moveTo(m, "F", hpid)
	intoL := "write:" + filepath.Join(m.base, "L", "cgroup.procs") + ":0"
	if got := x.call(intoL, "getppid"); got[intoL] != "0" || got["getppid"] != "-38" {
		t.Errorf("the probe moved into L: %v, want 0 and getppid -38", got)
	}
	waitScans(t, m, 2)
	if got := x.call("getppid")["getppid"]; got != "-38" {
		t.Errorf("the probe in L after two scans: getppid %s, want -38", got)
	}
}

// TestWideSharerDeny: X, a probe that shares nothing yet
// (testdata/sharevm -serve), is born in L/S (getppid denied) under H, a
// child of P held in L, and left to init: met with no held ancestor, it is
// judged by every group its layer was placed in. H exits, and the test
// moves X into L behind the mount's back, where X starts a process that
// shares its memory. A deny in L/S must reach X, whose layer cannot grow:
// the write fails with EBUSY (helper-48: it returned 0 and X made the call,
// 2 of 2; with X's memory not shared the deny reached it only at the next
// scan, 8 of 8). After a restart X is not held again (it shares its
// memory), is not killed for it (helper-48: taken for a process that had
// loaded a listener of its own, 3 of 3), and is still judged by L/S.
func TestWideSharerDeny(t *testing.T) {
	prog := buildC(t, "testdata/sharevm/sharevm.c")
	m, h := placedFamily(t)
	f := newFIFOs(t)
	h.send("( " + prog + " -serve < " + f.in + " > " + f.out + " & )")
	x := f.open(t)
	x.ready()
	if got := x.call("getppid")["getppid"]; got != "-38" {
		t.Fatalf("the orphan's getppid in S: %s, want -38", got)
	}
	h.send("exit")
	waitGone(t, h.pid)
	if err := os.WriteFile(filepath.Join(m.base, "L", "cgroup.procs"),
		[]byte(strconv.Itoa(x.pid)), 0); err != nil {
		t.Fatal(err)
	}
	x.send("share")
	if l := x.next(); !strings.HasPrefix(l, "share ") || strings.HasPrefix(l, "share -") {
		t.Fatalf("share: %q", l)
	}
	err := m.write("L/S/syscalls.deny", "sysinfo")
	if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
		t.Errorf("a deny in S, which X's layer cannot grow for: %v, want EBUSY", err)
	}
	remount(t, m)
	waitScans(t, m, 1)
	if got := x.call("getppid")["getppid"]; got != "-38" {
		t.Errorf("the orphan after a restart: getppid %s, want -38", got)
	}
}

// TestWideParentPlacesChild: X, a shell born in L/S (getppid denied) under
// H and left to init, is judged by every group its layer was placed in.
// After H exits, X moves itself into L behind the mount's back, starts a
// probe Y that makes no call, and writes Y's PID into L's tasks file
// through the mount. Y, born to X, was recorded as placed in L and made
// getppid (helper-49, 3 of 3; through cgsyscall exec 4 of 4): a writer that
// may carry a layer does not make a record exact, and Y is judged as X is.
func TestWideParentPlacesChild(t *testing.T) {
	m, h := placedFamily(t)
	fx := newFIFOs(t)
	h.send(`( bash -c 'echo ready $$; while read -r l; do eval "$l"; done' < ` + fx.in +
		` > ` + fx.out + ` & )`)
	x := fx.open(t)
	x.ready()
	// Met through a call its layer hands over, with no held ancestor.
	x.send(bin.probe + " getppid")
	if l := x.next(); l != "getppid -38" {
		t.Fatalf("X's child in S: %q, want getppid -38", l)
	}
	h.send("exit")
	waitGone(t, h.pid)
	x.send("echo 0 > " + filepath.Join(m.base, "L", "cgroup.procs") + "; echo moved $?")
	if l := x.next(); l != "moved 0" {
		t.Fatalf("X's move into L behind the mount's back: %q", l)
	}
	fy := newFIFOs(t)
	x.send(bin.probe + " -serve < " + fy.in + " > " + fy.out + " & echo $!")
	ypid := x.next()
	y := fy.open(t)
	if l := y.ready(); l != ypid {
		t.Fatalf("the probe is %s, X started %s", l, ypid)
	}
	x.send("echo " + ypid + " > " + filepath.Join(m.mnt, "L", "tasks") + "; echo placed $?")
	if l := x.next(); l != "placed 0" {
		t.Fatalf("X placing Y in L: %q", l)
	}
	if got := y.call("getppid", "uname"); got["getppid"] != "-38" || got["uname"] != "-38" {
		t.Errorf("Y placed in L by X: %v, want getppid -38 and uname -38", got)
	}
}

// TestAnchorRemadeBehindItsBack: X, H's child in L/S (getppid denied),
// moves itself into L behind the mount's back; L/S, empty, is removed and
// made again through the mount (it starts with L's set). X's group was
// cached as L/S: taken for a process inside its anchor, it was judged by
// the new L/S alone and made getppid until the next scan (helper-49, 13 of
// 13 over three ways of removing it). The pinned set of its anchor judges
// it at once.
func TestAnchorRemadeBehindItsBack(t *testing.T) {
	m, h := placedFamily(t)
	f := newFIFOs(t)
	h.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
	x := f.open(t)
	x.ready()
	intoL := "write:" + filepath.Join(m.base, "L", "cgroup.procs") + ":0"
	if got := x.call("getppid", intoL); got["getppid"] != "-38" || got[intoL] != "0" {
		t.Fatalf("X in S, then moving into L: %v", got)
	}
	h.send("echo 0 > " + filepath.Join(m.base, "L", "cgroup.procs"))
	for i := 0; ; i++ {
		b, _ := os.ReadFile(filepath.Join(m.base, "L", "S", "cgroup.procs"))
		if len(b) == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("L/S keeps %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.Remove(filepath.Join(m.mnt, "L", "S")); err != nil {
		t.Fatal(err)
	}
	m.mkdir("L/S")
	for i := 0; i < 5; i++ {
		if got := x.call("getppid")["getppid"]; got != "-38" {
			t.Fatalf("X's getppid %d after L/S was made again: %s, want -38", i, got)
		}
	}
}

// TestPlacedInRemadeGroup: E, a probe placed in L/S (getppid denied)
// through the mount, moves itself into L behind the mount's back; L/S is
// removed and made again through the mount (with L's set), and E moves
// itself into the new L/S. Inside a group of its anchor's path, it was
// judged by that group's set alone and made getppid (helper-50: a confined
// root process, 3 of 3); the group it was placed in is gone, and the set
// pinned there judges it.
func TestPlacedInRemadeGroup(t *testing.T) {
	m := liveMirror(t)
	m.mkdir("L")
	m.mustWrite("L/syscalls.deny", "uname")
	m.mkdir("L/S")
	m.mustWrite("L/S/syscalls.deny", "getppid")
	e := startLive(t, m.base, bin.probe, "-serve")
	e.ready()
	moveTo(m, "L/S", e.pid)
	intoL := "write:" + filepath.Join(m.base, "L", "cgroup.procs") + ":0"
	if got := e.call("getppid", intoL); got["getppid"] != "-38" || got[intoL] != "0" {
		t.Fatalf("E in S, then moving into L: %v", got)
	}
	if err := os.Remove(filepath.Join(m.mnt, "L", "S")); err != nil {
		t.Fatal(err)
	}
	m.mkdir("L/S")
	intoS := "write:" + filepath.Join(m.base, "L", "S", "cgroup.procs") + ":0"
	if got := e.call(intoS, "getppid"); got[intoS] != "0" || got["getppid"] != "-38" {
		t.Errorf("E moved into the new L/S: %v, want 0 and getppid -38", got)
	}
	waitScans(t, m, 1)
	if got := e.call("getppid")["getppid"]; got != "-38" {
		t.Errorf("E in the new L/S after a scan: getppid %s, want -38", got)
	}
}

// TestRemadeAnchorsChild: a shell H placed in L/S moves itself into L
// behind the mount's back; L/S is removed and made again through the
// mount, and H moves itself into the new L/S (behind the mount's back, or
// through it), then starts a probe, and places it in the new L/S through
// the mount. H and the probe must be judged by the set pinned in the old
// L/S. The probe, met as H's child and anchored where H is, was judged by
// the new group's set and made getppid (found while fixing helper-50 F1
// across a restart), and so was H once it placed itself through the
// mount. With "restart", the daemon is restarted once L/S was made again:
// the tree then begins with the new L/S, whose identity only the real
// cgroup keeps (helper-50 F1 across a restart, 3 of 3).
func TestRemadeAnchorsChild(t *testing.T) {
	for _, restart := range []bool{false, true} {
		for _, through := range []string{"real", "mount"} {
			t.Run(fmt.Sprintf("restart=%v/%s", restart, through), func(t *testing.T) {
				remadeAnchorsChild(t, restart, through)
			})
		}
	}
}

func remadeAnchorsChild(t *testing.T, restart bool, through string) {
	m := liveMirror(t)
	m.mkdir("L")
	m.mustWrite("L/syscalls.deny", "uname")
	m.mkdir("L/S")
	m.mustWrite("L/S/syscalls.deny", "getppid")
	h := evalShell(t, m.base)
	moveTo(m, "L/S", h.pid)
	h.send("echo 0 > " + filepath.Join(m.base, "L", "cgroup.procs") + "; echo moved $?")
	if l := h.next(); l != "moved 0" {
		t.Fatalf("H moving itself into L: %q, want moved 0", l)
	}
	if err := os.Remove(filepath.Join(m.mnt, "L", "S")); err != nil {
		t.Fatal(err)
	}
	m.mkdir("L/S")
	if restart {
		remount(t, m)
	}
	into := filepath.Join(m.base, "L", "S", "cgroup.procs")
	if through == "mount" {
		into = filepath.Join(m.mnt, "L", "S", "tasks")
	}
	h.send("echo 0 > " + into + "; echo moved $?")
	if l := h.next(); l != "moved 0" {
		t.Fatalf("H moving itself into the new L/S: %q, want moved 0", l)
	}
	f := newFIFOs(t)
	h.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
	x := f.open(t)
	x.ready()
	want := map[string]string{"getppid": "-38", "uname": "-38"}
	if got := x.call("getppid", "uname"); !maps.Equal(got, want) {
		t.Errorf("H's child in the new L/S: %v, want %v", got, want)
	}
	h.send("echo " + strconv.Itoa(x.pid) + " > " + filepath.Join(m.mnt, "L", "S", "tasks") +
		"; echo moved $?")
	if l := h.next(); l != "moved 0" {
		t.Fatalf("H placing its child in the new L/S: %q, want moved 0", l)
	}
	if got := x.call("getppid", "uname"); !maps.Equal(got, want) {
		t.Errorf("H's child placed by H in the new L/S: %v, want %v", got, want)
	}
	h.send(bin.probe + " getppid")
	if l := h.next(); l != "getppid -38" {
		t.Errorf("a probe H runs: %q, want getppid -38", l)
	}
	waitScans(t, m, 1)
	if got := x.call("getppid", "uname"); !maps.Equal(got, want) {
		t.Errorf("H's child in the new L/S after a scan: %v, want %v", got, want)
	}
}

// TestPlacedIntoUnseenRemake: a shell H placed in L (getppid denied)
// keeps a way to write into L's files that looks nothing up (a descriptor
// of L/tasks, or its working directory inside L with the mirrored
// cgroup.procs), moves itself out behind the mount's back, removes and
// makes L again on the real cgroupfs, and places itself in the new L
// through that way. Then the mount looks L up, or the daemon restarts:
// both give L the new group's empty set. H must stay judged by the old
// L's set. The write took the new group's identity for the old one (the
// tree had not seen it), and H made getppid (helper-52, 12 of 12).
func TestPlacedIntoUnseenRemake(t *testing.T) {
	for _, way := range []string{"descriptor", "cwd"} {
		for _, then := range []string{"lookup", "restart"} {
			t.Run(way+"/"+then, func(t *testing.T) {
				m := liveMirror(t)
				denyGetppid(m, "L")
				m.mkdir("F")
				h := evalShell(t, m.base)
				moveTo(m, "L", h.pid)
				do := h.do
				write := "echo 0 >&9"
				if way == "descriptor" {
					l := do("exec 9> " + m.path("L", "tasks") + "; echo open $?")
					if l != "open 0" {
						t.Fatalf("opening L/tasks: %q", l)
					}
				} else {
					write = "echo 0 > cgroup.procs"
					if l := do("cd " + m.path("L") + "; echo cd $?"); l != "cd 0" {
						t.Fatalf("cd into L: %q", l)
					}
				}
				realL := filepath.Join(m.base, "L")
				if l := do("echo 0 > " + filepath.Join(m.base, "F", "cgroup.procs") +
					" && rmdir " + realL + " && mkdir " + realL + " && " + write +
					"; echo done $?"); l != "done 0" {
					t.Fatalf("H's steps: %q", l)
				}
				if then == "restart" {
					do("exec 9>&- ; cd /; echo closed")
					remount(t, m)
				}
				if got := m.read("L/syscalls.deny"); got != "\n" {
					t.Fatalf("the new L's syscalls.deny: %q, want nothing denied", got)
				}
				probeStaysDenied(t, m, h, "in the new L")
				do("cd /; echo left")
			})
		}
	}
}

// TestPlacedBelowRemadeAncestor: a shell H placed in L (getppid denied)
// keeps its working directory in the mount's L, moves itself to the top
// group behind the mount's back, makes L and L/S again on the real
// cgroupfs, and places itself in S through its working directory (the old
// L's node, whose S takes the old L's set). Once the mount sees the new
// L, S starts afresh from it: H must stay judged by the set pinned at the
// placement. S kept its identity, and H made getppid (helper-55, 4 of 4).
func TestPlacedBelowRemadeAncestor(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "L")
	h := evalShell(t, m.base)
	moveTo(m, "L", h.pid)
	do := h.do
	realL := filepath.Join(m.base, "L")
	if l := do("cd " + m.path("L") + " && echo 0 > " + filepath.Join(m.base, "cgroup.procs") +
		" && rmdir " + realL + " && mkdir " + realL + " " + realL + "/S && echo 0 > S/tasks" +
		"; echo done $?"); l != "done 0" {
		t.Fatalf("H's steps: %q", l)
	}
	if l := do(bin.probe + " getppid"); l != "getppid -38" {
		t.Errorf("a probe H runs in S: %q, want getppid -38", l)
	}
	do("cd /; echo left")
	if got := m.read("L/syscalls.deny"); got != "\n" {
		t.Fatalf("the new L's syscalls.deny: %q, want nothing denied", got)
	}
	probeStaysDenied(t, m, h, "in S once the mount saw the new L")
}

// TestLaterDenyOutlivesGroup: a shell H placed in F (uname denied), then
// getppid denied in F, then H moves itself to the top group behind the
// mount's back; F is removed (through the mount, or on the real cgroupfs
// and made again, H moving into the new F), with or without a restart.
// H stays judged by F's set as it was when F went: getppid denied too. The
// numbers pinned at the placement were F's set then, uname alone, and the
// later deny was lost with F (helper-55, 3 of 3 in each of four ways).
func TestLaterDenyOutlivesGroup(t *testing.T) {
	for _, how := range []string{"rmdir", "remake"} {
		for _, restart := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/restart=%v", how, restart), func(t *testing.T) {
				m := liveMirror(t)
				m.mkdir("F")
				m.mustWrite("F/syscalls.deny", "uname")
				h := evalShell(t, m.base)
				moveTo(m, "F", h.pid)
				do := h.do
				m.mustWrite("F/syscalls.deny", "getppid")
				realF := filepath.Join(m.base, "F")
				if l := do("echo 0 > " + filepath.Join(m.base, "cgroup.procs") +
					"; echo moved $?"); l != "moved 0" {
					t.Fatalf("H moving itself to the top group: %q", l)
				}
				switch how {
				case "rmdir":
					if err := os.Remove(m.path("F")); err != nil {
						t.Fatal(err)
					}
				case "remake":
					if l := do("rmdir " + realF + " && mkdir " + realF + " && echo 0 > " +
						filepath.Join(realF, "cgroup.procs") + "; echo done $?"); l != "done 0" {
						t.Fatalf("H's remake of F: %q", l)
					}
					if got := m.read("F/syscalls.deny"); got != "\n" {
						t.Fatalf("the new F's syscalls.deny: %q, want nothing denied", got)
					}
				}
				if restart {
					remount(t, m)
				}
				for _, when := range []string{"at once", "after a scan"} {
					if l := do(bin.probe + " getppid uname"); l != "getppid -38" {
						t.Errorf("a probe H runs %s: %q, want getppid -38", when, l)
					}
					if l := h.next(); l != "uname -38" {
						t.Errorf("a probe H runs %s: %q, want uname -38", when, l)
					}
					waitScans(t, m, 1)
				}
			})
		}
	}
}

// TestLaterDenyReachesUnrecorded: Z denies getppid (so every layer hands
// it to the daemon) and F uname. A process C that carries a layer placed
// in F, with no record of its own, leaves F behind the mount's back; then
// getppid is denied in F and F is removed, with a restart in between. C
// must get ENOSYS for getppid. Two kinds of C: a child of a shell held in
// F that made no decided call ("child", restart after the removal: the
// layer's places in the placement log kept F's set as it was, helper-56,
// 4 of 4), and an orphan of an exited held shell ("orphan", restart before
// the deny: judged through a listener taken back from the keeper, whose
// placement the deny did not reach, helper-56, 4 of 4).
func TestLaterDenyReachesUnrecorded(t *testing.T) {
	for _, kind := range []string{"child", "orphan"} {
		t.Run(kind, func(t *testing.T) {
			m := liveMirror(t)
			m.mkdir("Z")
			m.mustWrite("Z/syscalls.deny", "getppid")
			m.mkdir("F")
			m.mustWrite("F/syscalls.deny", "uname")
			var c, h *live
			if kind == "child" {
				h = evalShell(t, m.base)
				moveTo(m, "F", h.pid)
				f := newFIFOs(t)
				h.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
				c = f.open(t)
				c.ready()
			} else {
				c = orphansOfExitedHolder(t, m, "F", 1)[0]
			}
			top := "write:" + filepath.Join(m.base, "cgroup.procs") + ":0"
			if got := c.call(top)[top]; got != "0" {
				t.Fatalf("C's move to the top group: %s", got)
			}
			if kind == "orphan" {
				remount(t, m)
			}
			m.mustWrite("F/syscalls.deny", "getppid")
			if h != nil {
				moveTo(m, "", h.pid)
			}
			if err := os.Remove(m.path("F")); err != nil {
				t.Fatal(err)
			}
			if kind == "child" {
				remount(t, m)
			}
			for _, when := range []string{"at once", "after a scan"} {
				if got := c.call("getppid", "uname"); got["getppid"] != "-38" ||
					got["uname"] != "-38" {
					t.Errorf("C %s: %v, want getppid and uname -38", when, got)
				}
				waitScans(t, m, 1)
			}
		})
	}
}

// TestLaterDenyAfterPlaceEmptied: X, an orphan of H (placed in L/S, a
// child of P held in L), is judged by its layer's places; it moves itself
// into L behind the mount's back and H exits, so that no process is
// anchored in L/S. sysinfo is then denied in L/S, and L/S removed (with a
// restart after, or none): X must get ENOSYS for sysinfo. The deny reached
// the layer's places only through a process anchored there (helper-57, 4
// of 4).
func TestLaterDenyAfterPlaceEmptied(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			m, h := placedFamily(t)
			f := newFIFOs(t)
			h.send("( " + bin.probe + " -serve < " + f.in + " > " + f.out + " & )")
			x := f.open(t)
			x.ready()
			if got := x.call("getppid")["getppid"]; got != "-38" {
				t.Fatalf("X's getppid in L/S: %s, want -38", got)
			}
			intoL := "write:" + filepath.Join(m.base, "L", "cgroup.procs") + ":0"
			if got := x.call(intoL)[intoL]; got != "0" {
				t.Fatalf("X's move into L: %s", got)
			}
			h.send("exit")
			waitGone(t, h.pid)
			m.mustWrite("L/S/syscalls.deny", "sysinfo")
			if got := x.call("sysinfo")["sysinfo"]; got != "-38" {
				t.Fatalf("X's sysinfo once denied in L/S: %s, want -38", got)
			}
			if err := os.Remove(m.path("L/S")); err != nil {
				t.Fatal(err)
			}
			if restart {
				remount(t, m)
			}
			for _, when := range []string{"at once", "after a scan"} {
				got := x.call("sysinfo", "getppid", "uname")
				if got["sysinfo"] != "-38" || got["getppid"] != "-38" || got["uname"] != "-38" {
					t.Errorf("X %s after L/S was removed: %v, want all -38", when, got)
				}
				waitScans(t, m, 1)
			}
		})
	}
}

// TestAncestorDenyAfterRemoval: Q, placed in P/B (uname denied), moves
// itself to the top group behind the mount's back; P/B is removed, then P
// denies getppid: Q must get ENOSYS for it, as for a deny in P before the
// removal. The removed group's set, nothing, was added (helper-57, 4 of
// 4).
func TestAncestorDenyAfterRemoval(t *testing.T) {
	m := liveMirror(t)
	m.mkdir("P")
	m.mkdir("P/B")
	m.mustWrite("P/B/syscalls.deny", "uname")
	q := startLive(t, m.base, bin.probe, "-serve")
	q.ready()
	moveTo(m, "P/B", q.pid)
	top := "write:" + filepath.Join(m.base, "cgroup.procs") + ":0"
	if got := q.call(top)[top]; got != "0" {
		t.Fatalf("Q's move to the top group: %s", got)
	}
	if err := os.Remove(m.path("P/B")); err != nil {
		t.Fatal(err)
	}
	m.mustWrite("P/syscalls.deny", "getppid")
	for _, when := range []string{"at once", "after a scan"} {
		if got := q.call("getppid", "uname"); got["getppid"] != "-38" || got["uname"] != "-38" {
			t.Errorf("Q %s: %v, want getppid and uname -38", when, got)
		}
		waitScans(t, m, 1)
	}
}

// placedFamily makes L (uname denied) and L/S (getppid denied), holds a
// shell P in L and places P's child shell H in L/S through the mount, and
// returns the mirror and H.
func placedFamily(t *testing.T) (*mirror, *live) {
	t.Helper()
	m := liveMirror(t)
	m.mkdir("L")
	m.mustWrite("L/syscalls.deny", "uname")
	m.mkdir("L/S")
	m.mustWrite("L/S/syscalls.deny", "getppid")
	p := evalShell(t, m.base)
	moveTo(m, "L", p.pid)
	h := childShell(t, p)
	moveTo(m, "L/S", h.pid)
	return m, h
}
