package cgsyscall_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/enforce/hold"
)

// TestLiveRestartAfterDroppingRoot: a process held while it was root (no
// no_new_privs needed then) that dropped to another user is held again by
// a restarted daemon: the injected prctl(PR_SET_NO_NEW_PRIVS) goes through
// even its dead layer, which fails every other call it hands over,
// prctl's other options among them.
func TestLiveRestartAfterDroppingRoot(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	p := startLive(t, m.base, bin.cgsyscall, "exec", "-m", m.mnt, "g", "--",
		"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin.probe, "-serve")
	if l := p.next(); !strings.HasPrefix(l, "ready ") {
		t.Fatalf("probe printed %q, want its ready line", l)
	}
	want := map[string]string{"getppid": "-38", "uname": "0", "getuid": "65534"}
	check := func() map[string]string {
		got := p.call("getppid", "uname", "getuid")
		for tok, w := range want {
			if got[tok] != w {
				return got
			}
		}
		return nil
	}
	if bad := check(); bad != nil {
		t.Fatalf("held as nobody: %v, want %v", bad, want)
	}
	killDaemon(t, m)
	persistRemount(t, m)
	// The new daemon holds it again in its first scan, before it serves.
	deadline := time.Now().Add(3 * time.Second)
	for bad := check(); bad != nil; bad = check() {
		if time.Now().After(deadline) {
			t.Fatalf("3 s after the restart: %v, want %v", bad, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The probe ends at the end of its input, and exec with it; killing
	// exec would leave the probe behind.
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exec of the probe: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the probe did not end 5 s after its input did")
	}
}

// TestRestartReachesOlderChildren: a held shell S forks a probe C, which
// makes no call the daemon decides; then the daemon is killed and mounted
// again. "moved": C was moved behind the mount's back to a group that
// denies nothing, and a deny of getuid in S's group grows S's layer: the
// layer taken back from the keeper bore the restart's time, so the growth
// left out C, born before it, and closed the listener under it; C then
// loaded a listener of its own and answered its own denied calls
// (helper-35, 2 of 2). "zombie": S exited before the restart and stays a
// zombie: the new daemon took it for a live holder whose layer no stop
// could read, the first scan grew that layer and closed its listener, and
// C, in S's group, answered its own denied getppid (helper-35, 4 of 4).
// "exited": as "zombie", and C is then moved behind the mount's back to
// the mirror's root, which denies nothing: the new daemon judged C, whose
// layer's holder had exited, by its cgroup alone, and its getppid ran
// (helper-36, 8 of 8); it is judged where its holder was placed too.
// Then C is moved through the mount into free, and must be judged there.
// "umount": as "exited", with a clean umount instead of kill -9: the
// placement log went with the umount, as no process it listed lived, and
// with it where the exited holder was placed (helper-37, 3 of 3).
// "grown": as "zombie", then a deny of getuid in g, which S's layer, taken
// back with S exited, must grow for: without that layer's program (found
// by its tag, which the placement log keeps, in C's chain) the write
// failed with EBUSY for as long as C lived (helper-37, F3); C must then
// get ENOSYS for getuid.
// In each, C's own listener must be refused (EBUSY) and getppid denied.
func TestRestartReachesOlderChildren(t *testing.T) {
	for _, mode := range []string{"moved", "zombie", "exited", "umount", "grown"} {
		t.Run(mode, func(t *testing.T) { restartReachesOlderChild(t, mode) })
	}
}

func restartReachesOlderChild(t *testing.T, mode string) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	m.mkdir("free")
	f := newFIFOs(t)
	in, out := f.in, f.out
	sh := startLive(t, m.base, "bash", "-c",
		`read x; "$1" -serve < "$2" > "$3" & echo $!; read y; exit 0`, "bash", bin.probe, in,
		out)
	moveTo(m, "g", sh.pid)
	time.Sleep(50 * time.Millisecond) // C starts later than a clock tick after the hold
	sh.send("fork")
	c := f.open(t)
	if pid := sh.next(); c.ready() != pid {
		t.Fatalf("the shell printed %s, the probe %d", pid, c.pid)
	}
	switch mode {
	case "moved":
		err := os.WriteFile(filepath.Join(m.base, "free", "cgroup.procs"),
			[]byte(strconv.Itoa(c.pid)), 0)
		if err != nil {
			t.Fatal(err)
		}
	case "zombie", "exited", "umount", "grown":
		sh.send("exit")
		waitGone(t, sh.pid) // a zombie: the test reaps it only at its end
	}
	if mode == "umount" {
		if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v: %s", err, out)
		}
	} else {
		killDaemon(t, m)
	}
	if out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting again: %v\n%s", err, out)
	}
	switch mode {
	case "moved":
		m.mustWrite("g/syscalls.deny", "getuid") // grows S's layer
	case "exited", "umount":
		err := os.WriteFile(filepath.Join(m.base, "cgroup.procs"), []byte(strconv.Itoa(c.pid)), 0)
		if err != nil {
			t.Fatal(err)
		}
	default:
		// Right after the new daemon's first scan, which met C (and
		// grew the zombie's layer, closing its listener, until the fix);
		// the next scan, a second later, held C afresh. The scan finds
		// the layer in C's chain (before the placement log kept layer
		// tags it could not, and logged that C was not held).
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			b, _ := os.ReadFile(m.log)
			if strings.Contains(string(b), "in a process that carries it") ||
				strings.Contains(string(b), "scan: members not held") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no scan met C within 5 s")
			}
		}
		if mode == "grown" {
			m.mustWrite("g/syscalls.deny", "getuid")
			c.send("getuid")
			if l := c.next(); l != "getuid -38" {
				t.Errorf("C's %q after the deny, want getuid -38", l)
			}
		}
	}
	c.send("answergetppid")
	if l := c.next(); l != "answergetppid -16" {
		t.Errorf("C's own listener after the restart: %q, want answergetppid -16 (EBUSY)", l)
	}
	c.send("getppid")
	if l := c.next(); l != "getppid -38" {
		t.Errorf("C's %q after the restart, want getppid -38", l)
	}
	if mode == "exited" {
		// Moved through the mount, it is placed there: the move was taken
		// and the old group's set went on denying (helper-37, 2 of 2).
		moveTo(m, "free", c.pid)
		c.send("getppid")
		if l := c.next(); !strings.HasPrefix(l, "getppid ") || strings.HasPrefix(l, "getppid -") {
			t.Errorf("C's %q once moved into free, which denies nothing, want a PID", l)
		}
	}
}

