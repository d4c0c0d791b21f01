// Layers that grow: a held process's layer notifies only the numbers that
// may be denied to it, and a deny of another number gives it, and every
// process carrying the same layer, a new layer that covers it, before the
// write returns.
package cgsyscall_test

import (
	"bufio"
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
)

// TestGrowReachesChildren: a held shell's child, forked after the hold,
// shares the shell's layer. A deny of a number that layer does not cover
// grows both, before the write returns. "known" has the child make a
// decided call first, so the daemon knows it, and then checks that an
// allow reaches it: its old listener was closed by the growth, so the
// child got a layer of its own. "unknown" has it make none and moves it
// behind the mount's back to a group that denies nothing, where no pass
// over the members of g finds it: the growth finds it among the shell's
// children (it is then judged by g, where its parent was placed, and the
// set pinned there: the allow does not reach it).
func TestGrowReachesChildren(t *testing.T) {
	for _, known := range []bool{true, false} {
		t.Run(map[bool]string{true: "known", false: "unknown"}[known], func(t *testing.T) {
			m := liveMirror(t)
			denyGetppid(m, "g")
			sh, c := heldShellChild(t, m, "g")
			if known {
				if got := c.call("getppid")["getppid"]; got != "-38" {
					t.Fatalf("getppid of the child = %s, want -38", got)
				}
			} else {
				m.mkdir("open")
				err := os.WriteFile(filepath.Join(m.base, "open", "cgroup.procs"),
					[]byte(strconv.Itoa(c.pid)), 0)
				if err != nil {
					t.Fatal(err)
				}
			}
			m.mustWrite("g/syscalls.deny", "sysinfo")
			got := c.call("sysinfo", "getppid", "uname")
			if got["sysinfo"] != "-38" || got["getppid"] != "-38" || got["uname"] != "0" {
				t.Errorf("after deny sysinfo: %v, want sysinfo and getppid -38, uname 0", got)
			}
			if n := seccompFilters(t, c.pid); n != 2 {
				t.Errorf("the child has %d seccomp filters, want 2 (the shell's and its own)", n)
			}
			if known {
				m.mustWrite("g/syscalls.allow", "getppid sysinfo")
				got = c.call("sysinfo", "getppid")
				if got["sysinfo"] != "0" || got["getppid"] != strconv.Itoa(sh.pid) {
					t.Errorf("after allow: %v, want sysinfo 0 and getppid %d", got, sh.pid)
				}
			}
			sh.stdin.Close()
			if l := sh.next(); l != "end" {
				t.Errorf("shell printed %q, want end", l)
			}
		})
	}
}

