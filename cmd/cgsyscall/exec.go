package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// Exit statuses of exec when CMD never ran, as env(1) and chroot(8) use them.
const (
	exitExecFailed = 125
	exitCannotRun  = 126
	exitNotFound   = 127
)

func execCmd(args []string) error {
	fl := flag.NewFlagSet("exec", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	mp := fl.String("m", defaultMount, "mount point")
	if err := fl.Parse(args); err != nil {
		return usagef("exec: %v", err)
	}
	rest := fl.Args()
	if len(rest) < 3 || rest[1] != "--" {
		return usagef("exec: expected GROUP -- CMD [ARG...]")
	}
	group, argv := rest[0], rest[2:]
	return runInGroup(*mp, group, argv)
}

// runInGroup runs argv as a member of group, under the group's filter. It
// returns CMD's exit status as an exitError, or why CMD could not run.
func runInGroup(mp, group string, argv []string) error {
	fail := func(code int, err error) error { return exitError{code, err} }
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fail(exitCannotRun, fmt.Errorf("%s: permission denied", argv[0]))
		}
		return fail(exitNotFound, fmt.Errorf("%s: command not found", argv[0]))
	}
	if path, err = filepath.Abs(path); err != nil {
		return fail(exitExecFailed, err)
	}
	a := arch.Host()
	if a == nil {
		return fail(exitExecFailed, errors.New("this architecture is not supported"))
	}
	dir := filepath.Join(mp, filepath.FromSlash(group))
	data, err := os.ReadFile(filepath.Join(dir, "syscalls.deny"))
	if err != nil {
		return fail(exitExecFailed, groupError(mp, group, err))
	}
	deny, err := policy.Parse(a, data)
	if err != nil {
		return fail(exitExecFailed, fmt.Errorf("reading %s/syscalls.deny: %w", dir, err))
	}
	execve, _ := a.Native.SyscallNumber("execve")
	execveat, _ := a.Native.SyscallNumber("execveat")
	if deny.Has(execve) && deny.Has(execveat) {
		return fail(exitExecFailed, fmt.Errorf("group %q denies both execve and execveat, "+
			"so no program can be started in it; place a running process through its tasks file",
			group))
	}
	return spawnInGroup(mp, group, path, argv, !deny.Empty())
}