// TestRestartGrowsExitedHoldersLayers: after a restart, denies that grow
// the layers of held processes that exited before it, whose children
// carry them. "two": two such holders in g, each with a child there; the
// two families grew side by side and each took the other's child, which
// the other had seized: every deny failed with EBUSY (helper-38, F2, 3 of
// 3). "moved-out": the child was moved behind the mount's back to free,
// which denies nothing, before the restart; a pass found it carrying the
// layer and anchored it at free, its group then, so that g's set no
// longer judged it, also after one more restart (helper-38, F3, 6 of 6).
// It must stay judged where it was born, in g.
func TestRestartGrowsExitedHoldersLayers(t *testing.T) {
	for _, mode := range []string{"two", "moved-out"} {
		t.Run(mode, func(t *testing.T) {
			m := liveMirror(t)
			denyGetppid(m, "g")
			m.mkdir("free")
			var kids []*live
			if mode == "two" {
				for range 2 {
					kids = append(kids, orphansOfExitedHolder(t, m, "g", 1)...)
				}
			} else {
				// E moved out before the restart, F after it, A left in
				// g: the deny grows their layer through A.
				kids = orphansOfExitedHolder(t, m, "g", 3)
			}
			moveOut := func(c *live) {
				err := os.WriteFile(filepath.Join(m.base, "free", "cgroup.procs"),
					[]byte(strconv.Itoa(c.pid)), 0)
				if err != nil {
					t.Fatal(err)
				}
			}
			// The scan looks at the orphans once their shells are gone
			// (it stops each to read its chain): a daemon killed while it
			// works on one can kill it (README, on a daemon killed while it
			// injects). Those looks end first; then the restart (a kill
			// during one failed 1 of 6 aarch64 runs: the orphan was gone).
			waitScans(t, m, 1)
			if mode == "moved-out" {
				moveOut(kids[1])
			}
			restart := func() {
				killDaemon(t, m)
				out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log",
					m.log, m.mnt).CombinedOutput()
				if err != nil {
					t.Fatalf("mounting again: %v\n%s", err, out)
				}
			}
			restart()
			if mode == "moved-out" {
				moveOut(kids[2])
				waitScans(t, m, 1)
			}
			m.mustWrite("g/syscalls.deny", "getuid")
			// A child moved out of g behind the mount's back, which the
			// deny's growth does not find (docs/LIMITATIONS.md), may
			// make getuid; all are judged by g's set as it was placed.
			check := func(when string) {
				t.Helper()
				for i, c := range kids {
					calls := []string{"getppid", "getuid"}
					if mode == "moved-out" && i > 0 {
						calls = calls[:1]
					}
					for _, call := range calls {
						c.send(call)
						if l := c.next(); l != call+" -38" {
							t.Errorf("child %d %s: %q, want %s -38", i, when, l, call)
						}
					}
				}
			}
			check("after the deny")
			if mode == "moved-out" {
				waitScans(t, m, 2)
				check("after a scan")
				restart()
				waitScans(t, m, 1)
				check("after one more restart")
			}
		})
	}
}

// orphansOfExitedHolder starts a shell, moves it into group (which must
// deny something), has it fork n probes one after the other, and lets the
// shell exit: the probes carry the shell's layer, which nothing else
// holds. The shell stays a zombie until the test ends (startLive reaps
// it), counted as exited.
func orphansOfExitedHolder(t *testing.T, m *mirror, group string, n int) []*live {
	t.Helper()
	var fs []fifos
	script := `read x`
	args := []string{"bash", bin.probe}
	for i := range n {
		f := newFIFOs(t)
		fs = append(fs, f)
		script += fmt.Sprintf(`; "$1" -serve < "$%d" > "$%d" & echo $!; read y`, 2*i+2, 2*i+3)
		args = append(args, f.in, f.out)
	}
	sh := startLive(t, m.base, "bash", append([]string{"-c", script + "; exit 0"}, args...)...)
	moveTo(m, group, sh.pid)
	time.Sleep(50 * time.Millisecond) // the probes start later than a clock tick after the hold
	var kids []*live
	for _, f := range fs {
		sh.send("fork")
		c := f.open(t)
		if pid := sh.next(); c.ready() != pid {
			t.Fatalf("the shell printed %s, the probe %d", pid, c.pid)
		}
		kids = append(kids, c)
	}
	sh.send("exit")
	waitGone(t, sh.pid)
	return kids
}

