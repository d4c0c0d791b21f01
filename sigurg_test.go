// The SIGURG pass: a held process's layer lets tgkill and tkill with SIGURG
// (Go's goroutine preemption) run in the kernel while its group allows
// them, so the guard never sees those; denied, they are notified whatever
// the signal.
package cgsyscall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/enforce/hold"
)

// sigTok is the probe's token for tgkill(pid, pid, sig).
func sigTok(pid int, sig int) string {
	p := strconv.Itoa(pid)
	return "args:tgkill:" + p + ":" + p + ":" + strconv.Itoa(sig)
}

// wantCalls has a serving probe make the calls of want and checks each
// answer.
func wantCalls(t *testing.T, p *live, when string, want map[string]string) {
	t.Helper()
	toks := make([]string, 0, len(want))
	for tok := range want {
		toks = append(toks, tok)
	}
	got := p.call(toks...)
	for _, tok := range toks {
		if got[tok] != want[tok] {
			t.Errorf("%s: %s = %s, want %s", when, tok, got[tok], want[tok])
		}
	}
}

// TestSigURGPass: a held Go probe in a group that denies getppid sends
// SIGURG to itself, to the daemon and to the keeper, and each call returns
// 0: the kernel ran it, since the guard would have refused the two aimed
// at the daemon and the keeper (as it refuses the same calls with signal
// 0). After "echo tgkill > g/syscalls.deny" the same running probe gets
// ENOSYS for tgkill with SIGURG too, and syscalls.stat counts it; tkill,
// still allowed, keeps its pass. Allowed again, tgkill runs, but the
// grown layer does not shrink: the guard sees SIGURG for the daemon again.
func TestSigURGPass(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	// The probe's runtime must not preempt its goroutines with tgkill of
	// its own: once tgkill is denied, those would be counted too (tgkill 3
	// in the aarch64 VM, where goroutines run long enough).
	t.Setenv("GODEBUG", "asyncpreemptoff=1")
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	d, k := daemonPID(t, m), oneKeeper(t, m)
	dk := func(tgkill string, tkill string) map[string]string {
		tk := "args:tkill:" + strconv.Itoa(d)
		return map[string]string{
			sigTok(d, 23): tgkill,
			sigTok(k, 23): tgkill,
			tk + ":23":    tkill,
			sigTok(d, 0):  "-38",
			sigTok(k, 0):  "-38",
			tk + ":0":     "-38",
		}
	}
	want := dk("0", "0")
	want["getppid"] = "-38"
	want[sigTok(s.pid, 23)] = "0"
	want[sigTok(s.pid, 0)] = "0"
	want["args:tkill:self:23"] = "0"
	wantCalls(t, s, "held in g", want)
	if n := seccompFilters(t, s.pid); n != 1 {
		t.Errorf("the probe has %d seccomp filters, want 1", n)
	}

	m.mustWrite("g/syscalls.deny", "tgkill")
	want = dk("-38", "0")
	want[sigTok(s.pid, 23)] = "-38"
	want[sigTok(s.pid, 0)] = "-38"
	want["args:tkill:self:23"] = "0"
	wantCalls(t, s, "after deny tgkill", want)
	if n := seccompFilters(t, s.pid); n != 2 {
		t.Errorf("after deny tgkill the probe has %d seccomp filters, want 2", n)
	}
	// Its own two tgkill calls were denied by the policy; those aimed at
	// the daemon and the keeper were refused by the guard, not counted.
	got := m.read("g/syscalls.stat")
	if !slices.Contains(strings.Split(got, "\n"), "tgkill 2") {
		t.Errorf("g/syscalls.stat = %q, want a line tgkill 2", got)
	}

	m.mustWrite("g/syscalls.allow", "tgkill")
	want = dk("-38", "0")
	want[sigTok(s.pid, 23)] = "0"
	wantCalls(t, s, "after allow tgkill", want)
}