// spawnInGroup starts argv as a child created right inside the real cgroup
// (clone3 with CLONE_INTO_CGROUP), which spares the kernel's task
// migration (it costs an RCU grace period, milliseconds here). When the
// group denies anything, the child is traced from its start: it stops
// after execve, before its first instruction, and is handed to the daemon
// stopped (detached with SIGSTOP, its PID written to the group's tasks
// file, which returns once the daemon holds it); only then does it get
// SIGCONT. This process stays outside the group, passes signals on and
// exits with the child's status (128+N when signal N ended it).
//
// A 32-bit CMD, which the daemon cannot hold (its injection is 64-bit
// code), starts as a 64-bit stage of this program (execStage) that is
// held in its place and then execs CMD.
//
// CLONE_INTO_CGROUP takes cgroup2 directories only. In a cgroup v1
// hierarchy the child starts where this process is, traced from its start
// whether the group denies anything or not, and the write to tasks that
// hands it over also moves it (the daemon writes cgroup.procs): it is a
// member before its first instruction all the same.
func spawnInGroup(mp, group, path string, argv []string, restricted bool) error {
	fail := func(code int, err error) error { return exitError{code, err} }
	mirror, err := mirrorOf(mp)
	if err != nil {
		return fail(exitExecFailed, err)
	}
	cg, err := os.OpenFile(filepath.Join(mirror, filepath.FromSlash(group)),
		unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return fail(exitExecFailed, fmt.Errorf("opening the real cgroup of %q: %w", group, err))
	}
	defer cg.Close()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(cg.Fd()), &sfs); err != nil {
		return fail(exitExecFailed, fmt.Errorf("the real cgroup of %q: %w", group, err))
	}
	v1 := sfs.Type == unix.CGROUP_SUPER_MAGIC
	traced := restricted || v1
	cmd := exec.Command(path)
	cmd.Args = argv
	if traced && elf32(path) {
		// The daemon holds 64-bit processes only: the child starts as
		// this program, is held, and then becomes CMD (execStage); its
		// layer stays through execve.
		self, err := os.Executable()
		if err != nil {
			return fail(exitExecFailed, err)
		}
		cmd = exec.Command(self)
		cmd.Args = append([]string{argv[0], stageCommand, path}, argv...)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: !v1, CgroupFD: int(cg.Fd()),
		Ptrace: traced}

	// Interrupts from the terminal reach the child directly (same process
	// group), and this process waits for it. They are caught here, not
	// ignored: a disposition of SIG_IGN goes through fork and exec, and
	// CMD then could not be stopped with Ctrl-C (helper-24); a caught one
	// is the default again in CMD.
	intr := make(chan os.Signal, 8)
	signal.Notify(intr, unix.SIGINT, unix.SIGQUIT)
	go func() {
		for range intr {
		}
	}()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM)

	var tasks chan openResult
	if traced {
		// The tasks file is opened while the child starts: the lookups
		// and the open are FUSE round trips of their own.
		tasks = make(chan openResult, 1)
		go func() {
			f, err := os.OpenFile(filepath.Join(mp, filepath.FromSlash(group), "tasks"),
				os.O_WRONLY, 0)
			tasks <- openResult{f, err}
		}()
		// ptrace requests must come from the thread that traces.
		runtime.LockOSThread()
	}
	if !traced {
		if err := cmd.Start(); err != nil {
			return fail(exitCannotRun, err)
		}
	} else {
		var err error
		for try := 1; ; try++ {
			var stuck bool
			if stuck, err = startTraced(cmd); err != nil || !stuck {
				break
			}
			// The child never reached CMD: killed before its exec.
			cmd.Wait()
			if try == startTries {
				err = errors.New("the command was stopped by a signal before its exec, " +
					"every time")
				break
			}
			cmd = restart(cmd)
		}
		r := <-tasks
		if err == nil {
			if err = r.err; err == nil {
				err = handOver(cmd.Process.Pid, r.f)
			}
		}
		if r.f != nil {
			r.f.Close()
		}
		runtime.UnlockOSThread()
		if err != nil {
			if cmd.Process != nil {
				cmd.Process.Kill()
				cmd.Wait()
				return fail(exitExecFailed, fmt.Errorf("holding %s in group %q: %w", argv[0],
					group, err))
			}
			return fail(exitCannotRun, err)
		}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	cmd.Wait()
	close(done)
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return exitError{128 + int(ws.Signal()), nil}
	}
	return exitError{ws.ExitStatus(), nil}
}

// startTries is how many times spawnInGroup starts a traced command that
// a signal stops before its exec (startTraced).
const startTries = 3

// startStuck is how long startTraced lets cmd.Start wait.
const startStuck = 2 * time.Second

// startTraced starts cmd, which has SysProcAttr.Ptrace, from the calling
// (locked) thread, and reports whether it had to kill the child to get
// Start back. The child calls PTRACE_TRACEME a few instructions before
// its execve; a signal that reaches it in between (a signal sent to every
// process of the group, as TestStatExactUnderSignals does, or a terminal's
// SIGINT or SIGWINCH: ignored or not, a traced process stops for it)
// stops it until its tracer, this thread, answers; and this thread waits
// in Start for the exec (a vfork, then the exec's pipe), for good. The
// hang was found by a test run that reached go test's 10 minutes. After
// startStuck the child, which never reached the command, is killed by its
// PID (it is this thread's tracee, the only one), and Start returns.
func startTraced(cmd *exec.Cmd) (stuck bool, err error) {
	tid := unix.Gettid()
	var mu sync.Mutex
	returned, killed := false, false
	watchdog := time.AfterFunc(startStuck, func() {
		mu.Lock()
		defer mu.Unlock()
		if returned {
			return
		}
		for _, pid := range traceesOf(tid) {
			unix.Kill(pid, unix.SIGKILL)
			killed = true
		}
	})
	err = cmd.Start()
	watchdog.Stop()
	mu.Lock()
	returned = true
	stuck = killed
	mu.Unlock()
	return stuck, err
}