// waitScans lets n of the daemon's periodic scans run.
func waitScans(t *testing.T, m *mirror, n int) {
	t.Helper()
	time.Sleep(time.Duration(n)*hold.ScanInterval + 300*time.Millisecond)
}

// TestCarrierWithoutAncestorStaysConfined: a child C of a held process H,
// left to init when H exited, carries H's layer with no held ancestor; the
// daemon has not met it (its probe makes no call the layer hands over
// before these steps), and cannot read its chain while C writes to the
// mount. C moves itself behind the mount's back to free, which denies
// nothing, and then: "allow" writes getppid to g/syscalls.allow, H's
// group's own set; "move" moves a process held in g, and itself, through
// the mount into free. Taken for a process that nothing confines, it did
// both, and with g's getppid allowed again made the call once back in g
// (helper-38, F1, 3 of 3; also after a restart, "allow-restart"). Each
// write must fail with EPERM and change nothing (but its own move from
// where it is, outside g, which keeps it judged by g).
func TestCarrierWithoutAncestorStaysConfined(t *testing.T) {
	for _, mode := range []string{"allow", "move", "allow-restart", "move-restart"} {
		t.Run(mode, func(t *testing.T) {
			m := liveMirror(t)
			denyGetppid(m, "g")
			m.mkdir("free")
			var x *live
			move := strings.HasPrefix(mode, "move")
			if move {
				x = startLive(t, m.base, "sleep", "600")
				moveTo(m, "g", x.pid)
			}
			c := orphansOfExitedHolder(t, m, "g", 1)[0]
			if strings.HasSuffix(mode, "-restart") {
				killDaemon(t, m)
				out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log",
					m.log, m.mnt).CombinedOutput()
				if err != nil {
					t.Fatalf("mounting again: %v\n%s", err, out)
				}
			}
			do := func(tok, want string) {
				t.Helper()
				c.send(tok)
				if l := c.next(); l != tok+" "+want {
					t.Fatalf("%q, want %q", l, tok+" "+want)
				}
			}
			do("write:"+filepath.Join(m.base, "free", "cgroup.procs")+":0", "0")
			eperm := strconv.Itoa(-int(syscall.EPERM))
			if move {
				do("write:"+filepath.Join(m.mnt, "free", "tasks")+":"+strconv.Itoa(x.pid), eperm)
				// Its own move from free to free goes through (it is in no
				// candidate's subtree: helper-40 F3) and changes nothing of
				// how it is judged. After the restart the scan found it in g
				// carrying the layer taken back: known, it is confined in g.
				// So it is when a scan met it in g before its move to free,
				// which the scan's line for it tells (1 aarch64 run).
				selfMove := "write:" + filepath.Join(m.mnt, "free", "tasks") + ":self"
				c.send(selfMove)
				l := c.next()
				want := "0"
				if strings.HasSuffix(mode, "-restart") ||
					l == selfMove+" "+eperm && scanHeld(t, m, "g", c.pid, 2*time.Second) {
					want = eperm
				}
				if l != selfMove+" "+want {
					t.Fatalf("%q, want %q", l, selfMove+" "+want)
				}
				do("getppid", "-38")
				b, _ := os.ReadFile(filepath.Join(m.base, "g", "cgroup.procs"))
				if !strings.Contains(string(b), strconv.Itoa(x.pid)) {
					t.Fatalf("g/cgroup.procs %q after the refused move: %d was moved", b, x.pid)
				}
			} else {
				do("write:"+filepath.Join(m.mnt, "g", "syscalls.allow")+":getppid", eperm)
				want := map[string]string{"amd64": "110", "arm64": "173"}[runtime.GOARCH]
				b, err := os.ReadFile(filepath.Join(m.mnt, "g", "syscalls.deny"))
				if err != nil || !strings.Contains(string(b), want) {
					t.Fatalf("g/syscalls.deny after the refused allow: %q, %v", b, err)
				}
			}
			do("write:"+filepath.Join(m.base, "g", "cgroup.procs")+":0", "0")
			do("getppid", "-38")
		})
	}
}

// TestCarrierPlacedAwayFromItsHolder: Q is held in A (uname denied); its
// child P, a shell carrying Q's layer, is moved through the mount into S, a
// sibling of A that also denies getppid (the layer covers it: no growth).
// A probe C that P leaves behind when it exits is an orphan born in S. The
// daemon took it for a process born in A, Q's group: it let C allow getppid
// in S, and make getppid once it had moved itself into A behind the mount's
// back (helper-40, 3 of 3). The allow must get EPERM, and the getppid
// ENOSYS. (A child that P made with CLONE_PARENT, Q's child by its parent,
// did the same; no layer lets one be made now: TestHeldMakesNoSibling.)
// Then the other side
// (helper-40 F3, F4): a process with an unrelated filter of its own,
// started after the holds, moves a filtered process that nobody holds
// between two groups outside A and S, and itself into A; both are allowed.
//
// "scan": the scan meets C in S before its first decided call (the test
// waits for it), and records it from its chain, not placed: it was
// confined by A alone and allowed getppid in S (3 of 6 aarch64 runs under
// qemu, where the scan came first by chance; 2 of 2 here with the wait).
// "call": C's first decided call comes first (anchorOf).
//
// "growth": a deny in A grows the layer first, and the growth finds C in
// S (through P2, another carrier placed there): recorded so, not placed,
// it allowed getppid in S (helper-64 F1, 8 of 8).
func TestCarrierPlacedAwayFromItsHolder(t *testing.T) {
	for _, first := range []string{"call", "scan", "growth"} {
		t.Run(first, func(t *testing.T) { carrierPlacedAwayFromItsHolder(t, first) })
	}
}

