package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce"
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
		return fail(exitExecFailed, fmt.Errorf("group %q under %s: %w (is cgsyscall mounted there?)",
			group, mp, err))
	}
	deny, err := policy.Parse(a, data)
	if err != nil {
		return fail(exitExecFailed, fmt.Errorf("reading %s/syscalls.deny: %w", dir, err))
	}
	prog, err := enforce.Compile(a, deny.Numbers(), enforce.ModeErrno)
	if err != nil {
		return fail(exitExecFailed, err)
	}
	execve, _ := a.Native.SyscallNumber("execve")
	execveat, _ := a.Native.SyscallNumber("execveat")
	switch {
	case !deny.Has(execve):
		return spawnInGroup(mp, group, path, argv, prog)
	case !deny.Has(execveat):
		return execveatInGroup(dir, group, path, argv, prog)
	}
	return fail(exitExecFailed, fmt.Errorf("group %q denies both execve and execveat, "+
		"so no program can be started in it; place a running process through its tasks file",
		group))
}

// spawnInGroup starts argv as a child created right inside the real cgroup
// (clone3 with CLONE_INTO_CGROUP) from a thread that carries the group's
// filter, so the child is a member and restricted before its first
// instruction. Creating it inside the group spares the kernel's task
// migration, which costs an RCU grace period (milliseconds here). This
// process stays outside the group, forwards signals and exits with the
// child's status.
func spawnInGroup(mp, group, path string, argv []string, prog []bpf.Instruction) error {
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
	cmd := exec.Command(path)
	cmd.Args = argv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}

	// Interrupts from the terminal reach the child directly (same process
	// group); the others are passed on.
	signal.Ignore(unix.SIGINT, unix.SIGQUIT)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM)

	started := make(chan error, 1)
	go func() {
		// The filter and no_new_privs are per thread: load them on a
		// locked thread and fork from it. The goroutine ends without
		// unlocking, so the runtime retires the filtered thread instead of
		// running other goroutines on it.
		runtime.LockOSThread()
		if _, err := enforce.Load(prog, 0); err != nil {
			started <- fmt.Errorf("loading the filter: %w", err)
			return
		}
		started <- cmd.Start()
	}()
	if err := <-started; err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return fail(exitCannotRun, fmt.Errorf("%s: %w", argv[0], err))
		}
		return fail(exitCannotRun, err)
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

// execveatInGroup is the way for groups that deny execve: this process
// joins the group through the mount's tasks file, takes the filter and
// replaces itself with execveat(2). It returns only on failure.
func execveatInGroup(dir, group, path string, argv []string, prog []bpf.Instruction) error {
	fail := func(code int, err error) error { return exitError{code, err} }
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return fail(exitExecFailed, err)
	}
	envp, err := syscall.SlicePtrFromStrings(os.Environ())
	if err != nil {
		return fail(exitExecFailed, err)
	}
	pathp, err := unix.BytePtrFromString(path)
	if err != nil {
		return fail(exitExecFailed, err)
	}
	// This thread joins, takes the filter and execs: only it survives
	// execveat, and the filter is per thread.
	runtime.LockOSThread()
	if err := os.WriteFile(filepath.Join(dir, "tasks"), []byte("0\n"), 0); err != nil {
		return fail(exitExecFailed, fmt.Errorf("joining group %q: %w", group, err))
	}
	if _, err := enforce.Load(prog, 0); err != nil {
		return fail(exitExecFailed, fmt.Errorf("loading the filter: %w", err))
	}
	fdcwd := unix.AT_FDCWD
	_, _, e := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fdcwd),
		uintptr(unsafe.Pointer(pathp)), uintptr(unsafe.Pointer(&argvp[0])),
		uintptr(unsafe.Pointer(&envp[0])), 0, 0)
	return fail(exitCannotRun, fmt.Errorf("%s: %w", argv[0], e))
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
