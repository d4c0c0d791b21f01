// Restart without loss (issue 4, item 2), end to end: the daemon is killed
// with SIGKILL (by its PID) and mounted again on the same mirror; the
// policy must come back exactly, a held member must stay held throughout,
// and a corrupt saved policy must stop the mount.
package cgsyscall_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/persist"
	"github.com/cgsyscall/cgsyscall/policy"
)

// persistRemount mounts m's mirror again on m's mount point after its daemon
// died, and returns how long the mount command took.
func persistRemount(tb testing.TB, m *mirror) time.Duration {
	tb.Helper()
	return persistRemountWith(tb, m, bin.cgsyscall)
}

// persistRemountWith is persistRemount with the cgsyscall binary named.
func persistRemountWith(tb testing.TB, m *mirror, cgsyscall string) time.Duration {
	tb.Helper()
	start := time.Now()
	out, err := exec.Command(cgsyscall, "mount", "--mirror", m.base, "--log", m.log,
		m.mnt).CombinedOutput()
	if err != nil {
		tb.Fatalf("mounting again: %v\n%s", err, out)
	}
	return time.Since(start)
}

// persistGroups lists the groups of m's real cgroup tree, "" for its root.
func persistGroups(tb testing.TB, m *mirror) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(m.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(m.base, p)
			if rel == "." {
				rel = ""
			}
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// persistMountState reads syscalls.deny of every group through the mount, as
// "/GROUP=NUMBERS" lines.
func persistMountState(tb testing.TB, m *mirror, groups []string) string {
	tb.Helper()
	var b strings.Builder
	for _, g := range groups {
		d, err := os.ReadFile(filepath.Join(m.mnt, g, "syscalls.deny"))
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "/%s=%s\n", g, strings.TrimSpace(string(d)))
	}
	return b.String()
}

// persistModelState renders a policy tree as persistMountState does.
func persistModelState(tr *policy.Tree) string {
	var b strings.Builder
	for _, g := range tr.Paths() {
		d, _ := tr.Denied(g)
		fmt.Fprintf(&b, "/%s=%s\n", g, strings.TrimSpace(string(policy.Format(d))))
	}
	return b.String()
}

// persistSet is the set of the syscalls named, in the host's numbers.
func persistSet(tb testing.TB, names ...string) policy.Set {
	tb.Helper()
	var s policy.Set
	for _, n := range names {
		nr, ok := arch.Host().Native.SyscallNumber(n)
		if !ok {
			tb.Fatalf("no syscall %s here", n)
		}
		s.Add(nr)
	}
	return s
}