// heldWithCarriers makes groups A (uname denied) and S (uname getppid
// denied) and a shell Q held in A. carrier has Q start a shell, which
// carries Q's layer, and moves it through the mount into S.
func heldWithCarriers(t *testing.T) (m *mirror, q *live, carrier func() *live) {
	m = liveMirror(t)
	m.mkdir("A")
	m.mustWrite("A/syscalls.deny", "uname")
	m.mkdir("S")
	m.mustWrite("S/syscalls.deny", "uname getppid")
	q = evalShell(t, m.base)
	moveTo(m, "A", q.pid)
	return m, q, func() *live {
		p := childShell(t, q)
		moveTo(m, "S", p.pid)
		return p
	}
}

// carriersAndMemberOfS is heldWithCarriers with x, a sleep held in S
// through the mount before any carrier is made.
func carriersAndMemberOfS(t *testing.T) (*mirror, *live, func() *live) {
	m, _, carrier := heldWithCarriers(t)
	x := startLive(t, m.base, "sleep", "600")
	moveTo(m, "S", x.pid)
	return m, x, carrier
}

func carrierPlacedAwayFromItsHolder(t *testing.T, first string) {
	filtered := cProgram(t, "filtered")
	m, _, carrier := heldWithCarriers(t)
	m.mkdir("U")
	m.mkdir("V")
	eperm := strconv.Itoa(-int(syscall.EPERM))
	allowIn := "write " + filepath.Join(m.mnt, "S", "syscalls.allow") + " getppid"
	if first == "growth" {
		carrier() // P2, through which the growth finds the orphan
	}
	// The orphan, a cserve: it makes no call that the layer hands over
	// until asked, and starts once P exited. (A Go probe's runtime made
	// one while P still lived on the aarch64 VM, 1 of 1 CI runs, and so
	// did a cserve started before P's exit now and then: P, its held
	// parent, then anchored it in S, and its own move into A was refused,
	// rightly.)
	p := carrier()
	fo := newFIFOs(t)
	p.send(cProgram(t, "cserve") + " < " + fo.in + " > " + fo.out + " & exit")
	waitGone(t, p.pid)
	o := fo.open(t) // O runs cserve once its FIFOs are open: after P exited
	o.ready()
	ask := func(line string) string {
		t.Helper()
		o.send(line)
		return o.next()
	}
	switch first {
	case "scan":
		if !scanHeld(t, m, "S", o.pid, 3*time.Second) {
			t.Fatalf("the scan did not hold the orphan %d in S within 3 s", o.pid)
		}
	case "growth":
		m.mustWrite("A/syscalls.deny", "sysinfo")
	}
	steps := func(what string, want ...string) {
		t.Helper()
		for i := 0; i < len(want); i += 2 {
			if got := ask(want[i]); got != want[i+1] {
				t.Errorf("the orphan %s: %s: %q, want %q", what, want[i], got, want[i+1])
			}
		}
	}
	refused := "write " + eperm
	steps("in S", allowIn, refused)
	// Moved into A behind the mount's back, it is still judged by S.
	steps("moved into A behind the mount's back",
		"write "+filepath.Join(m.base, "A", "cgroup.procs")+" self", "write 0",
		"getppid", "getppid -38")
	// Placed in A through the mount by itself, it still may not widen S
	// (helper-41: its own move let it).
	steps("placed in A by itself", "write "+filepath.Join(m.mnt, "A", "tasks")+" self",
		"write 0", allowIn, refused)
	if b, _ := os.ReadFile(filepath.Join(m.mnt, "S", "syscalls.deny")); !strings.Contains(
		string(b), map[string]string{"amd64": "110", "arm64": "173"}[runtime.GOARCH]) {
		t.Errorf("S/syscalls.deny %q: getppid was allowed", b)
	}
	// After a restart, the same: the placement log keeps where the layer's
	// carriers were placed, and that the orphan's record was inferred
	// (helper-41: both were in memory only, and the orphan made getppid).
	killDaemon(t, m)
	if out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting again: %v\n%s", err, out)
	}
	steps("after a restart", "getppid", "getppid -38", allowIn, refused)
	// A process with a filter of its own, started after the holds.
	f := startLive(t, m.base+"/U", filtered, "sleep", "600")
	out, err := exec.Command(filtered, "bash", "-c", `echo "$1" > "$2" && echo $$ > "$3"`,
		"bash", strconv.Itoa(f.pid), filepath.Join(m.mnt, "V", "tasks"),
		filepath.Join(m.mnt, "A", "tasks")).CombinedOutput()
	if err != nil {
		t.Errorf("a filtered writer moving a filtered process from U to V, then itself into "+
			"A: %v: %s", err, out)
	}
}

