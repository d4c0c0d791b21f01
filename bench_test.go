package cgsyscall_test

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// benchMirror is newMirror for benchmarks: the same cgroup and mount,
// removed at the end.
func benchMirror(b *testing.B) *mirror { return newMirror(b) }

// deny300Keep lists what neither the probe's Go runtime nor /bin/true may
// lose, getpid, which the loop measures, and seccomp: a group that denies
// seccomp gets a second, fixed layer on every member, which is not the
// path these benchmarks measure (and which exec could not hold on
// 2026-12-04, ENOSYS from the tasks write).
var deny300Keep = strings.Fields(`seccomp getpid read write openat open close fstat newfstatat
	mmap munmap mprotect brk rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack
	clone clone3 futex gettid tgkill getrandom sched_getaffinity sched_yield madvise
	prlimit64 fcntl execve execveat arch_prctl set_tid_address set_robust_list rseq
	exit exit_group readlinkat access faccessat faccessat2 pread64 uname lseek
	nanosleep clock_nanosleep clock_gettime mincore ioctl getdents64 statx wait4
	getppid getuid geteuid getgid getegid`)

// deny300 picks 300 deniable numbers that the probe and /bin/true do not
// need.
func deny300(b *testing.B) string { return pickDeny(b, deny300Keep) }

// pickDeny picks 300 deniable numbers of the native table, scattered as a
// real policy is (a fixed shuffle), none of them named in keep, and
// returns them as a control-file write.
func pickDeny(b *testing.B, keepNames []string) string {
	a := arch.Host()
	keep := map[string]bool{}
	for _, n := range keepNames {
		keep[n] = true
	}
	var cand []int
	for _, n := range policy.Deniable(a).Numbers() {
		if name, ok := a.Native.SyscallName(n); ok && !keep[name] {
			cand = append(cand, n)
		}
	}
	if len(cand) < 300 {
		b.Fatalf("only %d named deniable syscalls outside the keep list", len(cand))
	}
	r := rand.New(rand.NewSource(1))
	r.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	picked := cand[:300]
	slices.Sort(picked)
	parts := make([]string, len(picked))
	for i, n := range picked {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, " ")
}