// TestPersistKill9: a policy written through the mount is back exactly
// after a kill -9 and a new mount. A group made in the real tree while no
// daemon ran starts with its parent's set; one removed meanwhile is gone.
func TestPersistKill9(t *testing.T) {
	m := liveMirror(t)
	model := policy.NewTree(arch.Host())
	for _, g := range []string{"g", "g/a", "g/a/b", "h"} {
		m.mkdir(g)
		model.Ensure(g)
	}
	writes := []struct{ group, file, data string }{
		{"", "syscalls.deny", "swapon"},
		{"g", "syscalls.deny", "getppid uname"},
		{"g/a/b", "syscalls.deny", "ptrace"},
		{"g", "syscalls.allow", "uname"}, // g/a and g/a/b keep it
		{"h", "syscalls.deny", "acct"},
		{"", "syscalls.allow", "swapon"},
	}
	for _, w := range writes {
		m.mustWrite(filepath.Join(w.group, w.file), w.data)
		s := persistSet(t, strings.Fields(w.data)...)
		if w.file == "syscalls.deny" {
			model.Deny(w.group, s)
		} else {
			model.Allow(w.group, s)
		}
	}
	groups := persistGroups(t, m)
	if got := persistMountState(t, m, groups); got != persistModelState(model) {
		t.Fatalf("before the kill:\n%swant:\n%s", got, persistModelState(model))
	}
	allowBefore := m.read("g/a/b/syscalls.allow")

	killDaemon(t, m)
	if err := os.Mkdir(filepath.Join(m.base, "g/a/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m.base, "h")); err != nil {
		t.Fatal(err)
	}
	model.Ensure("g/a/new")
	model.Remove("h")
	persistRemount(t, m)

	if got := persistMountState(t, m, persistGroups(t, m)); got != persistModelState(model) {
		t.Errorf("after kill -9 and a new mount:\n%swant:\n%s", got, persistModelState(model))
	}
	if got := m.read("g/a/b/syscalls.allow"); got != allowBefore {
		t.Errorf("g/a/b/syscalls.allow after the restart differs from before")
	}
	log, _ := os.ReadFile(m.log)
	if want := "policy restored: 5 groups, 4 with a saved policy"; !bytes.Contains(log,
		[]byte(want)) {
		t.Errorf("daemon log lacks %q", want)
	}
}

// persistNames are the syscalls the write stream denies and allows: none
// of them is made by the probe, a shell or the daemon.
var persistNames = []string{"acct", "swapon", "swapoff", "sethostname", "setdomainname",
	"init_module", "delete_module", "pivot_root", "vhangup", "syslog"}

// persistOp is one write of the stream.
type persistOp struct {
	group string
	deny  bool
	name  string
}

// persistOps makes n writes that are all valid in order, starting from
// model (which it leaves as it found it), and the model's state after
// each: states[i] is the state after the first i writes.
func persistOps(t *testing.T, model *policy.Tree, groups []string, n int) ([]persistOp,
	[]string) {
	rng := rand.New(rand.NewSource(4))
	saved := model.Snapshot()
	states := []string{persistModelState(model)}
	var ops []persistOp
	for len(ops) < n {
		op := persistOp{group: groups[rng.Intn(len(groups))], deny: rng.Intn(2) == 0,
			name: persistNames[rng.Intn(len(persistNames))]}
		if rng.Intn(3) == 0 {
			op.group = "g" // the group with the largest subtree: a long save
		}
		s := persistSet(t, op.name)
		var err error
		if op.deny {
			err = model.Deny(op.group, s)
		} else {
			err = model.Allow(op.group, s)
		}
		if err != nil {
			continue // an allow its parent forbids: not part of the stream
		}
		ops = append(ops, op)
		states = append(states, persistModelState(model))
	}
	if err := model.Restore(saved); err != nil {
		t.Fatal(err)
	}
	return ops, states
}

// TestPersistKillDuringStream kills the daemon with SIGKILL in the middle
// of a stream of control-file writes from a shell loop, ten times, and
// mounts again each time. Let k be the number of writes the shell saw
// succeed: the restored policy must be exactly the state after write k, or
// exactly the state after write k+1 (the write under way when the daemon
// died, which the daemon may have saved, whole, before dying), never
// anything else. A member held in g (getppid denied there) stays held
// throughout: getppid is -38 while no daemon runs and after the restart,
// and an allow after the last restart reaches it.
func TestPersistKillDuringStream(t *testing.T) {
	m := liveMirror(t)
	model := policy.NewTree(arch.Host())
	var groups []string
	add := func(g string) {
		m.mkdir(g)
		model.Ensure(g)
		groups = append(groups, g)
	}
	add("g")
	for i := 0; i < 10; i++ {
		add(fmt.Sprintf("g/s%d", i))
		for j := 0; j < 4; j++ {
			add(fmt.Sprintf("g/s%d/t%d", i, j))
		}
	}
	add("h")
	m.mustWrite("g/syscalls.deny", "getppid")
	model.Deny("g", persistSet(t, "getppid"))
	s := startServing(t, m.base)
	moveTo(m, "g", s.pid)
	s.expect(true, "held in g")

	ops, states := persistOps(t, model, groups, 6000)
	all := append([]string{""}, groups...)
	next := 0 // the first write not known to be in the restored state
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	interrupted := map[string]int{}
	for round := 0; round < 10; round++ {
		acked := persistStream(t, m, ops[next:], 20+rng.Intn(80),
			time.Duration(rng.Intn(2000))*time.Microsecond)
		k := next + acked
		if k+1 >= len(ops) {
			t.Fatalf("the stream ran out of writes (%d)", len(ops))
		}
		// getppid, which the member's layer notifies, fails closed; getpid,
		// a frequent call that no group denies and so no layer notifies,
		// runs.
		got := s.call("getppid", "getpid")
		if got["getppid"] != "-38" || got["getpid"] != strconv.Itoa(s.pid) {
			t.Errorf("round %d, no daemon: getppid %s, getpid %s; want -38, %d", round,
				got["getppid"], got["getpid"], s.pid)
		}
		persistRemount(t, m)
		restored := persistMountState(t, m, all)
		switch restored {
		case states[k]:
			interrupted["write k+1 lost (unacknowledged)"]++
			next = k
		case states[k+1]:
			interrupted["write k+1 kept whole"]++
			next = k + 1
		default:
			t.Fatalf("round %d: %d writes acknowledged; restored policy\n%s\nis neither "+
				"the state after write %d:\n%s\nnor after write %d (%+v):\n%s", round, k,
				restored, k, states[k], k+1, ops[k], states[k+1])
		}
		t.Logf("round %d: %d writes acknowledged, write %d (%+v) %s", round, k, k+1,
			ops[k], map[bool]string{true: "kept", false: "lost"}[next == k+1])
		s.expect(true, fmt.Sprintf("round %d, after the restart", round))
	}
	log, _ := os.ReadFile(m.log)
	t.Logf("outcomes: %v; restarts that completed an interrupted deny: %d", interrupted,
		bytes.Count(log, []byte("completed an interrupted deny")))
	m.mustWrite("g/syscalls.allow", "getppid")
	s.expect(false, "after an allow through the last daemon")
}

// persistStream runs ops as "echo NAME > FILE" in a shell loop,
// kills m's daemon with SIGKILL delay after the shell has reported after
// writes acknowledged, waits until the shell has stopped (its next write fails),
// and detaches the dead mount. It returns how many writes the shell saw
// succeed.
func persistStream(t *testing.T, m *mirror, ops []persistOp, after int,
	delay time.Duration) int {
	t.Helper()
	var script bytes.Buffer
	for _, op := range ops {
		file := "syscalls.allow"
		if op.deny {
			file = "syscalls.deny"
		}
		fmt.Fprintf(&script, "%s %s\n", filepath.Join(m.mnt, op.group, file), op.name)
	}
	daemon := daemonPID(t, m)
	sh := exec.Command("bash", "-c",
		`while read -r f d; do echo "$d" > "$f" || exit 1; echo ok; done`)
	sh.Stdin = &script
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := 0
	for acked < after && sc.Scan() {
		acked++
	}
	time.Sleep(delay)
	if err := syscall.Kill(daemon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		acked++
	}
	err = sh.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("the shell loop ended with %v after %d writes, want exit status 1", err,
			acked)
	}
	persistWaitExit(t, daemon)
	if out, err := exec.Command("umount", "-l", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount -l of the dead mount: %v: %s", err, out)
	}
	return acked
}

