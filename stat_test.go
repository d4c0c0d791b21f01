package cgsyscall_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// statDenied runs the probe in group with getppid tokens (natively and, on
// x86_64, through the i386 gate: both count as getppid) times times and
// returns how many calls were denied.
func statDenied(t *testing.T, m *mirror, group string, times int) int {
	t.Helper()
	var toks []string
	for i := 0; i < times; i++ {
		toks = append(toks, getppidTokens()...)
	}
	args := append([]string{"exec", "-m", m.mnt, group, "--", bin.probe}, toks...)
	out, errOut, status := run(t, args...)
	if status != 0 {
		t.Fatalf("exec in %s: status %d\n%s", group, status, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, ln := range lines {
		if want := toks[i] + " -38"; ln != want {
			t.Fatalf("probe in %s, line %d: %q, want %q", group, i+1, ln, want)
		}
	}
	return len(toks)
}

// logFields splits a logrus text line into its fields.
func logFields(line string) map[string]string {
	f := map[string]string{}
	for _, m := range logField.FindAllStringSubmatch(line, -1) {
		f[m[1]] = strings.Trim(m[2], `"`)
	}
	return f
}

var logField = regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`)

// deniedLines returns the daemon's "denied call" log lines for group and
// syscall, as fields.
func deniedLines(t *testing.T, m *mirror, group, name string) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(m.log)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]string
	for _, ln := range strings.Split(string(b), "\n") {
		f := logFields(ln)
		if f["msg"] == "denied call" && f["group"] == group && f["syscall"] == name {
			lines = append(lines, f)
		}
	}
	return lines
}

func wantStat(t *testing.T, m *mirror, group, want string) {
	t.Helper()
	if got := m.read(filepath.Join(group, "syscalls.stat")); got != want {
		t.Fatalf("%s/syscalls.stat = %q, want %q", group, got, want)
	}
}

// TestStatCountsDenials: syscalls.stat counts the denied calls of the
// group's own members, the compat ABI as its native twin, and the log has
// one line for them, however many there were within denials.LogEvery.
func TestStatCountsDenials(t *testing.T) {
	m := newMirror(t)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "getppid")
	m.mkdir("g/c")

	wantStat(t, m, "g", "total 0\n")
	n := statDenied(t, m, "g", 3)
	one := statDenied(t, m, "g/c", 1)
	wantStat(t, m, "g", fmt.Sprintf("getppid %d\ntotal %d\n", n, n))
	wantStat(t, m, "g/c", fmt.Sprintf("getppid %d\ntotal %d\n", one, one))
	wantStat(t, m, "", "total 0\n")

	// A tight loop: counted in full, logged no more.
	out, errOut, status := run(t, "exec", "-m", m.mnt, "g", "--", bin.probe,
		"loop:1000:getppid")
	if status != 0 || !strings.HasSuffix(strings.TrimSpace(out), " -38") {
		t.Fatalf("loop: status %d, %q %s", status, out, errOut)
	}
	n += 1001 // the probe makes one call before it starts the clock
	wantStat(t, m, "g", fmt.Sprintf("getppid %d\ntotal %d\n", n, n))
	lines := deniedLines(t, m, "/g", "getppid")
	if len(lines) != 1 {
		t.Fatalf("%d denial log lines for getppid in /g, want 1", len(lines))
	}
	if got := len(deniedLines(t, m, "/g/c", "getppid")); got != 1 {
		t.Fatalf("%d denial log lines for getppid in /g/c, want 1", got)
	}
	abi := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	f := lines[0]
	if f["level"] != "warning" || f["abi"] != abi || f["comm"] != "probe" ||
		f["nr"] != "110" && abi == "x86_64" || f["pid"] == "" {
		t.Fatalf("denial line %v: want level warning, abi %s, comm probe, nr and pid", f, abi)
	}

	// Read-only: mode 0444, and a write is refused as kernfs refuses it.
	st, err := os.Stat(m.path("g", "syscalls.stat"))
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("syscalls.stat mode %v (%v), want 0444", st.Mode(), err)
	}
	_, err = os.OpenFile(m.path("g", "syscalls.stat"), os.O_WRONLY, 0)
	if !errors.Is(err, syscall.EACCES) {
		t.Fatalf("opening syscalls.stat for writing: %v, want EACCES", err)
	}
	if err := m.write("g/syscalls.stat", "0"); err == nil ||
		!strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("echo into syscalls.stat: %v, want Permission denied", err)
	}
	wantStat(t, m, "g", fmt.Sprintf("getppid %d\ntotal %d\n", n, n))
}

// TestStatSurvivesRestart: the counts come back after an umount and after a
// kill -9 (what was flushed, a second before it), go with an rmdir, and a
// corrupt saved value starts the group afresh without failing the mount.
func TestStatSurvivesRestart(t *testing.T) {
	m := newMirror(t)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "getppid")
	n := statDenied(t, m, "g", 2)
	want := fmt.Sprintf("getppid %d\ntotal %d\n", n, n)

	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	persistRemount(t, m)
	wantStat(t, m, "g", want)

	n += statDenied(t, m, "g", 1)
	want = fmt.Sprintf("getppid %d\ntotal %d\n", n, n)
	time.Sleep(2 * time.Second) // two flushes
	killDaemon(t, m)
	persistRemount(t, m)
	wantStat(t, m, "g", want)

	m.mkdir("g/c")
	statDenied(t, m, "g/c", 1)
	// The probe has exited, but its cgroup may stay busy for a moment.
	for i := 0; ; i++ {
		err := os.Remove(m.path("g", "c"))
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EBUSY) || i == 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.mkdir("g/c")
	wantStat(t, m, "g/c", "total 0\n")

	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	if err := unix.Setxattr(filepath.Join(m.base, "g"), "trusted.cgsyscall.stat",
		[]byte("getppid lots\n"), 0); err != nil {
		t.Fatal(err)
	}
	persistRemount(t, m)
	wantStat(t, m, "g", "total 0\n")
	if got := m.read("g/syscalls.deny"); got == "\n" {
		t.Fatal("the policy was lost with the corrupt counts")
	}
	b, _ := os.ReadFile(m.log)
	if !strings.Contains(string(b), "saved denial counts unreadable") {
		t.Fatalf("no warning about the corrupt counts in the log:\n%s", b)
	}
}

// TestStatCountsWhereDenied: a member moved behind the mount's back to the
// root, which denies nothing, is still denied by the group it was placed
// in, and its denials count there, not in the root.
func TestStatCountsWhereDenied(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	if err := os.WriteFile(filepath.Join(m.base, "cgroup.procs"),
		[]byte(fmt.Sprint(s.pid)), 0); err != nil {
		t.Fatal(err)
	}
	if got := s.call("getppid")["getppid"]; got != "-38" {
		t.Fatalf("getppid after the move behind the back: %s, want -38", got)
	}
	wantStat(t, m, "", "total 0\n")
	wantStat(t, m, "g", "getppid 1\ntotal 1\n")
}

// TestStatExactUnderSignals: a member whose denied calls are interrupted
// by a storm of signals (SIGURG, which its Go runtime takes and returns
// from, so that each interrupted call is made again) has every denied call
// counted once: the kernel takes no signal from a call the daemon has
// received until it is answered (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
// so an answer that was sent is never also restarted and counted again.
func TestStatExactUnderSignals(t *testing.T) {
	m := newMirror(t)
	m.mkdir("storm")
	m.mustWrite("storm/syscalls.deny", "getppid")
	const calls = 32000
	loop := fmt.Sprintf("loop:%d:getppid", calls)
	cmd := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "storm", "--", bin.probe, loop)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Signal every thread of every process of the group, all of them
	// started by this test, until the loop ends.
	procs := filepath.Join(m.base, "storm", "cgroup.procs")
	sent := 0
	var err error
storm:
	for {
		select {
		case err = <-done:
			break storm
		default:
		}
		b, _ := os.ReadFile(procs)
		for _, f := range strings.Fields(string(b)) {
			var pid int
			fmt.Sscan(f, &pid)
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			for _, task := range tasks {
				var tid int
				fmt.Sscan(task.Name(), &tid)
				if unix.Tgkill(pid, tid, unix.SIGURG) == nil {
					sent++
				}
			}
		}
	}
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out.String())
	}
	f := strings.Fields(out.String())
	if len(f) != 3 || f[0] != loop || f[2] != "-38" {
		t.Fatalf("probe printed %q, want %q NS -38", out.String(), loop)
	}
	if sent < 1000 {
		t.Fatalf("only %d signals reached the member; the storm is too thin", sent)
	}
	t.Logf("%d signals sent", sent)
	n := calls + 1 // the loop makes its call once before it starts timing
	wantStat(t, m, "storm", fmt.Sprintf("getppid %d\ntotal %d\n", n, n))
}
