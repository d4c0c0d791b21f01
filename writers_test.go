package cgsyscall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDenyReachesMembersWritingToTheMount: members of g, not held yet,
// that write to the mount without pause (testdata/writeloop, in g/x) are held by a
// deny of g: the deny returns 0, and each member has a layer. A thread
// inside a write to the mount stops only once the write is answered, and
// the members' writes waited for the lock that the deny held, or for the
// file's inode lock behind another member's such write: each hold timed
// out after 2 s, the deny failed with ETIMEDOUT, and every other write to
// the mount waited meanwhile (helper-75 F1, 5 of 5 with 6 writers or
// more).
func TestDenyReachesMembersWritingToTheMount(t *testing.T) {
	writeloop := cProgram(t, "writeloop")
	m := liveMirror(t)
	m.mkdir("g")
	m.mkdir("g/x")
	var writers []*live
	for i := 0; i < 8; i++ {
		w := startLive(t, m.base, writeloop, m.path("g/x/syscalls.deny"),
			m.path("g/x/syscalls.allow"))
		moveTo(m, "g", w.pid)
		writers = append(writers, w)
	}
	if err := m.write("g/syscalls.deny", "getppid"); err != nil {
		t.Fatalf("the deny of getppid in g, whose members write to the mount: %v, want "+
			"success", err)
	}
	for _, w := range writers {
		if n := seccompFilters(t, w.pid); n != 1 {
			t.Errorf("member %d has %d seccomp filters after the deny, want 1 (held)", w.pid, n)
		}
	}
}

// TestScanHoldsProcessesWritingToTheMount: processes written into r
// (getppid denied) behind the mount's back, each writing to the mount
// without pause (testdata/writeloop, in r/x), are held by the scan within its
// bound. The scan held the holder's lock while it waited for such a
// process to stop, and the process's write waited for that lock: the hold
// timed out at every scan, and the process called getppid for as long as
// it wrote (helper-75 F2: never held in 8 s in 6 of 16 tries).
func TestScanHoldsProcessesWritingToTheMount(t *testing.T) {
	writeloop := cProgram(t, "writeloop")
	m := liveMirror(t)
	m.mkdir("r")
	m.mkdir("r/x")
	m.mustWrite("r/syscalls.deny", "getppid")
	var writers []*live
	for i := 0; i < 3; i++ {
		w := startLive(t, "", writeloop, m.path("r/x/syscalls.deny"),
			m.path("r/x/syscalls.allow"))
		writers = append(writers, w)
	}
	time.Sleep(100 * time.Millisecond) // writing by now
	for _, w := range writers {
		err := os.WriteFile(filepath.Join(m.base, "r", "cgroup.procs"),
			[]byte(strconv.Itoa(w.pid)), 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range writers {
		if !scanHeld(t, m, "r", w.pid, 3*time.Second) {
			t.Errorf("the scan did not hold %d, which writes to the mount, in r within 3 s",
				w.pid)
		}
	}
}

// TestWritesWaitThroughSignals: with no hold anywhere, a write to the
// mount that waits for its turn behind others' writes waits, and
// succeeds, whatever signals its writer takes meanwhile. The kernel
// passes any signal with a handler (SA_RESTART too) to the daemon as an
// interrupt of the request, and such writes failed with EINTR, 283-400 of
// 3000 under a 1 kHz timer (helper-76 F4).
func TestWritesWaitThroughSignals(t *testing.T) {
	writeloop := cProgram(t, "writeloop")
	m := newMirror(t)
	m.mkdir("x")
	deny, allow := m.path("x/syscalls.deny"), m.path("x/syscalls.allow")
	for i := 0; i < 4; i++ {
		startLive(t, "", writeloop, deny, allow) // contention
	}
	out, err := exec.Command(writeloop, deny, allow, "1000").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "eintr 0" {
		t.Errorf("1000 pairs of writes under a 1 kHz SIGALRM, four writers beside: %v, %q, "+
			"want eintr 0", err, out)
	}
}
