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
	"runtime"
	"syscall"
	"unsafe"

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

// runInGroup joins group through the mount's tasks file, puts this thread
// under the group's filter and replaces the process with argv. It returns
// only on failure.
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
	execve, _ := a.Native.SyscallNumber("execve")
	execveat, _ := a.Native.SyscallNumber("execveat")
	useAt := deny.Has(execve)
	if useAt && deny.Has(execveat) {
		return fail(exitExecFailed, fmt.Errorf("group %q denies both execve and execveat, "+
			"so no program can be started in it; place a running process through its tasks file",
			group))
	}
	prog, err := enforce.Compile(a, deny.Numbers(), enforce.ModeErrno)
	if err != nil {
		return fail(exitExecFailed, err)
	}
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

	// From here on this thread joins the group, takes the filter and execs:
	// no_new_privs and the filter are per thread, and only this thread
	// survives execve.
	runtime.LockOSThread()
	if err := os.WriteFile(filepath.Join(dir, "tasks"), []byte("0\n"), 0); err != nil {
		return fail(exitExecFailed, fmt.Errorf("joining group %q: %w", group, err))
	}
	if _, err := enforce.Load(prog, 0); err != nil {
		return fail(exitExecFailed, fmt.Errorf("loading the filter: %w", err))
	}
	if useAt {
		fdcwd := unix.AT_FDCWD
		_, _, e := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fdcwd),
			uintptr(unsafe.Pointer(pathp)), uintptr(unsafe.Pointer(&argvp[0])),
			uintptr(unsafe.Pointer(&envp[0])), 0, 0)
		err = e
	} else {
		err = syscall.Exec(path, argv, os.Environ())
	}
	return fail(exitCannotRun, fmt.Errorf("%s: %w", argv[0], err))
}