// TestSelfPlacedChildStaysConfined: Q is held in A (uname denied), its
// child P placed through the mount in S (uname getppid denied); O, a shell
// P leaves behind, starts C, a cserve born in S that makes no decided
// call. C moves itself behind the mount's back into A/sub, made then and
// denying sysinfo (which the layer does not hand over yet), and places
// itself there through the mount (accepted: the layer's places are A and
// S, and C's ancestor O grows its layer with it). It was
// then recorded exact in A/sub, its birth in S forgotten: it allowed
// getppid in S, or moved S's members out (helper-64 F2, 12 of 12). Both
// must get EPERM.
func TestSelfPlacedChildStaysConfined(t *testing.T) {
	for _, last := range []string{"allow", "move"} {
		t.Run(last, func(t *testing.T) {
			cserve := cProgram(t, "cserve")
			m, x, carrier := carriersAndMemberOfS(t)
			p := carrier()
			fo := newFIFOs(t)
			p.send(`(sleep 0.3; exec bash -c 'echo ready $$; while read -r l; do eval "$l"; ` +
				`done') < ` + fo.in + " > " + fo.out + " & exit")
			waitGone(t, p.pid)
			o := fo.open(t)
			o.ready()
			fc := newFIFOs(t)
			o.send(cserve + " < " + fc.in + " > " + fc.out + " &")
			c := fc.open(t)
			c.ready()
			// A set that no layer hands over yet: C's own placement has
			// its ancestor's layer grown.
			m.mkdir("A/sub")
			m.mustWrite("A/sub/syscalls.deny", "sysinfo")
			do := func(line, want string) {
				t.Helper()
				c.send(line)
				if got := c.next(); got != want {
					t.Fatalf("C: %q: %q, want %q", line, got, want)
				}
			}
			do("write "+filepath.Join(m.base, "A", "sub", "cgroup.procs")+" self", "write 0")
			do("write "+filepath.Join(m.mnt, "A", "sub", "tasks")+" self", "write 0")
			eperm := "write " + strconv.Itoa(-int(syscall.EPERM))
			if last == "allow" {
				do("write "+filepath.Join(m.mnt, "S", "syscalls.allow")+" getppid", eperm)
				want := map[string]string{"amd64": "110", "arm64": "173"}[runtime.GOARCH]
				if b, _ := os.ReadFile(filepath.Join(m.mnt, "S", "syscalls.deny")); !strings.
					Contains(string(b), want) {
					t.Errorf("S/syscalls.deny %q: getppid was allowed", b)
				}
				return
			}
			do("write "+filepath.Join(m.mnt, "A", "sub", "tasks")+" "+strconv.Itoa(x.pid), eperm)
			if b, _ := os.ReadFile(filepath.Join(m.base, "S", "cgroup.procs")); !strings.Contains(
				string(b), strconv.Itoa(x.pid)) {
				t.Errorf("S/cgroup.procs %q: %d was moved out", b, x.pid)
			}
		})
	}
}

// TestSelfPlacingWriterThreads: C, an orphan born in S (left by P, a
// carrier of Q's layer placed there; Q is held in A) that the daemon has
// not met, moves itself behind the mount's back into A, then places itself
// there through the mount from one thread while another of its threads
// keeps writing: "allow" getppid into S's syscalls.allow, "move" x (held
// in S) into A. Its chain is read only once its own write has returned:
// meanwhile it was recorded as placed in A, exact, and the other thread's
// write went through (helper-66 F1, 10 of 10; the move also 3 of 4). It
// must get EPERM at every try.
func TestSelfPlacingWriterThreads(t *testing.T) {
	for _, other := range []string{"allow", "move"} {
		t.Run(other, func(t *testing.T) {
			racer := cProgram(t, "racer")
			m, x, carrier := carriersAndMemberOfS(t)
			p := carrier()
			fc := newFIFOs(t)
			p.send(racer + " < " + fc.in + " > " + fc.out + " & exit")
			c := fc.open(t)
			c.ready()
			waitGone(t, p.pid)
			c.send("write " + filepath.Join(m.base, "A", "cgroup.procs") + " self")
			if l := c.next(); l != "write 0" {
				t.Fatalf("C's move into A behind the mount's back: %q, want \"write 0\"", l)
			}
			path, text := filepath.Join(m.mnt, "S", "syscalls.allow"), "getppid"
			if other == "move" {
				path, text = filepath.Join(m.mnt, "A", "tasks"), strconv.Itoa(x.pid)
			}
			c.send("race " + filepath.Join(m.mnt, "A", "tasks") + " " + path + " " + text)
			f := strings.Fields(c.next())
			eperm := strconv.Itoa(-int(syscall.EPERM))
			if len(f) != 4 || f[1] != "0" || f[2] != eperm {
				t.Errorf("C placing itself in A while another thread writes %s to %s: %q, "+
					"want its own move 0 and the other's %s at every try", text, path, f, eperm)
			}
			want := map[string]string{"amd64": "110", "arm64": "173"}[runtime.GOARCH]
			if b, _ := os.ReadFile(filepath.Join(m.mnt, "S", "syscalls.deny")); !strings.Contains(
				string(b), want) {
				t.Errorf("S/syscalls.deny %q: getppid was allowed", b)
			}
			if b, _ := os.ReadFile(filepath.Join(m.base, "S", "cgroup.procs")); !strings.Contains(
				string(b), strconv.Itoa(x.pid)) {
				t.Errorf("S/cgroup.procs %q: %d was moved out", b, x.pid)
			}
		})
	}
}