// traceesOf lists the processes that thread tid traces.
func traceesOf(tid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	want := "TracerPid:\t" + strconv.Itoa(tid) + "\n"
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err == nil && strings.Contains(string(b), want) {
			out = append(out, pid)
		}
	}
	return out
}

// restart returns a fresh copy of cmd, which has run, to start again.
func restart(cmd *exec.Cmd) *exec.Cmd {
	c := exec.Command(cmd.Path)
	c.Args, c.Env, c.Dir = cmd.Args, cmd.Env, cmd.Dir
	c.Stdin, c.Stdout, c.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	c.SysProcAttr = cmd.SysProcAttr
	return c
}

// openResult is a file opened in another goroutine.
type openResult struct {
	f   *os.File
	err error
}

// handOver takes the traced child pid, stopped after execve, detaches it
// into a plain stop, has the daemon hold it through the open tasks file,
// and lets it run. The write has neither O_TRUNC nor a new open, which
// would cost FUSE round trips while the child waits.
func handOver(pid int, tasks *os.File) error {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return fmt.Errorf("waiting for the start: %w", err)
	}
	if !ws.Stopped() {
		return fmt.Errorf("the command did not stop after execve (status %#x)", ws)
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0,
		uintptr(unix.SIGSTOP), 0, 0); e != 0 {
		return fmt.Errorf("detaching: %w", e)
	}
	if _, err := tasks.Write([]byte(strconv.Itoa(pid) + "\n")); err != nil {
		return err
	}
	return unix.Kill(pid, unix.SIGCONT)
}

// mirrorOf returns the real cgroup directory that the cgsyscall mount at mp
// mirrors: the mount's source in /proc/self/mountinfo.
func mirrorOf(mp string) (string, error) {
	abs, err := filepath.Abs(mp)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 5 || sep+2 >= len(f) || f[sep+1] != "fuse.cgsyscall" {
			continue
		}
		if unescapeMount(f[4]) == abs {
			return unescapeMount(f[sep+2]), nil
		}
	}
	return "", fmt.Errorf("no cgsyscall mount at %s", abs)
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// groupError explains why group under mp could not be read: no cgsyscall
// mount there, or no such group in it.
func groupError(mp, group string, err error) error {
	name := "/" + strings.Trim(group, "/")
	if _, merr := mirrorOf(mp); merr != nil {
		return fmt.Errorf("%v (give the mount point with -m)", merr)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no group %s under %s", name, mp)
	}
	return fmt.Errorf("group %s under %s: %w", name, mp, err)
}

// stageCommand is the internal command that a 32-bit CMD starts through:
// "cgsyscall __exec-stage PATH ARGV0 ARG...".
const stageCommand = "__exec-stage"

// elf32 reports whether path is a 32-bit ELF program (i386, AArch32).
func elf32(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var id [5]byte
	if _, err := io.ReadFull(f, id[:]); err != nil {
		return false
	}
	return string(id[:4]) == "\x7fELF" && id[4] == 1 // ELFCLASS32
}

// execStage becomes the program at args[0] with argv args[1:], once the
// daemon holds this process (cgsyscall exec of a 32-bit program). A group
// that denies execve but not execveat still starts it.
func execStage(args []string) error {
	if len(args) < 2 {
		return usagef("%s: expected PATH ARGV0 [ARG...]", stageCommand)
	}
	path, argv := args[0], args[1:]
	err := unix.Exec(path, argv, os.Environ())
	if err == unix.ENOSYS {
		err = execveat(path, argv, os.Environ())
	}
	return exitError{exitCannotRun, fmt.Errorf("%s: %w", path, err)}
}

// execveat is execveat(AT_FDCWD, path, argv, env, 0); it returns only on
// failure.
func execveat(path string, argv, env []string) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	av, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	ev, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	atFdcwd := unix.AT_FDCWD
	_, _, e := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(atFdcwd),
		uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&av[0])),
		uintptr(unsafe.Pointer(&ev[0])), 0, 0)
	return e
}
