package cgsyscall_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFrozenMembers: a process in a frozen group (cgroup.freeze, what a
// container's pause does) is not held while it is frozen, and nothing
// harms it. Code that a hold runs in a process runs only when it returns
// to user space, which a frozen one does not: a hold ran out of time with
// the process's registers set for its call, and the process died of
// SIGTRAP or SIGSEGV once thawed; a growth killed it; and each scan spent
// 2 s on it with every write to the mount waiting (helper-75 F3, 3 of 3).
//   - "first": a deny of a group whose member (not held) is frozen fails
//     with EBUSY and changes nothing; thawed, the member runs on and the
//     deny then holds it;
//   - "growth": a deny that needs the layer of a frozen held member to
//     grow fails with EBUSY and changes nothing; thawed, the member is
//     still held;
//   - "scan": a process written behind the mount's back into a frozen
//     restricted group is left by the scan (one log line), and held by
//     it once thawed;
//   - "ancestor": as "first", the freeze written in the parent group
//     (helper-76 F2: where the group never says "frozen 1", a task in it
//     being stuck, only its parent's cgroup.freeze tells).
func TestFrozenMembers(t *testing.T) {
	for _, how := range []string{"first", "growth", "scan", "ancestor"} {
		t.Run(how, func(t *testing.T) { frozenMember(t, how) })
	}
}

func frozenMember(t *testing.T, how string) {
	cserve := cProgram(t, "cserve")
	m := liveMirror(t)
	g, frozen := "g", "g"
	m.mkdir("g")
	if how == "ancestor" {
		g = "g/sub"
		m.mkdir(g)
	}
	if how == "growth" || how == "scan" {
		m.mustWrite("g/syscalls.deny", "getppid")
	}
	c := startLive(t, "", cserve)
	c.ready()
	ask := func(line, want string) {
		t.Helper()
		c.send(line)
		if got := c.next(); got != want {
			t.Errorf("%s: %q, want %q", line, got, want)
		}
	}
	if how == "scan" {
		setFreeze(t, m, frozen, true)
		if err := os.WriteFile(filepath.Join(m.base, "g", "cgroup.procs"),
			[]byte(strconv.Itoa(c.pid)), 0); err != nil {
			t.Fatal(err)
		}
		msg := `msg="not held while its group is frozen: the scan holds it once it is ` +
			`thawed" group=/g`
		if !logHas(t, m, msg, 3*time.Second) {
			t.Errorf("no line %q in the log within 3 s", msg)
		}
		if logHas(t, m, "could not hold a member", 0) {
			t.Errorf("the scan tried to hold the frozen process")
		}
		setFreeze(t, m, frozen, false)
		if !scanHeld(t, m, "g", c.pid, 3*time.Second) {
			t.Fatalf("the scan did not hold %d in g within 3 s of the thaw", c.pid)
		}
		ask("getppid", "getppid -38")
		return
	}
	moveTo(m, g, c.pid)
	filters := seccompFilters(t, c.pid)
	setFreeze(t, m, frozen, true)
	number, deny := "getppid", m.read(g+"/syscalls.deny")
	if how == "growth" {
		number = "sysinfo" // which the layer does not hand over: it must grow
	}
	err := m.write(g+"/syscalls.deny", number)
	if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
		t.Errorf("the deny of %s in %s, its member frozen: %v, want EBUSY", number, g, err)
	}
	if got := m.read(g + "/syscalls.deny"); got != deny {
		t.Errorf("%s/syscalls.deny after the refused deny: %q, want %q", g, got, deny)
	}
	setFreeze(t, m, frozen, false)
	if n := seccompFilters(t, c.pid); n != filters {
		t.Errorf("the member has %d seccomp filters after the refused deny, want %d", n,
			filters)
	}
	if how != "growth" {
		ask("getppid", "getppid "+strconv.Itoa(os.Getpid()))
		m.mustWrite(g+"/syscalls.deny", "getppid")
	}
	ask("getppid", "getppid -38")
}

// setFreeze freezes or thaws group of m's cgroup and waits until the
// kernel says it is done (cgroup.events).
func setFreeze(t *testing.T, m *mirror, group string, on bool) {
	t.Helper()
	v, want := "0", "frozen 0"
	if on {
		v, want = "1", "frozen 1"
	}
	dir := filepath.Join(m.base, group)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(v), 0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/cgroup.events %q: not %q within 5 s", group, b, want)
		}
	}
}
