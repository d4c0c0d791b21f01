package cgsyscall_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks of live holds (issue 3): holding a running process,
// one deny reaching many benchMembers, and calls the daemon decides. The
// macro benchmarks are in bench_macro_test.go's place below.

// benchSubject is a "probe -serve" process started by a benchmark: it answers
// lines of probe tokens on its standard input.
type benchSubject struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	pid int
}

// startBenchSubject starts a probe -serve, in the real cgroup dir cg when cg is
// not nil, and waits for its "ready" line.
func startBenchSubject(b *testing.B, cg *os.File) *benchSubject {
	b.Helper()
	return startSubjectOf(b, cg, bin.probe, "-serve")
}

// startSubjectOf starts program prog with args as a benchSubject: it must
// print "ready PID" and then answer lines as probe -serve does.
func startSubjectOf(b testing.TB, cg *os.File, prog string, args ...string) *benchSubject {
	b.Helper()
	cmd := exec.Command(prog, args...)
	if cg != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &benchSubject{cmd: cmd, in: in, out: bufio.NewReader(out), pid: cmd.Process.Pid}
	line, err := s.out.ReadString('\n')
	if want := fmt.Sprintf("ready %d\n", s.pid); err != nil || line != want {
		s.stop()
		b.Fatalf("%s said %q, %v; want %q", filepath.Base(prog), line, err, want)
	}
	return s
}

// ask sends one token and returns the raw result the benchSubject printed.
func (s *benchSubject) ask(b testing.TB, tok string) string {
	b.Helper()
	if _, err := fmt.Fprintln(s.in, tok); err != nil {
		b.Fatalf("benchSubject %d: %v", s.pid, err)
	}
	line, err := s.out.ReadString('\n')
	res, ok := strings.CutPrefix(strings.TrimSpace(line), tok+" ")
	if err != nil || !ok {
		b.Fatalf("benchSubject %d answered %q to %s: %v", s.pid, line, tok, err)
	}
	return res
}

