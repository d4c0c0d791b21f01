package main

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// diedOf is the outcome of exec when a signal ended CMD (or the stage
// before it): this process ends by the same signal (dieBy), as sudo(8) and
// timeout(1) do, so that the shell that started it sees a death by that
// signal: bash says "Segmentation fault" or "Killed", and a loop of
// commands that a Ctrl-C ended stops, where an exit with 128+N would read
// as a command that handled SIGINT itself. Its status is 128+N where the
// signal cannot end this process.
var diedOf syscall.Signal

// signalled records that signal sig ended the child, and returns the
// status 128+sig.
func signalled(sig syscall.Signal) error {
	diedOf = sig
	return exitError{128 + int(sig), nil}
}

// dieBy ends this process by signal sig with the kernel's default action,
// not dumping core (the child dumped its own, if any): the Go runtime's
// handler is set aside with a raw rt_sigaction to SIG_DFL, the signal is
// unblocked in this thread and sent to it. It returns if sig does not end
// a process by default (SIGCHLD, SIGCONT, a stop signal: not an ending).
func dieBy(sig syscall.Signal) {
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGURG, unix.SIGWINCH:
		return
	}
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) // no core, also through a core_pattern pipe
	// struct sigaction of the kernel, zeroed: SIG_DFL, no flags, no mask
	// (its layout differs between the architectures; zeros suit each).
	var act [4]uint64
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act[0])), 0,
		8, 0, 0)
	var set unix.Sigset_t
	set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	runtime.UnlockOSThread()
}