// TestGrowReachesOrphans: a held shell runs testdata/selflisten, whose
// child, forked after the hold and left to init when its parent exits at
// once, makes no call the daemon decides (so the daemon does not know it)
// and tries over and over to load a filter with a listener of its own,
// which the kernel refuses while the shell's layer's listener is open. A
// deny that grows the layer closes that listener: the orphan is found in
// the shell's cgroup, carrying the layer, and stopped and given a new
// layer with the family, so its own load is still refused and its
// getppid, denied, gets ENOSYS. Left out (as before), it loaded its
// listener and answered its own getppid (adversary helper-15).
//
// "traced": the orphan has a child of its own trace it, so that it
// cannot be stopped: the deny fails with EBUSY and nothing changes (it
// was left out, and its load went in: helper-16). "pad": it first loads a
// filter that notifies nearly everything, so that the scan, which finds
// it within a second, takes it for a carrier of another process's larger
// layer (held in another group); the growth of the shell's layer looks at
// such guesses too (it went in: helper-16). Its filter also hands the
// hold's prctl to a listener, which a hold no longer accepts (helper-23):
// the deny fails with EPERM before anything changes, and the orphan keeps
// the old layer, whose listener stays open. "forge": it fails the daemon's
// loads itself with EBUSY, which the daemon took for the kernel's refusal
// of a listener while another is open, and left it out (it went in:
// helper-17); now an errno a filter of the process may have given is not
// trusted, and the orphan, which no layer can reach any more, is killed.
func TestGrowReachesOrphans(t *testing.T) {
	prog := buildC(t, "testdata/selflisten/selflisten.c")
	for _, mode := range []string{"plain", "traced", "pad", "forge"} {
		t.Run(mode, func(t *testing.T) {
			m := liveMirror(t)
			denyGetppid(m, "g")
			if mode == "pad" {
				// Another layer, larger than the shell's will be.
				denyGetppid(m, "g2")
				startServing(t, filepath.Join(m.base, "g2"))
				time.Sleep(1500 * time.Millisecond) // held by the scan
				m.mustWrite("g2/syscalls.deny", "sysinfo")
			}
			out := filepath.Join(t.TempDir(), "orphan")
			if err := os.WriteFile(out, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			flag := "-" + mode
			sh := startLive(t, m.base, "bash", "-c",
				`read x; "$1" $2 "$3"; echo started; read y`, "bash", prog, flag, out)
			moveTo(m, "g", sh.pid)
			sh.send("go")
			if l := sh.next(); l != "started" {
				t.Fatalf("shell printed %q, want started", l)
			}
			ready := 2
			if mode == "traced" {
				ready = 3
			}
			lines := waitLines(t, out, ready, 5*time.Second)
			orphan, err := strconv.Atoi(lines[0])
			if err != nil || lines[ready-1] != "ready" ||
				mode == "traced" && lines[1] != "traced 0" {
				t.Fatalf("selflisten wrote %q", lines)
			}
			t.Cleanup(func() { killGone(t, orphan) })
			time.Sleep(100 * time.Millisecond)
			err = m.write("g/syscalls.deny", "acct")
			switch mode {
			case "traced":
				if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
					t.Errorf("deny with a carrier that cannot be stopped: %v, want EBUSY", err)
				}
			case "forge":
				if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
					t.Errorf("deny with a carrier that fails the loads: %v, want EPERM", err)
				}
			case "pad":
				// Its own filter hands the hold's prctl to a listener
				// (of its own, for all the daemon can tell): refused
				// before the old listener closes, nothing changes.
				if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
					t.Errorf("deny with a carrier whose filter hands prctl on: %v, want EPERM",
						err)
				}
			default:
				if err != nil {
					t.Errorf("deny: %v", err)
				}
			}
			if mode == "forge" {
				// No layer of the daemon's can go in any more: killed.
				waitGone(t, orphan)
				if b, _ := os.ReadFile(out); len(strings.Fields(string(b))) != ready {
					t.Errorf("the orphan wrote %q, want nothing after ready", b)
				}
				sh.send("end")
				return
			}
			lines = waitLines(t, out, ready+2, 5*time.Second)
			if lines[ready] != "listener 0" || lines[ready+1] != "getppid -38" {
				t.Errorf("the orphan wrote %q after the deny, want listener 0, getppid -38",
					lines[ready:])
			}
			sh.send("end")
		})
	}
}

// TestMoveRefusesForgedBusy: a process whose own filter fails the
// daemon's loads with EBUSY (testdata/selflisten -forge), a child of a
// shell forked before the shell was held, is moved into the group. The
// daemon took that EBUSY for the kernel's (its chain has its held
// parent's listener) and recorded it as carrying the parent's layer, so
// the move succeeded and the process made getppid, denied (adversary
// helper-17). The errno of a load that a filter of the process may have
// answered is not trusted: the move fails with EPERM, and g/tasks does
// not list it.
func TestMoveRefusesForgedBusy(t *testing.T) {
	prog := buildC(t, "testdata/selflisten/selflisten.c")
	m := liveMirror(t)
	denyGetppid(m, "g")
	out := filepath.Join(t.TempDir(), "child")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sh := startLive(t, m.base, "bash", "-c", `"$1" -forge -child "$2" & echo started; read y`,
		"bash", prog, out)
	if l := sh.next(); l != "started" {
		t.Fatalf("shell printed %q, want started", l)
	}
	child, err := strconv.Atoi(waitLines(t, out, 1, 2*time.Second)[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killGone(t, child) })
	moveTo(m, "g", sh.pid)
	err = m.write("g/tasks", strconv.Itoa(child))
	if err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("moving a process that fails the daemon's loads: %v, want EPERM", err)
	}
	if tasks := strings.Fields(m.read("g/tasks")); slices.Contains(tasks, strconv.Itoa(child)) {
		t.Errorf("g/tasks lists %d: %q", child, tasks)
	}
	sh.send("end")
}