// stop kills the benchSubject (by its PID) and reaps it.
func (s *benchSubject) stop() {
	s.in.Close()
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// reportLatency reports the median and the 99th percentile of lat, in
// microseconds.
func reportLatency(b *testing.B, lat []float64) {
	b.ReportMetric(pct(lat, 50), "µs-p50")
	b.ReportMetric(pct(lat, 99), "µs-p99")
}

// writePid writes pid to an open tasks file and returns the time the write
// took in microseconds.
func writePid(b *testing.B, tasks *os.File, pid int) float64 {
	b.Helper()
	data := []byte(strconv.Itoa(pid) + "\n")
	start := time.Now()
	_, err := tasks.Write(data)
	us := float64(time.Since(start).Nanoseconds()) / 1000
	if err != nil {
		b.Fatalf("writing %d to %s: %v", pid, tasks.Name(), err)
	}
	return us
}

// BenchmarkHold times the tasks write that moves a freshly started probe
// -serve subject, not held yet, into a group. "deny": the group denies
// getppid, so the write returns once the daemon holds the subject (the
// ptrace injection of its layer) and has moved it; the subject is then
// asked for getppid and must get ENOSYS. "nodeny": the group denies
// nothing, so the write is the cgroup migration alone; for reading where
// the time goes. Each iteration is one subject; only the write is timed
// into the metrics. In these the writes follow each other within a few
// milliseconds; the "-spaced" cases wait 60 ms before each write, as a
// lone "echo PID > tasks" meets the kernel: a cgroup migration after a
// quiet spell waits for an RCU grace period. "deny-inplace" starts the
// subject right inside the real cgroup of the denying group (clone3 into
// the cgroup, as cgsyscall exec does), so the write is the hold alone and
// no migration ("-spaced" again after 60 ms); a subject that the daemon's
// periodic scan held first is not counted. The subject is a Go program
// with five threads when the write comes; the "-c" cases hold a
// single-threaded C program (testdata/cserve) instead, the other common
// kind of process that an administrator moves.
func BenchmarkHold(b *testing.B) {
	m := benchMirror(b)
	benchGroup(b, m, "held", "getppid")
	benchGroup(b, m, "open", "")
	cg, err := os.OpenFile(filepath.Join(m.base, "held"), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer cg.Close()
	cserve := cProgram(b, "cserve")
	for _, c := range []struct {
		name, group, want string
		pause             time.Duration
		inside            *os.File
	}{
		{"deny", "held", "-38", 0, nil},
		{"nodeny", "open", "", 0, nil},
		{"deny-spaced", "held", "-38", 60 * time.Millisecond, nil},
		{"nodeny-spaced", "open", "", 60 * time.Millisecond, nil},
		{"deny-inplace", "held", "-38", 0, cg},
		{"deny-inplace-spaced", "held", "-38", 60 * time.Millisecond, cg},
		{"deny-c", "held", "-38", 0, nil},
		{"deny-inplace-c", "held", "-38", 0, cg},
	} {
		b.Run(c.name, func(b *testing.B) {
			tasks, err := os.OpenFile(m.path(c.group, "tasks"), os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer tasks.Close()
			var lat []float64
			for b.Loop() {
				var s *benchSubject
				if strings.HasSuffix(c.name, "-c") {
					s = startSubjectOf(b, c.inside, cserve)
				} else {
					s = startBenchSubject(b, c.inside)
				}
				time.Sleep(c.pause)
				if c.inside != nil && seccompFilters(b, s.pid) > 0 {
					s.stop() // the scan was first
					continue
				}
				lat = append(lat, writePid(b, tasks, s.pid))
				got := s.ask(b, "getppid")
				s.stop()
				if c.want != "" && got != c.want {
					b.Fatalf("getppid in %s after the write: %s, want %s", c.group, got,
						c.want)
				}
				if c.want == "" && strings.HasPrefix(got, "-") {
					b.Fatalf("getppid in %s: %s, want a PID", c.group, got)
				}
			}
			reportLatency(b, lat)
		})
	}
}

// reachMembers is how many benchMembers BenchmarkDenyReach1000 holds, and
// reachProbes how many of them are probe -serve subjects that the
// benchmark asks afterwards; the others are sleep(1), which keeps the
// memory of 1,000 processes small (a few hundred KiB each).
const (
	reachMembers = 1000
	reachProbes  = 10
)

// BenchmarkDenyReach1000 times one deny write to a group of 1,000
// benchMembers. Each round starts the benchMembers right inside the real cgroup of
// a fresh group that denies nothing (clone3 into the cgroup: no migration,
// and nothing holds them yet), then times three writes to its syscalls.deny:
//
//   - "ms-unheld": getppid, which has to hold all 1,000 (inject a layer
//     into each) before it returns;
//   - "ms-grow": uname, to the same benchMembers now held, whose layers
//     notify getppid but not uname: each layer grows (a new, generous
//     layer injected into each member);
//   - "ms-held": sysinfo, which the grown layers notify already, so that
//     the daemon decides it live: the write only checks that every member
//     is held and covered.
//
// After each write every member must show a seccomp filter in
// /proc/PID/status, and the probe subjects must get ENOSYS for the call
// just denied. The benchMembers are then killed by PID and reaped. Needs
// RLIMIT_NPROC and pids.max (if any) above 1,000 more processes.
func BenchmarkDenyReach1000(b *testing.B) {
	m := benchMirror(b)
	var unheld, grown, held []float64
	for i := 0; b.Loop(); i++ {
		group := fmt.Sprintf("reach%d", i)
		benchGroup(b, m, group, "")
		probes, pids := startReachMembers(b, m, group)
		unheld = append(unheld, timeReachDeny(b, m, group, "getppid", probes, pids))
		grown = append(grown, timeReachDeny(b, m, group, "uname", probes, pids))
		held = append(held, timeReachDeny(b, m, group, "sysinfo", probes, pids))
		b.StopTimer()
		endReachMembers(b, m, group, probes, pids)
		b.StartTimer()
	}
	b.ReportMetric(median(unheld), "ms-unheld")
	b.ReportMetric(pct(unheld, 100), "ms-unheld-max")
	b.ReportMetric(median(grown), "ms-grow")
	b.ReportMetric(pct(grown, 100), "ms-grow-max")
	b.ReportMetric(median(held), "ms-held")
	b.ReportMetric(pct(held, 100), "ms-held-max")
}

// benchMembers holds the sleep(1) benchMembers of one round by PID.
type benchMembers map[int]*exec.Cmd

// startReachMembers starts reachMembers processes right inside group's real
// cgroup and checks that the cgroup lists them all.
func startReachMembers(b *testing.B, m *mirror, group string) ([]*benchSubject, benchMembers) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	cg, err := os.OpenFile(filepath.Join(m.base, group), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer cg.Close()
	var probes []*benchSubject
	pids := benchMembers{}
	b.Cleanup(func() { endReachMembers(b, m, "", probes, pids) })
	for len(probes) < reachProbes {
		probes = append(probes, startBenchSubject(b, cg))
	}
	for len(pids)+len(probes) < reachMembers {
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
		if err := cmd.Start(); err != nil {
			b.Fatalf("starting member %d: %v (RLIMIT_NPROC or pids.max?)", len(pids), err)
		}
		pids[cmd.Process.Pid] = cmd
	}
	procs, err := os.ReadFile(filepath.Join(m.base, group, "cgroup.procs"))
	if err != nil {
		b.Fatal(err)
	}
	if n := len(strings.Fields(string(procs))); n != reachMembers {
		b.Fatalf("%s has %d benchMembers, want %d", group, n, reachMembers)
	}
	return probes, pids
}

// timeReachDeny writes call to group's syscalls.deny, checks that every member
// is held and that the probes get ENOSYS for call, and returns the
// milliseconds the write took.
func timeReachDeny(b *testing.B, m *mirror, group, call string, probes []*benchSubject,
	pids benchMembers) float64 {
	b.Helper()
	f, err := os.OpenFile(m.path(group, "syscalls.deny"), os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	_, err = f.WriteString(call + "\n")
	ms := float64(time.Since(start).Nanoseconds()) / 1e6
	if err != nil {
		b.Fatalf("denying %s to %d benchMembers: %v", call, reachMembers, err)
	}
	b.StopTimer()
	defer b.StartTimer()
	for pid := range pids {
		if n := seccompFilters(b, pid); n < 1 {
			b.Fatalf("member %d has %d seccomp filters after the deny returned", pid, n)
		}
	}
	for _, s := range probes {
		if got := s.ask(b, call); got != "-38" {
			b.Fatalf("probe member %d: %s = %s after the deny, want -38", s.pid, call, got)
		}
	}
	return ms
}

// endReachMembers kills the benchMembers of a round by PID, reaps them and removes
// group (unless group is ""). It may run twice (the round's end and the
// cleanup); the second time finds nothing left.
func endReachMembers(b *testing.B, m *mirror, group string, probes []*benchSubject,
	pids benchMembers) {
	for _, s := range probes {
		if s.cmd.ProcessState == nil {
			s.stop()
		}
	}
	for pid, cmd := range pids {
		cmd.Process.Kill()
		cmd.Wait()
		delete(pids, pid)
	}
	if group == "" {
		return
	}
	for i := 0; ; i++ {
		err := os.Remove(m.path(group))
		if err == nil || i == 50 {
			if err != nil {
				b.Errorf("removing %s: %v", group, err)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkDecidedCall measures a call that the daemon decides: the
// probe's loop of 200,000 getppid calls, each timed on its own ("lat:"),
// run through cgsyscall exec in a group that denies uname (getppid is
// notified and answered CONTINUE) and in one that denies getppid
// (answered ENOSYS), against the same loop unfiltered, interleaved.
// "continue-cpu1" is the CONTINUE case with the probe pinned to CPU 1 (the
// daemon is not pinned), as the getpid loop runs. Each round is one loop
// of each case; it reports the medians over the rounds of each loop's p50
// ("ns/call-p50-CASE", what the target is about), mean ("ns/call-CASE")
// and p99. Every call's time includes one reading of the clock (about 20
// ns, see the unfiltered case).
func BenchmarkDecidedCall(b *testing.B) {
	m := benchMirror(b)
	benchGroup(b, m, "other", "uname")
	benchGroup(b, m, "nogetppid", "getppid")
	const calls = 200_000
	loop := fmt.Sprintf("lat:%d:getppid", calls)
	cases := []struct {
		name   string
		prefix []string
		denied bool
	}{
		{"unfiltered", nil, false},
		{"continue", []string{bin.cgsyscall, "exec", "-m", m.mnt, "other", "--"}, false},
		{"enosys", []string{bin.cgsyscall, "exec", "-m", m.mnt, "nogetppid", "--"}, true},
		{"continue-cpu1", []string{"taskset", "-c", "1", bin.cgsyscall, "exec", "-m",
			m.mnt, "other", "--"}, false},
	}
	type figures struct{ p50, mean, p99 []float64 }
	got := make([]figures, len(cases))
	for b.Loop() {
		for j, c := range cases {
			argv := append(append([]string{}, c.prefix...), bin.probe, loop)
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			f := strings.Fields(string(out))
			if err != nil || len(f) != 6 || f[0] != loop {
				b.Fatalf("%v: %v\n%s", argv, err, out)
			}
			if denied := f[3] == "-38"; denied != c.denied || strings.HasPrefix(f[3], "-") &&
				!denied {
				b.Fatalf("%v: getppid returned %s", argv, f[3])
			}
			var v [3]float64
			for i, field := range []string{f[1], f[2], f[5]} {
				if v[i], err = strconv.ParseFloat(field, 64); err != nil {
					b.Fatal(err)
				}
			}
			got[j].p50 = append(got[j].p50, v[0])
			got[j].mean = append(got[j].mean, v[1])
			got[j].p99 = append(got[j].p99, v[2])
		}
	}
	for j, c := range cases {
		b.ReportMetric(median(got[j].p50), "ns/call-p50-"+c.name)
		b.ReportMetric(median(got[j].mean), "ns/call-"+c.name)
		b.ReportMetric(median(got[j].p99), "ns/call-p99-"+c.name)
	}
}

// macroKeep lists what the macro workloads (gzip, find with cat, go build)
// were seen to call under strace on Linux 6.18, plus a few close kin, so
// that the 300 numbers their group denies are ones they do not need; and
// seccomp, as deny300Keep says.
var macroKeep = strings.Fields(`seccomp access arch_prctl brk chdir clone clone3 close
	copy_file_range dup dup2 dup3 epoll_create1 epoll_ctl epoll_pwait eventfd2 execve
	faccessat faccessat2 fadvise64 fallocate fchdir fchmodat fcntl flock fstat fstatfs
	ftruncate futex getcwd getdents64 getpid getppid getrandom gettid ioctl kill lseek
	madvise mkdirat mmap mprotect munmap nanosleep newfstatat openat pidfd_open
	pidfd_send_signal pipe2 poll ppoll prctl pread64 prlimit64 pwrite64 read readlinkat
	renameat rseq rt_sigaction rt_sigprocmask sched_getaffinity sched_yield set_robust_list
	set_tid_address sigaltstack statfs statx tgkill uname unlinkat utimensat vfork wait4
	waitid write`)

// macroRun is one run of a macro workload.
type macroRun struct {
	argv []string
	dir  string   // working directory, if any
	env  []string // added to the environment
}

// macroWorkload is one of the RFC's macro benchmarks. setup prepares a run
// (a fresh build cache, say); result tells what a run left behind, given
// the bytes it wrote to its standard output, so that a held run can be
// checked against a direct one.
type macroWorkload struct {
	name   string
	setup  func(b *testing.B) macroRun
	result func(b *testing.B, stdout int64) string
}

// BenchmarkMacro runs each workload as a member of a group that denies
// 300 syscalls the workload does not need ("held"), and of a sibling
// group that denies nothing, where it runs with no filter at all
// ("direct"), both through cgsyscall exec, so that both sides are as deep
// in the cgroup tree (a deeper cgroup costs the kernel something of its
// own) and only the filter differs. It alternates which goes first, one
// pair an iteration. Both ways the workload runs under "probe -time",
// which times it from its fork to its exit: the workload's own time,
// without the shim's start. It reports the medians of those times in
// seconds and the overhead in percent (held median over direct median;
// "overhead-%-paired" is the median of the per-round ratios). The shim's
// start, a fixed cost of a few milliseconds, is issue 2's
// (BenchmarkExecTrue); each round also times "cgsyscall exec macro --
// /bin/true" against /bin/true ("ms-start"), and "overhead-%-wall"
// compares the wall times of the whole commands, which differ by the hold
// of the held one. "overhead-%-cpu" compares the medians of the CPU time
// (user and system) that the workload used, as probe -time reports it:
// the filter's cost is CPU time, and a VM's stolen time is not in it.
// Before timing, each workload runs once both ways and must exit 0 with
// the same result. Timed runs write to /dev/null.
func BenchmarkMacro(b *testing.B) {
	m := benchMirror(b)
	benchGroup(b, m, "macro", pickDeny(b, macroKeep))
	benchGroup(b, m, "plain", "")
	held := []string{bin.cgsyscall, "exec", "-m", m.mnt, "macro", "--"}
	plain := []string{bin.cgsyscall, "exec", "-m", m.mnt, "plain", "--"}
	timer := []string{bin.probe, "-time"}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	for _, w := range macroWorkloads(b) {
		b.Run(w.name, func(b *testing.B) {
			check := func(prefix []string) string {
				r := w.setup(b)
				r.argv = append(append([]string{}, prefix...), r.argv...)
				var c counter
				runMacro(b, r, &c)
				return w.result(b, c.n)
			}
			if d, h := check(nil), check(held); d != h {
				b.Fatalf("held run left %q, direct run %q", h, d)
			}
			var direct, filtered, ratio, start []float64
			var wall, cpu [2][]float64
			trueRun := macroRun{argv: []string{"/bin/true"}}
			trueHeld := macroRun{argv: append(append([]string{}, held...), "/bin/true")}
			for i := 0; b.Loop(); i++ {
				var inner, outer, used [2]float64
				for k := range 2 {
					mode := (i + k) % 2 // 0 direct, 1 held
					r := w.setup(b)
					argv := append(append([]string{}, plain...), timer...)
					if mode == 1 {
						argv = append(append([]string{}, held...), timer...)
					}
					r.argv = append(argv, r.argv...)
					t := runMacro(b, r, null)
					outer[mode], inner[mode], used[mode] = t.wall, t.inner, t.cpu
				}
				cpu[0], cpu[1] = append(cpu[0], used[0]), append(cpu[1], used[1])
				direct, filtered = append(direct, inner[0]), append(filtered, inner[1])
				ratio = append(ratio, inner[1]/inner[0])
				wall[0], wall[1] = append(wall[0], outer[0]), append(wall[1], outer[1])
				t, th := runMacro(b, trueRun, null), runMacro(b, trueHeld, null)
				start = append(start, th.wall-t.wall)
			}
			d, f := median(direct), median(filtered)
			b.ReportMetric(d, "s-direct")
			b.ReportMetric(f, "s-held")
			b.ReportMetric((f/d-1)*100, "overhead-%")
			b.ReportMetric((median(ratio)-1)*100, "overhead-%-paired")
			b.ReportMetric(median(start)*1000, "ms-start")
			b.ReportMetric((median(wall[1])/median(wall[0])-1)*100, "overhead-%-wall")
			b.ReportMetric((median(cpu[1])/median(cpu[0])-1)*100, "overhead-%-cpu")
		})
	}
}

// macroTimes are the times of one macro run, in seconds: wall is the
// command's; inner and cpu are what probe -time reported for its child
// (wall time, and user plus system CPU time), 0 for a run without it.
type macroTimes struct{ wall, inner, cpu float64 }

// runMacro runs r to its end, which must be exit status 0, with its
// standard output to out, and returns its times.
func runMacro(b *testing.B, r macroRun, out io.Writer) macroTimes {
	b.Helper()
	cmd := exec.Command(r.argv[0], r.argv[1:]...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	t := macroTimes{wall: time.Since(start).Seconds()}
	if err != nil {
		b.Fatalf("%v: %v\n%s", r.argv, err, stderr.String())
	}
	for line := range strings.Lines(stderr.String()) {
		key, ns, _ := strings.Cut(strings.TrimSpace(line), " ")
		var into *float64
		switch key {
		case "probe-time":
			into = &t.inner
		case "probe-cpu":
			into = &t.cpu
		default:
			continue
		}
		v, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			b.Fatalf("%v: probe printed %q", r.argv, line)
		}
		*into = float64(v) / 1e9
	}
	return t
}

// counter counts the bytes written to it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// macroWorkloads returns gzip of 100 MiB of base64 text, find plus cat of
// every file under the Go source tree, and a go build of a tiny module
// with a fresh build cache every run.
func macroWorkloads(b *testing.B) []macroWorkload {
	dir := b.TempDir()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	text := filepath.Join(dir, "text")
	mod := tinyModule(b, filepath.Join(dir, "mod"))
	tool := filepath.Join(dir, "tiny")
	size := func(b *testing.B, n int64) string { return strconv.FormatInt(n, 10) }
	return []macroWorkload{
		{"gzip-100MiB", func(b *testing.B) macroRun {
			if _, err := os.Stat(text); err != nil {
				base64Text(b, text, 100<<20)
			}
			return macroRun{argv: []string{"gzip", "-c", text}}
		}, size},
		{"find-cat-gosrc", func(b *testing.B) macroRun {
			return macroRun{argv: []string{"find", src, "-type", "f", "-exec", "cat", "{}",
				"+"}}
		}, size},
		{"go-build-tiny", func(b *testing.B) macroRun {
			cache := filepath.Join(dir, "gocache")
			os.Remove(tool)
			if err := os.RemoveAll(cache); err != nil {
				b.Fatal(err)
			}
			return macroRun{argv: []string{"go", "build", "-o", tool, "."}, dir: mod,
				env: []string{"GOCACHE=" + cache, "GOFLAGS=-mod=mod", "GOPROXY=off",
					"GOTOOLCHAIN=local"}}
		}, func(b *testing.B, _ int64) string {
			out, err := exec.Command(tool).Output()
			if err != nil {
				b.Fatalf("the built program: %v", err)
			}
			return string(out)
		}},
	}
}

// tinyModule writes a module of one main package that needs only the
// standard library, and returns its directory.
func tinyModule(b *testing.B, dir string) string {
	b.Helper()
	files := map[string]string{
		"go.mod": "module example.com/tiny\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\n" +
			"func main() { fmt.Println(\"tiny\") }\n",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// base64Text writes exactly size bytes of base64 text, lines of 76
// characters, encoding bytes read from /dev/urandom.
func base64Text(b *testing.B, path string, size int64) {
	b.Helper()
	rnd, err := os.Open("/dev/urandom")
	if err != nil {
		b.Fatal(err)
	}
	defer rnd.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	raw := make([]byte, 57*1024)
	line := make([]byte, 77)
	for left := size; left > 0; {
		if _, err := io.ReadFull(rnd, raw); err != nil {
			b.Fatal(err)
		}
		for k := 0; k+57 <= len(raw) && left > 0; k += 57 {
			base64.StdEncoding.Encode(line, raw[k:k+57])
			line[76] = '\n'
			n := min(left, int64(len(line)))
			w.Write(line[:n])
			left -= n
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