// persistWaitExit waits until process pid has exited (a zombie or gone).
func persistWaitExit(tb testing.TB, pid int) {
	tb.Helper()
	for i := 0; i < 500; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if j := bytes.LastIndexByte(b, ')'); j > 0 && bytes.HasPrefix(b[j:], []byte(") Z")) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("process %d still running 5 s after SIGKILL", pid)
}

// TestPersistCorrupt: a saved policy that is garbage stops the mount with
// one line naming the group, the attribute and the way out, and exit
// status 1 (32 as a mount helper); clearing the attribute as the line says
// lets the mount start, and the group then has its parent's set.
func TestPersistCorrupt(t *testing.T) {
	m := newMirror(t)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "getppid")
	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	dir := filepath.Join(m.base, "g")
	if err := unix.Setxattr(dir, persist.Attr, []byte("garbage\x01"), 0); err != nil {
		t.Fatal(err)
	}
	how := "remove the extended attribute trusted.cgsyscall.deny of " + dir
	if _, err := exec.LookPath("setfattr"); err == nil {
		how = "run: setfattr -x trusted.cgsyscall.deny " + dir
	}
	want := "cgsyscall: saved policy of group /g is corrupt: trusted.cgsyscall.deny of " +
		dir + ` holds "garbage\x01" (line 1: "garbage\x01": not a number, syscall name, ` +
		`range or "all"); not mounting without it. To give the group its parent's ` +
		"policy instead, " + how + "\n"

	stdout, stderr, status := run(t, "mount", "--mirror", m.base, "--log", m.log, m.mnt)
	if status != 1 || stderr != want || stdout != "" {
		t.Errorf("mount with a corrupt saved policy: status %d, stdout %q, stderr\n%q\n"+
			"want status 1, stderr\n%q", status, stdout, stderr, want)
	}
	helper := filepath.Join(t.TempDir(), "mount.fuse.cgsyscall")
	if err := os.Symlink(bin.cgsyscall, helper); err != nil {
		t.Fatal(err)
	}
	var eb bytes.Buffer
	cmd := exec.Command(helper, m.base, m.mnt, "-o", "mirror="+m.base+",log="+m.log)
	cmd.Stderr = &eb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 32 || eb.String() != want {
		t.Errorf("mount helper: %v, stderr\n%q\nwant exit status 32 and\n%q", err,
			eb.String(), want)
	}
	if m.mounted() {
		t.Fatal("mounted in spite of the corrupt saved policy")
	}

	if err := unix.Removexattr(dir, persist.Attr); err != nil {
		t.Fatal(err)
	}
	persistRemount(t, m)
	if got := m.read("g/syscalls.deny"); got != "\n" {
		t.Errorf("g/syscalls.deny after clearing its attribute: %q, want the root's %q",
			got, "\n")
	}
}