// TestMoveHoldsFilteredDescendant: a descendant of a held shell that does
// not carry the shell's layer loads a filter of its own and is moved into
// the group. "late": the probe is started after the hold by the shell's
// child forked before it (never held), and loads an allow-all filter; the
// daemon took its descent from a held process and its later start for
// proof that it carried the shell's layer, and the move succeeded with
// the probe making getppid, denied (adversary helper-30, 4 of 4): it is
// held now. "own": the shell's child, forked before the hold, loads a
// listener of its own that lets getppid run; the daemon took the EBUSY
// its load met for the shell's layer, as for a child forked after the
// hold, and the move succeeded: it fails with EBUSY now. Only the chain
// is taken for proof that a layer is carried.
//
// "self": as "late", but the descendant (a shell under a filter of its
// own, testdata/filtered) writes itself into the group, and so was taken
// for held through the permission check of its own write, which recorded
// it as carrying its held ancestor's layer (found after helper-30).
func TestMoveHoldsFilteredDescendant(t *testing.T) {
	for _, mode := range []string{"late", "own", "self"} {
		t.Run(mode, func(t *testing.T) { moveFilteredDescendant(t, mode) })
	}
}

func moveFilteredDescendant(t *testing.T, mode string) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	f := newFIFOs(t)
	in, out, start := f.in, f.out, f.start
	script := `( read x < "$2"; "$1" -serve < "$3" > "$4"; : ) & echo $!; read y`
	filtered := ""
	switch mode {
	case "own":
		script = `"$1" -serve < "$3" > "$4" & echo $!; read y`
	case "self":
		filtered = cProgram(t, "filtered")
		script = `( read x < "$2"; "$5" sh -c 'echo 0 > "$1" && exec "$2" getppid' sh \
			"$6/g/tasks" "$1" > "$4"; : ) & echo $!; read y`
	}
	sh := startLive(t, m.base, "bash", "-c", script, "bash", bin.probe, start, in, out,
		filtered, m.mnt)
	child, err := strconv.Atoi(sh.next())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killGone(t, child) })
	probe := f.open(t)
	if mode == "own" {
		probe.ready() // started before the hold
	}
	moveTo(m, "g", sh.pid)
	filter := "answergetppid"
	if mode != "own" {
		// Started later than a clock tick after the hold, as start times
		// tell.
		time.Sleep(50 * time.Millisecond)
		f.release(t)
		if mode == "self" {
			if l := probe.next(); l != "getppid -38" {
				t.Errorf("the filtered shell that wrote itself into g: %s, want getppid -38", l)
			}
			return
		}
		filter = "allowall"
		probe.ready()
	}
	probe.send(filter)
	// allowall's result is 0, answergetppid's its listener's descriptor.
	if l := probe.next(); !strings.HasPrefix(l, filter+" ") || strings.Contains(l, " -") {
		t.Fatalf("probe printed %q, want %s and no error", l, filter)
	}
	err = m.write("g/tasks", strconv.Itoa(probe.pid))
	if mode == "own" {
		if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
			t.Errorf("moving a process with a listener of its own: %v, want EBUSY", err)
		}
		if tasks := strings.Fields(m.read("g/tasks")); slices.Contains(tasks,
			strconv.Itoa(probe.pid)) {
			t.Errorf("g/tasks lists %d: %q", probe.pid, tasks)
		}
	} else {
		if err != nil {
			t.Fatalf("moving the probe: %v", err)
		}
		probe.send("getppid")
		if l := probe.next(); l != "getppid -38" {
			t.Errorf("after the move into g, the probe's %s, want getppid -38", l)
		}
	}
	sh.send("end")
}

