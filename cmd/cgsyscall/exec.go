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
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce/stage"
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
	return runInGroup(*mp, groupName(*mp, rest[0]), rest[2:])
}

// runInGroup runs argv as a member of group, under the group's filter. It
// returns CMD's exit status as an exitError, or why CMD could not run.
func runInGroup(mp, group string, argv []string) error {
	fail := func(code int, err error) error { return exitError{code, err} }
	path, err := exec.LookPath(argv[0])
	if err != nil {
		// A directory named by a path cannot run either: env(1) says
		// "Permission denied" (126) for it, as execve's EACCES.
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EISDIR) {
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
	nr := func(name string) int { n, _ := a.Native.SyscallNumber(name); return n }
	// The stage (package enforce/stage) waits in read, and hands CMD no
	// descriptor of its own only with fcntl or close.
	var why string
	switch {
	case deny.Has(nr("execve")) && deny.Has(nr("execveat")):
		why = "both execve and execveat, so no program can be started in it"
	case deny.Has(nr("read")):
		why = "read, which cgsyscall exec's stage waits with until the daemon holds it"
	case deny.Has(nr("fcntl")) && deny.Has(nr("close")):
		why = "both fcntl and close, one of which cgsyscall exec's stage needs to start " +
			"the command without its own descriptor"
	}
	if why != "" {
		return fail(exitExecFailed, fmt.Errorf("group %q denies %s; place a running process "+
			"through its tasks file", group, why))
	}
	goAhead := stage.GoAhead
	if deny.Has(nr("execve")) {
		goAhead = stage.GoAheadExecveat
	}
	if deny.Has(nr("fcntl")) {
		// No denied call of the stage's counts in syscalls.stat, nor
		// shows in the log as the command's (helper-31).
		goAhead |= stage.CloseNoFcntl
	}
	return spawnInGroup(mp, group, path, argv, goAhead)
}

// haveClone3 tells whether this process may call clone3: asked with no
// arguments, which fails with EINVAL where it may and makes no process,
// and with ENOSYS where a filter fails it (or the kernel lacks it).
func haveClone3() bool {
	_, _, e := unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	return e != unix.ENOSYS
}

// spawnInGroup starts argv as a member of group, created right inside the
// real cgroup (clone3 with CLONE_INTO_CGROUP), which spares the kernel's
// task migration (it costs an RCU grace period, milliseconds here). The
// child starts as the stage (package enforce/stage): a few hundred bytes
// of machine code that wait in read on a socket from their first
// instruction. Its PID is written to the group's tasks file, which returns
// once the daemon holds it; only then does it get the go-ahead and exec
// CMD, whose layer stays through execve. Also in a group that denies
// nothing: a deny written between the read of its syscalls.deny and the
// start would have missed a CMD started straight (helper-27), and a
// member written into tasks is in every later deny's pass. This process
// stays outside the group, passes signals on from the start, and exits
// with the child's status, or ends by the signal that ended it (diedOf).
//
// CLONE_INTO_CGROUP takes cgroup2 directories only, and clone3, which
// a held process's layer fails (enforce.CompileLayer). In a cgroup v1
// hierarchy, or without clone3, the stage starts where this process is,
// and the write to tasks that holds it also moves it (the daemon writes
// cgroup.procs): CMD is a member before its first instruction all the
// same.
func spawnInGroup(mp, group, path string, argv []string, goAhead byte) error {
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
	cmd, gate, started, err := stageCommand(path, argv)
	if err != nil {
		return fail(exitExecFailed, err)
	}
	defer gate.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: !v1 && haveClone3(),
		CgroupFD: int(cg.Fd())}

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

	// The tasks file is opened while the stage starts: the lookups and
	// the open are FUSE round trips of their own.
	tasks := make(chan openResult, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(mp, filepath.FromSlash(group), "tasks"),
			os.O_WRONLY, 0)
		tasks <- openResult{f, err}
	}()
	err = cmd.Start()
	started()
	if err != nil {
		if r := <-tasks; r.f != nil {
			r.f.Close()
		}
		return fail(exitCannotRun, err)
	}
	// Signals go on to the child from now: to the stage, which they end
	// (CMD then never runs), or to CMD (helper-27: a SIGTERM waited for
	// the exec before).
	done := make(chan struct{})
	defer close(done)
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
	r := <-tasks
	err = r.err
	if err == nil {
		err = handOver(cmd.Process.Pid, r.f, gate, goAhead)
		r.f.Close()
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() && ws.Signal() != unix.SIGKILL {
			// A signal ended the stage first (helper-27): CMD never ran.
			return signalled(ws.Signal())
		}
		why := ""
		if errors.Is(err, unix.EPERM) {
			// The daemon's reason is in its log only: say the usual one.
			why = " (a process held in a group that denies something may only move " +
				"processes into its own group's subtree; the daemon's log says why)"
		}
		return fail(exitExecFailed, fmt.Errorf("holding %s in group %q: %w%s", argv[0], group,
			err, why))
	}
	if errno := execFailure(gate); errno != 0 {
		cmd.Wait()
		code := exitCannotRun
		if errno == unix.ENOENT {
			code = exitNotFound
		}
		return fail(code, fmt.Errorf("%s: %w", path, errno))
	}
	cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return signalled(ws.Signal())
	}
	return exitError{ws.ExitStatus(), nil}
}