// TestCarrierOfClosedLayerStaysConfined: O, an orphan born in S (left by
// P, a carrier of Q's layer placed there; Q is held in A), moves itself
// behind the mount's back into F, which denies nothing, where the growth
// of Q's layer (Q moved into A/sub, which denies sysinfo) does not look:
// O keeps the old layer, whose listener is closed (getppid fails with
// ENOSYS). Then, each way, O must stay judged and confined by S (getppid
// ENOSYS, an allow in S or a move of x, held in S, out of it EPERM):
//   - "scan": moved behind the mount's back into A, it was held afresh by
//     the scan (the kernel takes a new listener in its chain once the old
//     one is closed) and recorded placed in A: it made getppid and allowed
//     it in S (helper-66 F2, 4 of 4);
//   - "allow", "move": as it is, unknown, it passed for a writer that
//     carries no layer, the closed one not counted (helper-67 F3, 12 of
//     12 and 11 of 11);
//   - "self": placed in A by itself through the mount, it was judged by A
//     alone once its new layer went in (helper-67 F1, 14 of 14);
//   - "other": a second such orphan placed it in A through the mount: its
//     record was made exact (helper-67 F4, 9 of 9).
//   - "restart": "scan" after two restarts of the daemon: the first one's
//     compaction of the placement log dropped the closed layer's places
//     (helper-67 F2, 9 of 9);
//   - "restart-allow", "restart-move": "allow" and "move" after a restart,
//     which took Q's grown layer back without its line (helper-68 F1, 3 of
//     3 each).
func TestCarrierOfClosedLayerStaysConfined(t *testing.T) {
	for _, how := range []string{"scan", "allow", "move", "self", "other", "restart",
		"restart-allow", "restart-move"} {
		t.Run(how, func(t *testing.T) { carrierOfClosedLayer(t, how) })
	}
}

func carrierOfClosedLayer(t *testing.T, how string) {
	m, q, carrier := heldWithCarriers(t)
	m.mkdir("F")
	p := carrier()
	// cserves that P moves into F at once (orphanInF): a Go probe that
	// moved itself a FIFO's round trip later was met in S by the scan, or
	// made calls its layer hands over, on aarch64, and the growth took it
	// in (1 of 3 "scan" runs there).
	openO := orphanInF(t, m, p)
	var openO2 func() (*live, func(string) string)
	if how == "other" {
		openO2 = orphanInF(t, m, p)
	}
	p.send("exit")
	waitGone(t, p.pid)
	o, ask := openO()
	var ask2 func(string) string
	if openO2 != nil {
		_, ask2 = openO2()
	}
	// (Held before the orphans were born, x would have made S a place of a
	// layer that fits.)
	x := memberOfSThenGrowth(t, m, q)
	// The growth may find the orphan after all (aarch64 VM runs, 1 of 4:
	// it then has a layer of its own); the scan then has nothing to hold,
	// and the checks of the end still hold.
	missed := seccompFilters(t, o.pid) == 1
	if got := ask("getppid"); got != "getppid -38" {
		t.Fatalf("the orphan's getppid in F, its layer's listener closed: %q, want "+
			"getppid -38", got)
	}
	eperm := strconv.Itoa(-int(syscall.EPERM))
	write := func(ask func(string) string, path, text, want string) {
		t.Helper()
		line := "write " + path + " " + text
		if got := ask(line); got != "write "+want {
			t.Fatalf("%s: %q, want write %s", line, got, want)
		}
	}
	switch how {
	case "restart":
		remount(t, m)
		remount(t, m)
	case "restart-allow", "restart-move":
		remount(t, m)
		how = strings.TrimPrefix(how, "restart-")
	}
	switch how {
	case "scan", "restart":
		write(ask, filepath.Join(m.base, "A", "cgroup.procs"), "self", "0")
		if !missed {
			t.Logf("the growth took the orphan in: the scan has nothing to hold")
		} else if !scanHeld(t, m, "A", o.pid, 3*time.Second) {
			t.Fatalf("the scan did not hold the orphan %d in A within 3 s", o.pid)
		}
	case "move":
		write(ask, filepath.Join(m.mnt, "F", "tasks"), strconv.Itoa(x.pid), eperm)
	case "self", "other":
		path, text, by := filepath.Join(m.mnt, "A", "tasks"), "self", ask
		if how == "other" {
			text, by = strconv.Itoa(o.pid), ask2
		}
		if missed {
			write(by, path, text, "0")
			break
		}
		// Taken in by the growth, O has a layer of its own, anchored
		// where it was born, S (known before P exited, so moved out of S
		// by neither: 1 CI run on the aarch64 VM in "other"), or where
		// its holder is, A, S's set still its own (found as an orphan:
		// the next run there, in "self"). Either way the checks below
		// hold; the move's answer is 0 or EPERM.
		line := "write " + path + " " + text
		if got := by(line); got != "write 0" && got != "write "+eperm {
			t.Fatalf("%s: %q, want write 0 or write %s", line, got, eperm)
		}
	}
	write(ask, filepath.Join(m.mnt, "S", "syscalls.allow"), "getppid", eperm)
	if got := ask("getppid"); got != "getppid -38" {
		t.Errorf("the orphan's getppid at the end: %q, want getppid -38", got)
	}
	if b, _ := os.ReadFile(filepath.Join(m.base, "S", "cgroup.procs")); !strings.Contains(
		string(b), strconv.Itoa(x.pid)) {
		t.Errorf("S/cgroup.procs %q: %d was moved out", b, x.pid)
	}
}