// loopNs runs the probe's getpid loop of n calls, pinned to one CPU, and
// returns the mean nanoseconds of one call. With allowAll the probe first
// loads the cheapest seccomp filter there is (its token "allowall").
func loopNs(b *testing.B, prefix []string, n int, allowAll bool) float64 {
	b.Helper()
	args := append(append([]string{"-c", "1"}, prefix...), bin.probe)
	if allowAll {
		args = append(args, "allowall")
	}
	args = append(args, fmt.Sprintf("loop:%d:getpid", n))
	out, err := exec.Command("taskset", args...).CombinedOutput()
	if err != nil {
		b.Fatalf("taskset %v: %v\n%s", args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if allowAll && (len(lines) != 2 || lines[0] != "allowall 0") {
		b.Fatalf("probe printed %q", out)
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 3 || strings.HasPrefix(f[2], "-") {
		b.Fatalf("probe printed %q", out)
	}
	ns, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return ns
}

// BenchmarkGetpidLoop compares a raw getpid loop unfiltered with the same
// loop in a member of a group that denies 300 other syscalls. Read the
// ns/call metrics; "ratio" is filtered over unfiltered, measured in the
// same run, interleaved. The peer "anyfilter" is the same loop under a
// one-instruction allow-all filter that the probe loads itself, the least
// any seccomp filter costs: "ratio-anyfilter" tells how much of the ratio
// is the kernel's price for having a filter at all on this machine (11
// ns a call on the machine of ANCHORS.md, 40-55 ns on a slower host).
func BenchmarkGetpidLoop(b *testing.B) {
	m := benchMirror(b)
	benchGroup(b, m, "bench", deny300(b))
	filtered := []string{bin.cgsyscall, "exec", "-m", m.mnt, "bench", "--"}
	const calls = 5_000_000
	var plain, held, anyf []float64
	for b.Loop() {
		plain = append(plain, loopNs(b, nil, calls, false))
		held = append(held, loopNs(b, filtered, calls, false))
		anyf = append(anyf, loopNs(b, nil, calls, true))
	}
	p, h, a := median(plain), median(held), median(anyf)
	b.ReportMetric(p, "ns/call-unfiltered")
	b.ReportMetric(h, "ns/call-deny300")
	b.ReportMetric(a, "ns/call-anyfilter")
	b.ReportMetric(h/p, "ratio")
	b.ReportMetric(a/p, "ratio-anyfilter")
}

// BenchmarkExecTrue measures starting /bin/true directly and through
// cgsyscall exec in a group that denies 300 syscalls, interleaved. For
// reading where the time goes it also times, in the same rounds: the
// peer setpriv --no-new-privs (see docs/BENCHMARKS.md), the shim binary's
// start-up alone (cgsyscall resolve getpid, no FUSE), and exec in a group
// that denies nothing (start-up, FUSE reads, clone into the cgroup, the
// stage and its tasks write, but no hold). "ms-added" is deny300 over
// direct.
func BenchmarkExecTrue(b *testing.B) {
	m := benchMirror(b)
	benchGroup(b, m, "bench", deny300(b))
	benchGroup(b, m, "open", "")
	cases := []struct {
		unit string
		argv []string
	}{
		{"ms-direct", []string{"/bin/true"}},
		{"ms-setpriv", []string{"setpriv", "--no-new-privs", "/bin/true"}},
		{"ms-shim-start", []string{bin.cgsyscall, "resolve", "getpid"}},
		{"ms-exec-nodeny", []string{bin.cgsyscall, "exec", "-m", m.mnt, "open", "--",
			"/bin/true"}},
		{"ms-exec-deny300", []string{bin.cgsyscall, "exec", "-m", m.mnt, "bench", "--",
			"/bin/true"}},
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		cases = slices.Delete(cases, 1, 2)
	}
	ms := make([][]float64, len(cases))
	for b.Loop() {
		for j, c := range cases {
			ms[j] = append(ms[j], timeRun(b, c.argv))
		}
	}
	for j, c := range cases {
		b.ReportMetric(median(ms[j]), c.unit)
	}
	b.ReportMetric(median(ms[len(ms)-1])-median(ms[0]), "ms-added")
}

// timeRun runs argv to its end and returns the wall time in milliseconds.
func timeRun(b *testing.B, argv []string) float64 {
	b.Helper()
	start := time.Now()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return float64(time.Since(start).Nanoseconds()) / 1e6
}

// BenchmarkControlWriteRead measures a write to syscalls.deny followed by a
// read of it, reporting the median and 99th percentile of one pair.
//
// "pread": write(2) of "59\n" on one open file, then pread(2) at offset 0
// on a second open file of the same control file (a read at offset 0
// takes a fresh snapshot), as a program that keeps both open does; this
// is what the target means. "open-read-close": the read opens,
// reads and closes the file each time, as cat does; for information.
func BenchmarkControlWriteRead(b *testing.B) {
	m := benchMirror(b)
	benchGroup(b, m, "bench", "")
	file := m.path("bench", "syscalls.deny")
	w, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	buf := make([]byte, 8192)
	check := func(n int, err error) {
		if (err != nil && err != io.EOF) || string(buf[:n]) != "59 \n" {
			b.Fatalf("read %q, %v; want %q", buf[:n], err, "59 \n")
		}
	}
	b.Run("pread", func(b *testing.B) {
		r, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		latencies(b, func() {
			if _, err := w.Write([]byte("59\n")); err != nil {
				b.Fatal(err)
			}
			check(r.ReadAt(buf, 0))
		})
	})
	b.Run("open-read-close", func(b *testing.B) {
		latencies(b, func() {
			if _, err := w.Write([]byte("59\n")); err != nil {
				b.Fatal(err)
			}
			r, err := os.Open(file)
			if err != nil {
				b.Fatal(err)
			}
			n, err := r.Read(buf)
			r.Close()
			check(n, err)
		})
	})
}

// latencies times each call of op, one a benchmark iteration, and reports
// their median and 99th percentile in microseconds.
func latencies(b *testing.B, op func()) {
	var lat []float64
	for b.Loop() {
		start := time.Now()
		op()
		lat = append(lat, float64(time.Since(start).Nanoseconds())/1000)
	}
	reportLatency(b, lat)
}

// benchGroup makes group in the mount and writes deny (if any) to its
// syscalls.deny.
func benchGroup(b *testing.B, m *mirror, group, deny string) {
	b.Helper()
	if err := os.Mkdir(m.path(group), 0o755); err != nil {
		b.Fatal(err)
	}
	if deny == "" {
		return
	}
	if err := os.WriteFile(m.path(group, "syscalls.deny"), []byte(deny), 0); err != nil {
		b.Fatalf("denying %q in %s: %v", deny, group, err)
	}
}

// pct returns the p-th percentile (nearest rank) of v.
func pct(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
