// Package injecttest starts victim processes and builds small seccomp
// filters for the tests of enforce/inject and enforce/supervise. The
// victims (../testdata) answer line commands with raw system call results;
// see ../testdata/cvictim.c for the protocol.
package injecttest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Kinds of victim.
const (
	Go = "go" // testdata/govictim
	C  = "c"  // testdata/cvictim.c
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// srcDir is enforce/inject/testdata.
func srcDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// prebuilt is the path of the victim of kind in the directory that
// CGSYSCALL_TEST_BIN names, victim-go or victim-c, or "" when that
// variable is unset. The aarch64 VM of scripts/aarch64/run.sh has neither
// a Go toolchain nor a C compiler, so it brings the victims built.
func prebuilt(kind string) string {
	dir := os.Getenv("CGSYSCALL_TEST_BIN")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "victim-"+kind)
}

// build compiles both victims once per test binary into a temporary
// directory that [Cleanup] removes.
func build() (string, error) {
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "injecttest-")
		if buildErr != nil {
			return
		}
		src := srcDir()
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmds := [][]string{
			{goBin, "build", "-o", filepath.Join(buildDir, Go), "./govictim"},
			{"cc", "-O2", "-pthread", "-o", filepath.Join(buildDir, C), "cvictim.c"},
		}
		for _, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = src
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
				return
			}
		}
	})
	return buildDir, buildErr
}

// Cleanup ends the victims' processes that outlived their tests and
// removes the built victims; call it from TestMain after m.Run. A victim's
// descendant that outlives the test binary keeps its standard error open,
// and go test then waits for it (2 minutes) and fails the package; the
// report names each.
func Cleanup() {
	endLeftovers()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// endLeftovers reports and kills, by PID, every live process that runs a
// victim binary of this test binary (a prebuilt one, or one built under
// buildDir): the victims and their children, which none of them execs.
// It reports each on standard error.
// (Matching the holders of this binary's standard error instead would be
// wrong: go test may hand its own descriptor down, shared with the shell.)
func endLeftovers() {
	var paths []string
	if buildDir != "" {
		paths = append(paths, filepath.Join(buildDir, Go), filepath.Join(buildDir, C))
	}
	for _, kind := range []string{Go, C} {
		if p := prebuilt(kind); p != "" {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue // a zombie, a kernel thread, or gone
		}
		exe = strings.TrimSuffix(exe, " (deleted)")
		mine := false
		for _, p := range paths {
			mine = mine || exe == p
		}
		if !mine {
			continue
		}
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		var more string
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "TracerPid:") || strings.HasPrefix(l, "Seccomp:") {
				more += " " + strings.Join(strings.Fields(l), " ")
			}
		}
		fmt.Fprintf(os.Stderr, "injecttest: process left running (%s), killed: %s; wchan %s;%s\n",
			exe, strings.TrimSpace(string(stat)), wchan, more)
		unix.Kill(pid, unix.SIGKILL)
	}
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: ptrace and seccomp listeners of other processes")
	}
}

// Victim is a running victim process.
type Victim struct {
	Pid   int
	Feed  *os.File // write end of the pipe that is the victim's fd 3
	cmd   *exec.Cmd
	stdin *os.File
	lines chan string
	// waited is closed once the victim is reaped.
	waited chan struct{}
}

// Start runs a victim of kind with the given number of worker threads and
// arranges for it to be killed when the test ends.
func Start(t testing.TB, kind string, workers int) *Victim {
	t.Helper()
	v := start(t, kind, workers, false)
	if got := v.Do(t, "ping"); got != "pong" {
		t.Fatalf("victim %s: ping answered %q", kind, got)
	}
	return v
}

// StartStopped runs a victim of kind stopped at its first instruction, as
// cgsyscall exec hands a program over: traced from its start, it stops
// after execve and is detached into a plain stop (SIGSTOP). The caller
// holds it and sends it SIGCONT.
func StartStopped(t testing.TB, kind string) *Victim {
	t.Helper()
	runtime.LockOSThread() // ptrace requests come from the tracing thread
	defer runtime.UnlockOSThread()
	v := start(t, kind, 0, true)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(v.Pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		t.Fatalf("victim %s did not stop after execve: %v, status %#x", kind, err, ws)
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(v.Pid), 0,
		uintptr(unix.SIGSTOP), 0, 0); e != 0 {
		t.Fatalf("detaching victim %s: %v", kind, e)
	}
	return v
}

