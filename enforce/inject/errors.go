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
// "restore", "clone", "files" (the file table is shared with process
// Other), "filters", or "session".
type Error struct {
	Op    string
	Pid   int
	Err   unix.Errno
	Other int // for Op "files": a process sharing the file table
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