// TestChildOlderThanItsParentsMove: a held shell K in A (getppid denied)
// starts a child U (cserve: it makes no call the layer hands over until
// asked), and is then moved through the mount into B, which denies
// nothing. U was born in A; moved behind the mount's back into B, it was
// judged by K's group now, B, and made getppid (found by reading
// helper-40's finding); also after a restart, the time of K's move being
// in memory only (helper-42, 3 of 3: "restart"). It must stay judged by
// A's set; moved into B through the mount, it is judged there.
func TestChildOlderThanItsParentsMove(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "live", true: "restart"}[restart], func(t *testing.T) {
			cserve := cProgram(t, "cserve")
			m := liveMirror(t)
			denyGetppid(m, "A")
			m.mkdir("B")
			k := evalShell(t, m.base)
			moveTo(m, "A", k.pid)
			f := newFIFOs(t)
			k.send(cserve + " < " + f.in + " > " + f.out + " &")
			u := f.open(t)
			u.ready()
			moveTo(m, "B", k.pid)
			if restart {
				remount(t, m)
			}
			err := os.WriteFile(filepath.Join(m.base, "B", "cgroup.procs"),
				[]byte(strconv.Itoa(u.pid)), 0)
			if err != nil {
				t.Fatal(err)
			}
			u.send("getppid")
			if l := u.next(); l != "getppid -38" {
				t.Errorf("U, born in A, moved into B behind the mount's back: %q, want "+
					"getppid -38", l)
			}
			// Moved into B through the mount, it is judged there.
			moveTo(m, "B", u.pid)
			u.send("getppid")
			if l := u.next(); l != "getppid "+strconv.Itoa(k.pid) {
				t.Errorf("U moved into B through the mount: %q, want getppid %d", l, k.pid)
			}
		})
	}
}

// remount kills the daemon of m with SIGKILL and mounts the mirror again.
func remount(t *testing.T, m *mirror) {
	t.Helper()
	killDaemon(t, m)
	mountAgain(t, m)
}

// mountAgain mounts the mirror of m again, its daemon gone.
func mountAgain(t *testing.T, m *mirror) {
	t.Helper()
	out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput()
	if err != nil {
		t.Fatalf("mounting again: %v\n%s", err, out)
	}
}

// TestSiblingsPlaceAfterRestart: a held shell K in A (uname denied) has
// one child shell moved into S (getppid denied) and another, U, that stays
// in A and is met through its first getppid, which runs. After a restart U
// was judged by S's set too (helper-42, 4 of 4): the log said that its
// record was inferred from its ancestors, and every such record got the
// sets of all the layer's places. U must still make getppid. An orphan
// that made no call before moving itself into A behind the mount's back,
// then placing itself there through the mount (an aarch64 run found it),
// may not allow getppid in S, where it was born.
func TestSiblingsPlaceAfterRestart(t *testing.T) {
	cserve := cProgram(t, "cserve")
	m := liveMirror(t)
	m.mkdir("A")
	m.mustWrite("A/syscalls.deny", "uname")
	m.mkdir("S")
	m.mustWrite("S/syscalls.deny", "uname getppid")
	k := evalShell(t, m.base)
	moveTo(m, "A", k.pid)
	p := childShell(t, k)
	moveTo(m, "S", p.pid)
	f := newFIFOs(t)
	k.send(cserve + " < " + f.in + " > " + f.out + " &")
	u := f.open(t)
	u.ready()
	want := "getppid " + strconv.Itoa(k.pid)
	if u.send("getppid"); u.next() != want {
		t.Fatalf("U's getppid in A before the restart: want %q", want)
	}
	// The orphan: P leaves a cserve behind, which places itself in A.
	fo := newFIFOs(t)
	p.send(cserve + " < " + fo.in + " > " + fo.out + " & exit")
	o := fo.open(t)
	o.ready()
	waitGone(t, p.pid)
	for _, file := range []string{filepath.Join(m.base, "A", "cgroup.procs"),
		filepath.Join(m.mnt, "A", "tasks")} {
		// Behind the mount's back into A (it may not move itself out of S
		// through the mount), then placed there through the mount.
		o.send("write " + file + " self")
		if l := o.next(); l != "write 0" {
			t.Fatalf("the orphan moving itself, %s: %q", file, l)
		}
	}
	o.send("write " + filepath.Join(m.mnt, "S", "syscalls.allow") + " getppid")
	if l, eperm := o.next(), "write "+strconv.Itoa(-int(syscall.EPERM)); l != eperm {
		t.Errorf("the orphan's allow of getppid in S: %q, want %q", l, eperm)
	}
	remount(t, m)
	if u.send("getppid"); u.next() != want {
		t.Errorf("U's getppid in A after the restart: want %q", want)
	}
}