// start runs a victim; traced, it stops after execve.
func start(t testing.TB, kind string, workers int, traced bool) *Victim {
	t.Helper()
	path := prebuilt(kind)
	if path == "" {
		dir, err := build()
		if err != nil {
			t.Fatalf("building victims: %v", err)
		}
		path = filepath.Join(dir, kind)
	} else if _, err := os.Stat(path); err != nil {
		t.Skipf("no prebuilt victim: %v", err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	feedR, feedW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, fmt.Sprint(workers))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	cmd.ExtraFiles = []*os.File{feedR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: traced}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	feedR.Close()
	v := &Victim{Pid: cmd.Process.Pid, Feed: feedW, cmd: cmd, stdin: inW,
		lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			v.lines <- sc.Text()
		}
		close(v.lines)
		outR.Close()
	}()
	t.Cleanup(func() {
		if err := v.Reap(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return v
}

// Kill ends the victim and reaps it, waiting at most 10 s for that (see
// [Victim.Reap]).
func (v *Victim) Kill() {
	v.Reap(10 * time.Second)
}

// Send writes one command line.
func (v *Victim) Send(t testing.TB, cmd string) {
	t.Helper()
	if _, err := fmt.Fprintln(v.stdin, cmd); err != nil {
		t.Fatalf("victim %d: send %q: %v", v.Pid, cmd, err)
	}
}

// Reply reads one answer line, failing the test after 10 s.
func (v *Victim) Reply(t testing.TB) string {
	t.Helper()
	return v.ReplyWithin(t, 10*time.Second)
}

// ReplyWithin is Reply with its own bound, for a command whose work takes
// long under emulation (the aarch64 VM runs every call through qemu).
func (v *Victim) ReplyWithin(t testing.TB, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-v.lines:
		if !ok {
			t.Fatalf("victim %d: output closed", v.Pid)
		}
		return l
	case <-time.After(d):
		t.Fatalf("victim %d: no answer within %v; its threads: %s", v.Pid, d, threads(v.Pid))
	}
	return ""
}

// Do sends cmd and returns its answer.
func (v *Victim) Do(t testing.TB, cmd string) string {
	t.Helper()
	v.Send(t, cmd)
	return v.Reply(t)
}

// Filter returns a seccomp program for the host architecture that hands
// the listed syscall numbers to the listener (SECCOMP_RET_USER_NOTIF) and
// allows everything else, other architectures included.
func Filter(nrs ...uint32) []unix.SockFilter {
	const (
		offNr   = 0
		offArch = 4
	)
	n := uint8(len(nrs))
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hostArch(), SkipTrue: n + 1},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	for i, nr := range nrs {
		// Jump to the USER_NOTIF return, past the remaining tests and
		// the ALLOW return.
		skip := uint8(len(nrs)-i-1) + 1
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: skip})
	}
	prog = append(prog,
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
		bpf.RetConstant{Val: unix.SECCOMP_RET_USER_NOTIF})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out
}

func hostArch() uint32 {
	if runtime.GOARCH == "arm64" {
		return 0xc00000b7 // AUDIT_ARCH_AARCH64
	}
	return 0xc000003e // AUDIT_ARCH_X86_64
}

// Reap kills the victim and waits up to d for its exit status. A process
// with a thread left traced by a tracer that never waits cannot be
// reaped: the error then names each thread's tracer.
func (v *Victim) Reap(d time.Duration) error {
	v.cmd.Process.Kill()
	if v.waited == nil {
		v.waited = make(chan struct{})
		go func() {
			v.cmd.Wait()
			close(v.waited)
		}()
	}
	select {
	case <-v.waited:
		v.stdin.Close()
		v.Feed.Close()
		return nil
	case <-time.After(d):
	}
	var b strings.Builder
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", v.Pid))
	for _, task := range tasks {
		status, _ := os.ReadFile(task + "/status")
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "State:") || strings.HasPrefix(l, "TracerPid:") {
				fmt.Fprintf(&b, " %s %s;", filepath.Base(task), strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return fmt.Errorf("victim %d not reaped %v after SIGKILL:%s", v.Pid, d, b.String())
}

// threads describes each thread of pid for a failure message: its state,
// the call it is in (/proc/TID/syscall: number and arguments, or
// "running") and where in the kernel it waits, so that a victim stuck
// in a notified call tells from one that is merely slow.
func threads(pid int) string {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, e := range ents {
		stat, _ := os.ReadFile(dir + "/" + e.Name() + "/stat")
		state := "?"
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
			state = string(stat[i+2])
		}
		call, _ := os.ReadFile(dir + "/" + e.Name() + "/syscall")
		wchan, _ := os.ReadFile(dir + "/" + e.Name() + "/wchan")
		fields := strings.Fields(string(call))
		if len(fields) > 2 {
			fields = fields[:2] // the number and the first argument
		}
		out = append(out, fmt.Sprintf("%s %s [%s] %s", e.Name(), state,
			strings.Join(fields, " "), wchan))
	}
	return strings.Join(out, "; ")
}