// TestHeldMakesNoSibling: a held process cannot make a child that is not
// its own. clone with CLONE_PARENT fails with EPERM (testdata/cloneparent
// exits 127) and clone3 with ENOSYS (asked with no arguments, it fails with
// EINVAL where it may); the C library's threads and posix_spawn, which try
// clone3 first, still work (testdata/threadspawn), and so does cgsyscall
// exec, which starts its command with clone3 where it may. Before the hold
// the same shell gets EINVAL and makes the sibling. Such a sibling carried
// its creator's layer under a parent that may carry another or none: its
// calls were judged by its parent's line (helper-40 F1), and before that it
// was refused its parent's group's calls and killed by its parent's growth
// (helper-33, -34).
func TestHeldMakesNoSibling(t *testing.T) {
	cloneparent := cProgram(t, "cloneparent")
	threadspawn := cProgram(t, "threadspawn")
	m := liveMirror(t)
	m.mkdir("A")
	m.mkdir("A/B")
	m.mustWrite("A/syscalls.deny", "uname")
	m.mustWrite("A/B/syscalls.deny", "getppid")
	sh := evalShell(t, m.base)
	run := func(cmd string, want ...string) {
		t.Helper()
		sh.send(cmd + " 2>&1; echo status $?")
		var got []string
		for len(got) < 10 {
			l := sh.next()
			got = append(got, l)
			if strings.HasPrefix(l, "status ") {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", cmd, got, want)
		}
	}
	clone3 := "args:clone3:0:0"
	run(bin.probe+" "+clone3+" uname", clone3+" -22", "uname 0", "status 0")
	run(cloneparent+" /bin/true", "status 0")
	moveTo(m, "A", sh.pid)
	run(bin.probe+" "+clone3+" uname", clone3+" -38", "uname -38", "status 0")
	run(cloneparent+" /bin/true", "cloneparent: clone: Operation not permitted", "status 127")
	run(threadspawn+" "+bin.probe+" uname", "thread 7", "uname -38", "spawn 0", "status 0")
	run(bin.cgsyscall+" exec -m "+m.mnt+" A/B -- "+bin.probe+" uname getppid",
		"uname -38", "getppid -38", "status 0")
	sh.send("exit")
}

// TestGrowthTakesFilteredChild: a held shell's child, forked after the
// hold and unknown to the daemon (it made no call the daemon decides),
// loads a filter of its own over the shell's layer that hands getppid on
// with no listener (probe notifygetppid). The shell is moved into a group
// that denies a call its layer does not hand over (getuid), which grows
// the layer: the child, whose newest filter that hands calls on is its
// own, was left out, the old listener closed, and it loaded a listener of
// its own that let getppid run, denied to it (helper-34, 4 of 4). It is
// taken into the growth: its own listener is refused, getppid denied.
func TestGrowthTakesFilteredChild(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	m.mkdir("g/s")
	m.mustWrite("g/s/syscalls.deny", "getuid")
	f := newFIFOs(t)
	in, out, start := f.in, f.out, f.start
	sh := startLive(t, m.base, "bash", "-c",
		`read y < "$2"; "$1" -serve < "$3" > "$4" & echo $!; read z`,
		"bash", bin.probe, start, in, out)
	moveTo(m, "g", sh.pid)
	c := f.open(t)
	// Started later than a clock tick after the hold.
	time.Sleep(50 * time.Millisecond)
	f.release(t)
	if pid := sh.next(); c.ready() != pid {
		t.Fatalf("the shell printed %s, the probe %d", pid, c.pid)
	}
	c.send("notifygetppid")
	if l := c.next(); l != "notifygetppid 0" {
		t.Fatalf("probe printed %q, want notifygetppid 0", l)
	}
	moveTo(m, "g/s", sh.pid)
	c.send("answergetppid")
	if l := c.next(); l != "answergetppid -16" {
		t.Errorf("the child's own listener after the growth: %q, want answergetppid -16 "+
			"(EBUSY: the new layer's listener is open)", l)
	}
	c.send("getppid")
	if l := c.next(); l != "getppid -38" {
		t.Errorf("the child's %q after the growth, want getppid -38", l)
	}
	sh.send("end")
}

// fifos are the FIFOs of a probe -serve that a test's script starts with
// its standard input on in and output on out, once a line comes on start.
type fifos struct{ in, out, start string }

func newFIFOs(t *testing.T) fifos {
	t.Helper()
	dir := t.TempDir()
	f := fifos{filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "go")}
	for _, p := range []string{f.in, f.out, f.start} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// open returns the probe's side of the FIFOs, its PID not known yet (see
// ready). Opened for reading and writing, a FIFO's open does not wait
// for the other end; they stay open until the test ends.
func (f fifos) open(t *testing.T) *live {
	t.Helper()
	var files [2]*os.File
	for i, p := range []string{f.in, f.out} {
		file := openRW(t, p)
		files[i] = file
	}
	p := &live{t: t, stdin: files[0], lines: make(chan string, 16), stderr: &syncBuf{}}
	go func() {
		sc := bufio.NewScanner(files[1])
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p
}

// release writes the line that lets the script start the probe.
func (f fifos) release(t *testing.T) {
	t.Helper()
	if _, err := openRW(t, f.start).WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
}

// openRW opens FIFO path for reading and writing until the test ends.
func openRW(t *testing.T, path string) *os.File {
	t.Helper()
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	return file
}

// ready reads the probe's first line, "ready PID", takes its PID, kills
// it by that at the test's end, and returns the PID as printed.
func (p *live) ready() string {
	p.t.Helper()
	l := p.next()
	if _, err := fmt.Sscanf(l, "ready %d", &p.pid); err != nil {
		p.t.Fatalf("probe printed %q, want ready PID", l)
	}
	pid := p.pid
	p.t.Cleanup(func() { killGone(p.t, pid) })
	return strconv.Itoa(pid)
}

// parentPID reads the parent of process pid from /proc/PID/stat.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	var ppid int
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		t.Fatal(err)
	}
	return ppid
}

