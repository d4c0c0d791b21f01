package inject

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Error is a failure of [Seize], [Session.Install] or [Hold]. Err is the
// errno that callers branch on (errors.Is(err, unix.EBUSY) works through
// Unwrap); Op names the step that failed: "seize", "stop", "regs", "insn",
// "mmap", "write", "seccomp", "prctl", "getfd", "close", "munmap",
// "restore", "clone", "answered" (a filter of the process may have failed
// the load itself), "filter kills" (a filter of the process may kill or
// trap a call of the hold; refused before any), "files" (the file table is shared with process
// Other), "memory" (the memory is shared with process Other), "filters",
// or "session".
type Error struct {
	Op    string
	Pid   int
	Err   unix.Errno
	Other int // for Op "files" and "memory": the process sharing it
}

func (e *Error) Error() string {
	if e.Other != 0 {
		return fmt.Sprintf("inject: pid %d: %s: %v (shared with pid %d)", e.Pid, e.Op, e.Err,
			e.Other)
	}
	return fmt.Sprintf("inject: pid %d: %s: %v", e.Pid, e.Op, e.Err)
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Err }

// fail wraps err as an *Error for op, keeping an *Error that is already one.
func fail(op string, pid int, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		errno = unix.EIO
	}
	return &Error{Op: op, Pid: pid, Err: errno}
}

// errnoOf turns a raw injected-call return value into an errno, or 0 when
// the value is not an error.
func errnoOf(ret int64) unix.Errno {
	if ret < 0 && ret >= -4095 {
		return unix.Errno(-ret)
	}
	return 0
}

// loadFailed is the error of a seccomp(2) load made by thread tid that
// returned errno e. With SECCOMP_FILTER_FLAG_TSYNC_ESRCH, ESRCH says a
// thread could not take the filter: it has a filter of its own that the
// others lack (a thread may load one without TSYNC), so the process cannot
// be held as a whole: EBUSY, op "tsync", rather than the "no such process"
// ESRCH would read as. Where a filter of the thread's chain may have
// answered the call itself (chainMayAnswer), the errno is not the
// kernel's: EPERM, op "answered".
func loadFailed(pid, tid int, e unix.Errno) error {
	if chainMayAnswer(tid) {
		return &Error{Op: "answered", Pid: pid, Err: unix.EPERM}
	}
	if e == unix.ESRCH {
		return &Error{Op: "tsync", Pid: pid, Err: unix.EBUSY}
	}
	return &Error{Op: "seccomp", Pid: pid, Err: e}
}

// ListenerRefused reports whether err is the kernel's refusal of a new
// listener while one of the chain is open, which no filter of the process
// could have given itself (loadFailed trusted the errno; op "answered"
// otherwise).
func ListenerRefused(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == "seccomp" && e.Err == unix.EBUSY
}

// MemoryBusy reports whether err refused a process at the check for one
// that shares its memory (op "memory"): one did (EBUSY: a vfork child
// does until it execs), or tasks were created on the machine throughout
// the check (EAGAIN). Both pass; nothing changed, and the hold may be
// tried again a moment later, as a single hold is (HoldWith).
func MemoryBusy(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == "memory" && (e.Err == unix.EBUSY || e.Err == unix.EAGAIN)
}

// FilterKills reports whether err refused a process because a seccomp
// filter of its own may spoil a call of the hold (op "filter kills"). A
// process's filters only grow, so a later hold of it is refused the same
// way.
func FilterKills(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == "filter kills"
}