// TestMovedOrphanIsJudgedWhereMoved: a held shell K, placed in x (uname,
// sysinfo, getuid denied) and then in its parent w (uname), leaves an
// orphan O, which is judged by every group K's layer was placed in (a
// snapshot). Root moves O behind the mount's back to the top group, the
// daemon restarts, and root moves O through the mount to the top group:
// O must then be judged there (all three calls run). helper-43 saw it stay
// denied them (3 of 3), where a record cached before the move could still
// judge it; this test, close to their steps, passes with and without the
// cache dropped on a move, so what they saw is not known to be fixed.
func TestMovedOrphanIsJudgedWhereMoved(t *testing.T) {
	m := liveMirror(t)
	m.mkdir("w")
	m.mustWrite("w/syscalls.deny", "uname")
	m.mkdir("w/x")
	m.mustWrite("w/x/syscalls.deny", "sysinfo getuid")
	k := evalShell(t, m.base)
	moveTo(m, "w/x", k.pid)
	moveTo(m, "w", k.pid)
	f := newFIFOs(t)
	k.send(`( ` + bin.probe + ` -serve < ` + f.in + ` > ` + f.out + ` & )`)
	o := f.open(t)
	o.ready()
	calls := []string{"uname", "sysinfo", "getuid"}
	for tok, res := range o.call(calls...) {
		if res != "-38" {
			t.Errorf("the orphan's %s before the moves: %s, want -38", tok, res)
		}
	}
	if err := os.WriteFile(filepath.Join(m.base, "cgroup.procs"), []byte(strconv.Itoa(o.pid)),
		0); err != nil {
		t.Fatal(err)
	}
	remount(t, m)
	o.call(calls...) // met again by the new daemon before the move
	moveTo(m, "", o.pid)
	for _, when := range []string{"at once", "after a scan"} {
		for tok, res := range o.call(calls...) {
			if strings.HasPrefix(res, "-") {
				t.Errorf("the orphan's %s %s once moved to the top group through the mount: "+
					"%s, want it to run", tok, when, res)
			}
		}
		waitScans(t, m, 1)
	}
}

// TestHeldShellMovesItsJob: a held shell moves one of its own jobs, through
// /bin/echo, into a stricter subgroup whose set the shared layer does not
// cover: the layer grows for the family, the writer among its members, and
// the writer cannot stop before its write is answered. The growth tried to
// stop it, and the move failed with ETIMEDOUT after 4 s (helper-43, 4 of
// 4). It must succeed, and the job get ENOSYS for the new number.
func TestHeldShellMovesItsJob(t *testing.T) {
	m := liveMirror(t)
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "uname")
	m.mkdir("web/w2")
	m.mustWrite("web/w2/syscalls.deny", "getpid") // frequent: not in a layer's cover
	k := evalShell(t, m.base)
	moveTo(m, "web", k.pid)
	f := newFIFOs(t)
	k.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
	j := f.open(t)
	j.ready()
	if got := j.call("uname")["uname"]; got != "-38" {
		t.Fatalf("the job's uname in web: %s, want -38", got)
	}
	k.send("/bin/echo " + strconv.Itoa(j.pid) + " > " + filepath.Join(m.mnt, "web", "w2",
		"tasks") + "; echo moved $?")
	if l := k.next(); l != "moved 0" {
		t.Fatalf("the held shell moving its job into web/w2: %q, want moved 0", l)
	}
	if got := j.call("getpid", "uname"); got["getpid"] != "-38" || got["uname"] != "-38" {
		t.Errorf("the job in web/w2: %v, want getpid and uname -38", got)
	}
}

// TestOrphansPlaceEachOther: a shell H held in S (getppid denied) starts
// two probes C and D that make no call the daemon decides, and exits; C
// and D move themselves into F (which denies nothing) behind the mount's
// back. Each then places the other in F through the mount, where it is
// already: the writes succeed and change nothing, both stay judged by S.
// After a restart the daemon took D's placement of C, neither known to it,
// as an administrator's, and both made getppid (helper-51, 3 of 3).
func TestOrphansPlaceEachOther(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			m := liveMirror(t)
			denyGetppid(m, "S")
			m.mkdir("F")
			h := evalShell(t, m.base)
			moveTo(m, "S", h.pid)
			var probes [2]*live
			for i := range probes {
				f := newFIFOs(t)
				h.send(bin.probe + " -serve < " + f.in + " > " + f.out + " &")
				probes[i] = f.open(t)
				probes[i].ready()
			}
			h.send("exit")
			waitGone(t, h.pid)
			self := "write:" + filepath.Join(m.base, "F", "cgroup.procs") + ":self"
			for _, x := range probes {
				if got := x.call(self)[self]; got != "0" {
					t.Fatalf("probe %d moving itself into F: %s", x.pid, got)
				}
			}
			if restart {
				remount(t, m)
			}
			for i, x := range probes {
				other := probes[1-i]
				place := "write:" + filepath.Join(m.mnt, "F", "tasks") + ":" +
					strconv.Itoa(other.pid)
				if got := x.call(place)[place]; got != "0" {
					t.Errorf("probe %d placing its sibling in F: %s, want 0", x.pid, got)
				}
			}
			for _, when := range []string{"at once", "after a scan"} {
				for _, x := range probes {
					if got := x.call("getppid")["getppid"]; got != "-38" {
						t.Errorf("probe %d in F %s: getppid %s, want -38", x.pid, when, got)
					}
				}
				waitScans(t, m, 1)
			}
		})
	}
}

// evalShell starts a bash in cgroup directory cg that runs each line it
// reads, as an administrator's shell does.
func evalShell(t *testing.T, cg string) *live {
	t.Helper()
	return startLive(t, cg, "bash", "-c", `while read -r l; do eval "$l"; done`)
}

// childShell has shell sh start a child bash that runs each line it reads
// from a FIFO, and returns it once it printed "ready PID".
func childShell(t *testing.T, sh *live) *live {
	t.Helper()
	f := newFIFOs(t)
	sh.send(`bash -c 'echo ready $$; while read -r l; do eval "$l"; done' < ` + f.in + ` > ` +
		f.out + ` &`)
	c := f.open(t)
	c.ready()
	return c
}