// TestSigURGMoveIntoDenying: a held probe whose layer passes SIGURG is
// moved into a group that denies tgkill, through the mount (held to it
// before the write returns) and behind the mount's back (held to it by
// the scan within its bound): either way its layer grows, and its
// tgkill with SIGURG gets ENOSYS.
func TestSigURGMoveIntoDenying(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	m.mkdir("t")
	m.mustWrite("t/syscalls.deny", "getppid tgkill")
	for _, behind := range []bool{false, true} {
		s := startServing(t, m.base)
		moveTo(m, "g", s.pid)
		urg := sigTok(s.pid, 23)
		wantCalls(t, s, "held in g", map[string]string{urg: "0", "getppid": "-38"})
		if !behind {
			moveTo(m, "t", s.pid)
			wantCalls(t, s, "moved to t", map[string]string{urg: "-38", "getppid": "-38"})
		} else {
			real := filepath.Join(m.base, "t", "cgroup.procs")
			if err := os.WriteFile(real, []byte(strconv.Itoa(s.pid)), 0); err != nil {
				t.Fatal(err)
			}
			// As expectSoon: after the first right answer, a whole scan
			// interval, so that no thread is judged by a stale group.
			start := time.Now()
			for s.call(urg)[urg] != "-38" && time.Since(start) < 2500*time.Millisecond {
				time.Sleep(20 * time.Millisecond)
			}
			took := time.Since(start).Round(time.Millisecond)
			if wait := hold.ScanInterval + 300*time.Millisecond - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
			wantCalls(t, s, "moved to t behind the back ("+took.String()+")",
				map[string]string{urg: "-38", "getppid": "-38", sigTok(s.pid, 0): "-38"})
		}
		if n := seccompFilters(t, s.pid); n != 2 {
			t.Errorf("behind %v: the probe has %d seccomp filters, want 2 (grown)", behind, n)
		}
		s.stdin.Close()
		s.cmd.Wait()
	}
}

// TestSigURGRestart: a new daemon takes the probe's listener back from the
// keeper and reads from its filter chain that its layer passes SIGURG:
// SIGURG to the new daemon runs in the kernel, and a deny of tgkill grows
// the layer as it would have under the old daemon.
func TestSigURGRestart(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	killDaemon(t, m)
	if out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting again: %v\n%s", err, out)
	}
	d := daemonPID(t, m)
	wantCalls(t, s, "after the restart", map[string]string{"getppid": "-38",
		sigTok(s.pid, 23): "0", sigTok(d, 23): "0", sigTok(d, 0): "-38"})
	if n := seccompFilters(t, s.pid); n != 1 {
		t.Errorf("after the restart the probe has %d seccomp filters, want 1", n)
	}
	m.mustWrite("g/syscalls.deny", "tgkill")
	wantCalls(t, s, "after the new daemon's deny of tgkill", map[string]string{
		sigTok(s.pid, 23): "-38", sigTok(d, 23): "-38", "getppid": "-38"})
	if n := seccompFilters(t, s.pid); n != 2 {
		t.Errorf("after deny tgkill the probe has %d seccomp filters, want 2", n)
	}
}

// prlimitTok is the probe's token for prlimit64(pid, RLIMIT_NOFILE, NULL,
// NULL), which only checks that the caller may.
func prlimitTok(pid int) string { return "args:prlimit64:" + strconv.Itoa(pid) + ":7:0:0" }

// TestPrlimitPass: a held probe's prlimit64 of itself (pid 0) runs in the
// kernel while its group allows prlimit64; one aimed at the daemon is
// still refused by the guard (it is notified: any pid but 0 is). After
// "echo prlimit64 > g/syscalls.deny" the same running probe gets ENOSYS
// for pid 0 too. With a restart in between, the new daemon reads from the
// layer taken back from the keeper that it passes prlimit64, and grows it
// all the same.
func TestPrlimitPass(t *testing.T) {
	for _, restart := range []bool{false, true} {
		m := liveMirror(t)
		denyGetppid(m, "g")
		s := startServing(t, m.base)
		moveTo(m, "g", s.pid)
		if restart {
			killDaemon(t, m)
			if out, err := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log",
				m.log, m.mnt).CombinedOutput(); err != nil {
				t.Fatalf("mounting again: %v\n%s", err, out)
			}
		}
		d := daemonPID(t, m)
		when := "held in g"
		if restart {
			when += ", after a restart"
		}
		wantCalls(t, s, when, map[string]string{"getppid": "-38", prlimitTok(0): "0",
			prlimitTok(s.pid): "0", prlimitTok(d): "-38"})
		m.mustWrite("g/syscalls.deny", "prlimit64")
		wantCalls(t, s, when+", then prlimit64 denied", map[string]string{
			prlimitTok(0): "-38", prlimitTok(s.pid): "-38", prlimitTok(d): "-38"})
		if n := seccompFilters(t, s.pid); n != 2 {
			t.Errorf("%s: after deny prlimit64 the probe has %d seccomp filters, want 2",
				when, n)
		}
		got := m.read("g/syscalls.stat")
		if !slices.Contains(strings.Split(got, "\n"), "prlimit64 2") {
			t.Errorf("%s: g/syscalls.stat = %q, want a line prlimit64 2", when, got)
		}
		s.stdin.Close()
		s.cmd.Wait()
	}
}
