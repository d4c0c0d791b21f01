package hold

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// init: run as HOLD_TEST_FILTERED=1, the test binary loads an allow-all
// seccomp filter of its own and sleeps (startFiltered).
func init() {
	if os.Getenv("HOLD_TEST_FILTERED") != "1" {
		return
	}
	allow := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	prog := unix.SockFprog{Len: 1, Filter: &allow[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		os.Exit(3)
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		os.Exit(4)
	}
	os.Stdout.WriteString("filtered\n")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// startFiltered starts this test binary as a process with a seccomp filter
// of its own, and returns once it has loaded it.
func startFiltered(t testing.TB) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOLD_TEST_FILTERED=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var b [9]byte
	if n, _ := out.Read(b[:]); string(b[:n]) != "filtered\n" {
		t.Fatalf("the filtered helper said %q", b[:n])
	}
	return cmd
}

// TestFilteredLists: a process with a seccomp filter of its own is among
// the processes that may carry a closed line, with its filter count and
// start time; this test process, which has no filter, is not.
func TestFilteredLists(t *testing.T) {
	cmd := startFiltered(t)
	h := &Holder{procs: map[int]*proc{}}
	var found *filteredProc
	for deadline := time.Now().Add(2 * time.Second); found == nil; {
		for _, p := range h.filtered() {
			if p.pid == os.Getpid() {
				t.Errorf("this process, without a filter, is listed")
			}
			if p.pid == cmd.Process.Pid {
				found = &p
			}
		}
		if found == nil && time.Now().After(deadline) {
			t.Fatalf("the filtered child %d is not listed", cmd.Process.Pid)
		}
	}
	start, err := startTime(cmd.Process.Pid)
	if err != nil || found.start != start || found.filters != seccompFilters(cmd.Process.Pid) {
		t.Errorf("listed %+v; want start %d, filters %d", *found, start,
			seccompFilters(cmd.Process.Pid))
	}
}

// BenchmarkFiltered times one check of the closed lines: the machine's
// processes, with their filter counts and start times (closed.go).
func BenchmarkFiltered(b *testing.B) {
	h := &Holder{procs: map[int]*proc{}}
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	for b.Loop() {
		h.filtered()
	}
	b.ReportMetric(float64(n), "procs")
}

// BenchmarkChainTags times one read of a process's filter chain by a check
// of the closed lines: seize, stop, PTRACE_SECCOMP_GET_FILTER, detach.
// It needs root.
func BenchmarkChainTags(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("reading a filter chain needs root (ptrace and CAP_SYS_ADMIN)")
	}
	cmd := startFiltered(b)
	h := &Holder{procs: map[int]*proc{}}
	for b.Loop() {
		if h.chainTags(cmd.Process.Pid) == nil {
			b.Fatal("the chain could not be read")
		}
	}
}
