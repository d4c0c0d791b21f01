package fs

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Caller is the process that sent a request: the uid and gid it acts
// with and Pid, the calling thread as the kernel names it (a TID of a
// multi-threaded process, in the daemon's PID namespace).
type Caller struct {
	Uid, Gid uint32
	Pid      int
}

// Enforcer turns accepted control-file writes into the kernel's state.
// The mirror calls it after the policy tree has taken a change; an error
// goes back to the writer (a [syscall.Errno] as it is, anything else as
// EIO), so a write that could not be enforced never reports success.
// Calls are serialized: the mirror makes one at a time.
type Enforcer interface {
	// Move puts process pid (a thread group ID), every thread of it, into
	// group, a slash path relative to the mount root ("" is the root).
	Move(c Caller, pid int, group string) error
	// MayChange is asked before a policy write changes anything: an
	// error (EPERM) refuses it. allow tells an allow from a deny.
	MayChange(c Caller, group string, allow bool) error
	// PolicyChanged is told that the deny set of group, and perhaps of
	// its descendants, has changed. It returns how many running processes
	// the change judges: held, and placed in group or below or in it now
	// (the log line says so).
	PolicyChanged(c Caller, group string) (int, error)
}

// CgroupEnforcer is the plain Enforcer: it moves processes by writing
// their PID into the real cgroup.procs of the group below Mirror and
// enforces no syscall policy at all.
type CgroupEnforcer struct {
	Mirror string // the mirrored real cgroup directory
}

var _ Enforcer = (*CgroupEnforcer)(nil)

// Move writes pid into <Mirror>/<group>/cgroup.procs. The kernel's errno
// comes back as it is: ESRCH for a PID that does not exist.
func (e *CgroupEnforcer) Move(c Caller, pid int, group string) error {
	dfd, err := unix.Open(e.Mirror, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)

	fd, err := OpenBeneath(dfd, joinRel(group, "cgroup.procs"), unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)

	b := []byte(strconv.Itoa(pid))
	n, err := unix.Write(fd, b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return syscall.EIO
	}
	return nil
}

// MayChange lets every change through: a CgroupEnforcer confines no one.
func (e *CgroupEnforcer) MayChange(c Caller, group string, allow bool) error { return nil }

// PolicyChanged does nothing: a CgroupEnforcer holds no process to any
// policy.
func (e *CgroupEnforcer) PolicyChanged(c Caller, group string) (int, error) {
	return 0, nil
}