// TestPersistMountInsideMirror: with the mount point a real group of the
// mirror (the /sys/fs/cgroup/syscalls layout), the restart walks around
// it and never through the mount; the policy comes back.
func TestPersistMountInsideMirror(t *testing.T) {
	m := newMirror(t)
	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	m.mnt = filepath.Join(m.base, "syscalls")
	if err := os.Mkdir(m.mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// Garbage where the walk must not look: the mount point's own group.
	if err := unix.Setxattr(m.mnt, persist.Attr, []byte("garbage"), 0); err != nil {
		t.Fatal(err)
	}
	persistRemount(t, m)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "getppid")
	want := m.read("g/syscalls.deny")
	killDaemon(t, m)
	d := persistRemount(t, m)
	if got := m.read("g/syscalls.deny"); got != want {
		t.Errorf("g/syscalls.deny after the restart: %q, want %q", got, want)
	}
	if _, err := os.Stat(m.path("syscalls")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the mount point shows in the mount: %v", err)
	}
	t.Logf("restart in %v", d.Round(time.Millisecond))

	// A member below a restricted root makes the scan list the root's real
	// directory for groups made behind the mount's back; it finds the mount
	// point's group there, and must pass it by (it would otherwise look
	// through the mount at itself). The member is held, the daemon answers.
	m.mustWrite("syscalls.deny", "acct")
	wantRoot := m.read("syscalls.deny")
	s := startServing(t, filepath.Join(m.base, "g"))
	time.Sleep(1500 * time.Millisecond) // a scan holds it
	if got := s.call("getppid", "acct"); got["getppid"] != "-38" || got["acct"] != "-38" {
		t.Errorf("a member of g after a scan: getppid %s, acct %s; want -38, -38",
			got["getppid"], got["acct"])
	}
	if _, err := os.Stat(m.path("syscalls")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the mount point shows in the mount after a scan: %v", err)
	}
	if got := m.read("syscalls.deny"); got != wantRoot {
		t.Errorf("the root's syscalls.deny after a scan: %q, want %q", got, wantRoot)
	}
	m.mustWrite("syscalls.deny", "vhangup") // saved in every group the tree has
}