// TestMoveRefusesOwnListener: a process that hands nearly every call to
// a listener of its own (testdata/selflisten -own) is moved into a group
// where another process is held. The kernel refuses the daemon's listener
// because the process's own is open, as it does for a process that
// carries one of the daemon's layers, and the daemon took it for an
// orphan carrying the other process's layer: the move succeeded, g/tasks
// listed it, and its own listener answered its getppid, denied
// (adversary helper-18). A layer is taken as carried only where the
// newest filter that hands calls on is that layer's very program: the
// move fails with EBUSY.
func TestMoveRefusesOwnListener(t *testing.T) {
	prog := buildC(t, "testdata/selflisten/selflisten.c")
	m := liveMirror(t)
	denyGetppid(m, "g")
	held := startServing(t, m.base)
	moveTo(m, "g", held.pid)
	out := filepath.Join(t.TempDir(), "own")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startLive(t, m.base, prog, "-own", "-child", out)
	if _, err := strconv.Atoi(waitLines(t, out, 1, 2*time.Second)[0]); err != nil {
		t.Fatal(err)
	}
	err := m.write("g/tasks", strconv.Itoa(p.pid))
	if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
		t.Errorf("moving a process with a listener of its own: %v, want EBUSY", err)
	}
	if tasks := strings.Fields(m.read("g/tasks")); slices.Contains(tasks, strconv.Itoa(p.pid)) {
		t.Errorf("g/tasks lists %d: %q", p.pid, tasks)
	}
}