// stageName is the stage's argv[0], what ps shows until it execs CMD.
const stageName = "cgsyscall-stage"

// stageCommand returns a command that starts the stage (package
// enforce/stage), with argv [cgsyscall-stage, FD, path, argv...] and at FD
// one end of a socket pair, and this process's end of it (gate). FD is a
// number this process has no descriptor at that it passes on: those it
// inherited open for its children keep their numbers in CMD (helper-28:
// the socket at a fixed fd 3 took the caller's own fd 3 from CMD; a
// socket-activated service gets its sockets from fd 3 on). The caller
// calls started once the command started (or failed to): it closes this
// process's copies of the stage's end and of the stage.
func stageCommand(path string, argv []string) (cmd *exec.Cmd, gate *os.File, started func(),
	err error) {
	passed := passedFds()
	// The lowest free number from 3: below the open-file limit whenever
	// the caller's descriptors are (helper-29: above the highest, it
	// could not be).
	slot := 3
	for _, fd := range passed {
		if fd == slot {
			slot++
		}
	}
	// ExtraFiles spans every passed descriptor, so that Go's fork moves
	// nothing it needs onto one of them (it uses the numbers just above
	// the list).
	span := slot + 1
	if len(passed) > 0 {
		span = max(span, passed[len(passed)-1]+1)
	}
	memfd, err := stage.Open()
	if err != nil {
		return nil, nil, nil, err
	}
	defer memfd.Close()
	// The child execs /proc/self/fd/N, this descriptor (close-on-exec,
	// so it is still open until its execve has opened it): N is kept above
	// the numbers that Go's fork gives or moves descriptors to in the
	// child.
	pn, err := unix.FcntlInt(memfd.Fd(), unix.F_DUPFD_CLOEXEC, span+4)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("no descriptor number above %d, the highest passed on "+
			"to the command, under the open-file limit (ulimit -n): %w", span-1, err)
	}
	prog := os.NewFile(uintptr(pn), "cgsyscall-stage")
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		prog.Close()
		return nil, nil, nil, fmt.Errorf("a socket for the exec stage: %w", err)
	}
	gate = os.NewFile(uintptr(fds[0]), "stage gate")
	end := os.NewFile(uintptr(fds[1]), "stage end")
	// Passed descriptors stay where they are; nil closes a number in the
	// child, which only close-on-exec descriptors of this process's own
	// have.
	extra := make([]*os.File, span-3)
	for _, fd := range passed {
		extra[fd-3] = os.NewFile(uintptr(fd), "passed on")
	}
	extra[slot-3] = end
	cmd = &exec.Cmd{Path: "/proc/self/fd/" + strconv.Itoa(pn),
		Args:       append([]string{stageName, strconv.Itoa(slot), path}, argv...),
		ExtraFiles: extra}
	return cmd, gate, func() { end.Close(); prog.Close() }, nil
}

// passedFds lists, in order, the descriptors from 3 up that this process
// has open without close-on-exec: those it inherited for its children.
func passedFds() []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil &&
			fl&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	slices.Sort(fds)
	return fds
}

// openResult is a file opened in another goroutine.
type openResult struct {
	f   *os.File
	err error
}

// handOver has the daemon hold the stage pid through the open tasks file
// and then gives it the go-ahead through gate (stage.GoAhead, or
// stage.GoAheadExecveat where the group denies execve). The write has neither
// O_TRUNC nor a new open, which would cost FUSE round trips while the
// stage waits.
func handOver(pid int, tasks, gate *os.File, goAhead byte) error {
	if _, err := tasks.Write([]byte(strconv.Itoa(pid) + "\n")); err != nil {
		return err
	}
	if _, err := gate.Write([]byte{goAhead}); err != nil {
		return fmt.Errorf("starting the command: %w", err)
	}
	return nil
}

// execFailure waits until the stage has exec'd CMD (its end of gate closes
// on exec: EOF) or failed to (it sends the errno as one byte), and returns
// that errno, or 0.
func execFailure(gate *os.File) unix.Errno {
	var b [1]byte
	if n, _ := gate.Read(b[:]); n == 1 && b[0] != 0 {
		return unix.Errno(b[0])
	}
	return 0
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

// groupName is the group that arg names under mount point mp, as a path
// from the mount's top without slashes at either end ("" for the top):
// "web/worker" and "/web/worker" as show prints it, or the group's
// directory in the mount, as a shell's completion gives it (helper-31;
// helper-77: only exec took that form). An absolute arg under mp is read
// as such a directory, even where a group of the same path exists.
func groupName(mp, arg string) string {
	if abs, err := filepath.Abs(mp); err == nil && filepath.IsAbs(arg) {
		clean := filepath.Clean(arg)
		if clean == abs {
			return ""
		}
		if rel, ok := strings.CutPrefix(clean, strings.TrimSuffix(abs, "/")+"/"); ok {
			return rel
		}
	}
	return strings.Trim(arg, "/")
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
	return fmt.Errorf("group %s under %s: %w%s", name, mp, err, deadHint(mp, err))
}

// deadHint is what to do about err from mount point mp when it says the
// mount's daemon is gone (ENOTCONN), or "".
func deadHint(mp string, err error) string {
	if !errors.Is(err, syscall.ENOTCONN) {
		return ""
	}
	return fmt.Sprintf(" (the daemon of this mount is gone: umount %s, then mount it again)", mp)
}