// BenchmarkRestart10k: a mirror of 10,000 groups (100 groups of 99
// children each, below the test's own cgroup) with a saved policy in every
// group and one held member; each round kills the daemon with SIGKILL and
// mounts again. Metrics: restart-ms from the mount command's start until
// it returns (the mount answers and the daemon has held its members
// again), load-ms for persist's Load alone (in this process), the new
// daemon's RSS after the restart and after every group's syscalls.deny
// was read through the mount, find-ms for find over the whole mount, and
// peak-MiB, the daemon's VmHWM after all that (the largest of the rounds).
//
// With CGSYSCALL_BENCH_BASE naming another cgsyscall binary by its
// absolute path (an older build, say), every round also restarts the same mirror with that one
// and measures it the same way, in alternating order; its figures carry
// a "base-" prefix. The groups are removed at the end; making and
// removing them takes a while.
func BenchmarkRestart10k(b *testing.B) {
	m := benchMirror(b)
	start := time.Now()
	var groups []string
	for i := 0; i < 100; i++ {
		g := fmt.Sprintf("g%02d", i)
		groups = append(groups, g)
		for j := 0; j < 99; j++ {
			groups = append(groups, fmt.Sprintf("%s/c%02d", g, j))
		}
	}
	for _, g := range groups {
		if err := os.Mkdir(filepath.Join(m.base, g), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	made := time.Since(start)
	for _, g := range groups { // let the daemon see them all
		if _, err := os.Stat(m.path(g, "syscalls.deny")); err != nil {
			b.Fatal(err)
		}
	}
	// Every group restricted and saved: swapon at the root (one write
	// that saves 10,001 groups), acct in each top group, acct allowed
	// again in every tenth child.
	start = time.Now()
	persistWriteB(b, m, "syscalls.deny", "swapon")
	rootDeny := time.Since(start)
	for i := 0; i < 100; i++ {
		persistWriteB(b, m, fmt.Sprintf("g%02d/syscalls.deny", i), "acct")
		for j := 0; j < 99; j += 10 {
			persistWriteB(b, m, fmt.Sprintf("g%02d/c%02d/syscalls.deny", i, j), "vhangup")
		}
	}
	persistWriteB(b, m, "syscalls.allow", "swapon")
	cg, err := os.Open(filepath.Join(m.base, "g42/c17"))
	if err != nil {
		b.Fatal(err)
	}
	subj := startBenchSubject(b, cg)
	cg.Close()
	defer subj.stop()
	persistWriteB(b, m, "g42/c17/tasks", strconv.Itoa(subj.pid))
	if got := subj.ask(b, "acct"); got != "-38" {
		b.Fatalf("acct in g42/c17 = %s, want -38", got)
	}
	b.Logf("made %d groups in %v; the root's deny saved them all in %v", len(groups),
		made.Round(time.Millisecond), rootDeny.Round(time.Millisecond))

	variants := []*restartFigures{{bin: bin.cgsyscall}}
	if base := os.Getenv("CGSYSCALL_BENCH_BASE"); base != "" {
		variants = append(variants, &restartFigures{bin: base, prefix: "base-"})
	}
	var load float64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		for i := range variants {
			v := variants[(i+rounds)%len(variants)]
			v.round(b, m, groups, subj, v.bin == bin.cgsyscall)
		}
		s, err := persist.Open(m.base, m.mnt, arch.Host())
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		sum, err := s.Load(policy.NewTree(arch.Host()))
		load += float64(time.Since(t0).Microseconds()) / 1000
		s.Close()
		if err != nil || sum.Groups != len(groups)+1 || sum.Saved != len(groups)+1 {
			b.Fatalf("Load: %v, %v", sum, err)
		}
		rounds++
		b.StartTimer()
	}
	n := float64(rounds)
	for _, v := range variants {
		b.ReportMetric(v.restart/n, v.prefix+"restart-ms")
		b.ReportMetric(v.rss/n, v.prefix+"rss-MiB")
		b.ReportMetric(v.rssRead/n, v.prefix+"rss-after-read-MiB")
		b.ReportMetric(v.find/n, v.prefix+"find-ms")
		b.ReportMetric(v.hwm, v.prefix+"peak-MiB")
	}
	b.ReportMetric(load/n, "load-ms")
	b.ReportMetric(0, "ns/op")
}

// restartFigures sums what BenchmarkRestart10k measures of one cgsyscall
// binary over its rounds.
type restartFigures struct {
	bin, prefix                      string
	restart, rss, rssRead, find, hwm float64
}

// round kills the daemon serving m, mounts m again with v's binary and
// measures the restart, the RSS, reading every group's syscalls.deny and
// a find over the mount. timed puts the restart in the benchmark's time.
func (v *restartFigures) round(b *testing.B, m *mirror, groups []string, subj *benchSubject,
	timed bool) {

	b.Helper()
	pid := persistDaemonB(b, m)
	syscall.Kill(pid, syscall.SIGKILL)
	persistWaitExit(b, pid)
	if out, err := exec.Command("umount", "-l", m.mnt).CombinedOutput(); err != nil {
		b.Fatalf("umount -l: %v: %s", err, out)
	}
	if timed {
		b.StartTimer()
	}
	d := persistRemountWith(b, m, v.bin)
	if timed {
		b.StopTimer()
	}
	v.restart += float64(d.Microseconds()) / 1000
	if got := subj.ask(b, "acct"); got != "-38" {
		b.Fatalf("acct after the restart (%s) = %s, want -38", v.bin, got)
	}
	pid = persistDaemonB(b, m)
	v.rss += float64(persistStatusKiB(b, pid, "VmRSS")) / 1024
	for _, g := range groups {
		if _, err := os.ReadFile(filepath.Join(m.mnt, g, "syscalls.deny")); err != nil {
			b.Fatal(err)
		}
	}
	v.rssRead += float64(persistStatusKiB(b, pid, "VmRSS")) / 1024
	// find over the whole mount: every group listed and looked up, every
	// file of each listed, through the daemon.
	t1 := time.Now()
	if out, err := exec.Command("find", m.mnt).Output(); err != nil ||
		bytes.Count(out, []byte("/syscalls.deny\n")) != len(groups)+1 {
		b.Fatalf("find: %v (%d groups listed)", err,
			bytes.Count(out, []byte("/syscalls.deny\n")))
	}
	v.find += float64(time.Since(t1).Microseconds()) / 1000
	v.hwm = max(v.hwm, float64(persistStatusKiB(b, pid, "VmHWM"))/1024)
}

func persistWriteB(b *testing.B, m *mirror, file, data string) {
	b.Helper()
	if err := os.WriteFile(m.path(file), []byte(data+"\n"), 0); err != nil {
		b.Fatalf("writing %q to %s: %v", data, file, err)
	}
}

// persistDaemonB finds the daemon serving m, as daemonPID does.
func persistDaemonB(b *testing.B, m *mirror) int {
	b.Helper()
	entries, _ := os.ReadDir("/proc")
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(c), "\x00"), "\x00")
		if len(args) > 2 && (args[0] == bin.cgsyscall ||
			args[0] == os.Getenv("CGSYSCALL_BENCH_BASE")) && args[1] == "mount" &&
			args[len(args)-1] == m.mnt {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		b.Fatalf("daemons of %s: %v, want exactly one", m.mnt, found)
	}
	return found[0]
}

// persistStatusKiB reads a "kB" field of /proc/PID/status.
func persistStatusKiB(b *testing.B, pid int, field string) int {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatalf("no %s for PID %d", field, pid)
	return 0
}