// TestGrowGuessedOrphan: layers planned for the same set loaded the same
// program, so the match of an orphan's chain with a layer could name the
// wrong one (adversary helper-19). Three processes are held in g2 and a
// shell in g1, which both deny getppid; the shell's orphan
// (testdata/selflisten, trying to load a listener of its own) is moved
// into g2, where it is recorded by that match. "own": a deny in g1 grows
// the shell's layer; the orphan, recorded with a g2 layer, was left out
// and loaded its listener (getppid 1). "other": a deny in g2 grows the g2
// layers; the orphan, recorded with one it did not carry, was killed (the
// kernel refused its new listener, the shell's being open). Each layer's
// program now ends with a random word of its own, so the match names the
// shell's layer: the orphan goes with its growth, and its own need grows
// it.
func TestGrowGuessedOrphan(t *testing.T) {
	prog := buildC(t, "testdata/selflisten/selflisten.c")
	for _, mode := range []string{"own", "other"} {
		t.Run(mode, func(t *testing.T) {
			m := liveMirror(t)
			denyGetppid(m, "g1")
			denyGetppid(m, "g2")
			for i := 0; i < 3; i++ {
				p := startServing(t, m.base)
				moveTo(m, "g2", p.pid)
			}
			out := filepath.Join(t.TempDir(), "orphan")
			if err := os.WriteFile(out, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			sh := startLive(t, m.base, "bash", "-c", `read x; "$1" "$2"; echo started; read y`,
				"bash", prog, out)
			moveTo(m, "g1", sh.pid)
			sh.send("go")
			if l := sh.next(); l != "started" {
				t.Fatalf("shell printed %q, want started", l)
			}
			lines := waitLines(t, out, 2, 5*time.Second)
			orphan, err := strconv.Atoi(lines[0])
			if err != nil {
				t.Fatalf("selflisten wrote %q", lines)
			}
			t.Cleanup(func() { killGone(t, orphan) })
			m.mustWrite("g2/tasks", strconv.Itoa(orphan))
			group := map[string]string{"own": "g1", "other": "g2"}[mode]
			err = m.write(group+"/syscalls.deny", "sysinfo")
			if err != nil && (mode == "own" || !strings.Contains(err.Error(),
				"Device or resource busy")) {
				t.Errorf("deny in %s: %v", group, err)
			}
			lines = waitLines(t, out, 4, 5*time.Second)
			if lines[2] != "listener 0" || lines[3] != "getppid -38" {
				t.Errorf("the orphan wrote %q after the deny, want listener 0, getppid -38",
					lines[2:])
			}
			sh.send("end")
		})
	}
}

// killGone ends process pid, one of the test's, and waits until it is
// gone: the mirror's cleanup then finds no process left in its cgroups.
// killMembers kills every process of the test's cgroups, the test's own
// (descendants of processes it started, which live there), and waits
// until each is gone.
func killMembers(t *testing.T, m *mirror) {
	for _, pid := range membersBelow(m.base) {
		killGone(t, pid)
	}
}

func killGone(t *testing.T, pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
}

// waitLines waits until file holds n lines and returns them.
func waitLines(t *testing.T, file string, n int, limit time.Duration) []string {
	t.Helper()
	for deadline := time.Now().Add(limit); ; {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); len(b) > 0 &&
			len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %d lines", file, b, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// heldShellChild starts a shell, holds it in group, and has it start a
// probe -serve child, forked after the hold; it returns both. The child
// talks through the shell's standard input and output.
func heldShellChild(t *testing.T, m *mirror, group string) (*live, *live) {
	t.Helper()
	sh := startLive(t, m.base, "bash", "-c", `read x; "$1" -serve; echo end`, "bash",
		bin.probe)
	moveTo(m, group, sh.pid)
	sh.send("go")
	ready := sh.next()
	child, err := strconv.Atoi(strings.TrimPrefix(ready, "ready "))
	if err != nil {
		t.Fatalf("the shell's probe said %q", ready)
	}
	return sh, &live{t: t, pid: child, stdin: sh.stdin, lines: sh.lines, stderr: sh.stderr}
}

// TestMoveChildOfHeld: a child that a held shell forked, moved on its own
// through the mount to a group that denies nothing, may make the calls
// that its parent's group denies; moved back, it may not.
func TestMoveChildOfHeld(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	m.mkdir("open")
	sh, c := heldShellChild(t, m, "g")
	moveTo(m, "open", c.pid)
	if got := c.call("getppid")["getppid"]; got != strconv.Itoa(sh.pid) {
		t.Errorf("getppid of the child moved to open = %s, want %d", got, sh.pid)
	}
	moveTo(m, "g", c.pid)
	if got := c.call("getppid")["getppid"]; got != "-38" {
		t.Errorf("getppid of the child moved back to g = %s, want -38", got)
	}
	sh.stdin.Close()
	if l := sh.next(); l != "end" {
		t.Errorf("shell printed %q, want end", l)
	}
}

// TestGrowWriterItself: a held shell denies, in its own group, a number
// its layer does not cover. It cannot stop for the new layer before its
// write is answered; its very next command is held to the new number all
// the same.
func TestGrowWriterItself(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	out := runIn(t, m.base, "bash", "-c", `echo 0 > "$1/g/tasks" &&
		echo sysinfo > "$1/g/syscalls.deny" && "$2" sysinfo getppid uname`, "bash", m.mnt,
		bin.probe)
	if out != "sysinfo -38\ngetppid -38\nuname 0\n" {
		t.Fatalf("after the shell's own deny: %q, want sysinfo and getppid -38, uname 0", out)
	}
}

// TestGrowBehindTheBack: a held process moved behind the mount's back into
// a group that denies a frequent call (getpid), which its layer leaves to
// the kernel, is held to it by the scan within its bound.
func TestGrowBehindTheBack(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g1")
	m.mkdir("g2")
	m.mustWrite("g2/syscalls.deny", "getpid")
	s := startServing(t, m.base)
	moveTo(m, "g1", s.pid)
	pid := strconv.Itoa(s.pid)
	if got := s.call("getpid")["getpid"]; got != pid {
		t.Fatalf("getpid in g1 = %s, want %s", got, pid)
	}
	real := filepath.Join(m.base, "g2", "cgroup.procs")
	if err := os.WriteFile(real, []byte(pid), 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for s.call("getpid")["getpid"] != "-38" {
		if time.Since(start) > 2500*time.Millisecond {
			t.Fatalf("moved behind the mount's back into g2: getpid allowed after %v",
				time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("held to getpid by the scan %v after the real move",
		time.Since(start).Round(time.Millisecond))
	m.mustWrite("g2/syscalls.allow", "getpid")
	if got := s.call("getpid")["getpid"]; got != pid {
		t.Errorf("getpid after the allow in g2 = %s, want %s", got, pid)
	}
}

// TestGrowRestart: a restarted daemon's layer for a process whose layer
// had grown covers every number the old layers notify (it reads them from
// the kernel): sysinfo, which only the grown layer notified, is decided
// live again, not failed for good by the dead listener.
func TestGrowRestart(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	m.mustWrite("g/syscalls.deny", "sysinfo")
	if got := s.call("sysinfo")["sysinfo"]; got != "-38" {
		t.Fatalf("sysinfo after deny = %s, want -38", got)
	}
	killDaemon(t, m)
	if out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting again: %v\n%s", err, out)
	}
	s.expect(true, "after the restart")
	m.mustWrite("g/syscalls.allow", "sysinfo")
	if got := s.call("sysinfo")["sysinfo"]; got != "0" {
		t.Errorf("sysinfo after the new daemon's allow = %s, want 0", got)
	}
	m.mustWrite("g/syscalls.allow", "getppid")
	s.expect(false, "after the new daemon's allow of getppid")
}

// TestGrowAfterRestartReachesChild: a child that a held shell started, and
// that made no call its layer hands over (the daemon never heard of it),
// is grown with its layer by a deny after a restart of the daemon: it
// carries the layer, which went in before it was born, whatever the time
// the new daemon took the layer back from the keeper. Left out, it would
// keep the old layer, whose listener the growth closes, and could then
// load a listener of its own and answer its own denied calls.
func TestGrowAfterRestartReachesChild(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	p := startLive(t, m.base, bin.cgsyscall, "exec", "-m", m.mnt, "g", "--", "/bin/sh", "-c",
		`"$0" -serve; :`, bin.probe)
	child, ok := strings.CutPrefix(p.next(), "ready ")
	if !ok {
		t.Fatal("the probe printed no ready line")
	}
	t.Cleanup(func() { killMembers(t, m) }) // the shell and its child
	if got := p.call("getpid")["getpid"]; got != child {
		t.Fatalf("getpid of the child = %s, want %s", got, child)
	}
	killDaemon(t, m)
	persistRemount(t, m)
	m.mustWrite("g/syscalls.deny", "sysinfo")
	got := p.call("sysinfo", "getppid", "answergetppid")
	want := map[string]string{"sysinfo": "-38", "getppid": "-38", "answergetppid": "-16"}
	for tok, w := range want {
		if got[tok] != w {
			t.Errorf("the shell's child %s after a deny that grew its layer: %s = %s, want %s",
				child, tok, got[tok], w)
		}
	}
}
