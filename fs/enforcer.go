package fs

import (
	"fmt"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Caller is the process that sent a request: the uid and gid it acts
// with and Pid, the calling thread as the kernel names it (a TID of a
// multi-threaded process, in the daemon's PID namespace). Cancel is
// closed when the kernel interrupts the request (nil: never).
type Caller struct {
	Uid, Gid uint32
	Pid      int
	Cancel   <-chan struct{}
}

// ErrInterrupted is the error of a write to the mount that gave up waiting
// for its turn because its process is being stopped for a hold (LockOr).
var ErrInterrupted = fmt.Errorf("%w: the writer's process was being stopped for a hold "+
	"while the write waited for its turn; nothing changed, write again", syscall.EINTR)

// LockOr locks mu, unless cancel is closed first: then it returns false,
// and mu is not held. A write to the mount waits for locks this way. A
// hold stops every thread of the process, and a thread inside a write to
// the mount does not stop until the write is answered: waiting on behind
// the lock that the hold itself holds, it held the hold up until the hold
// gave up after 2 s (ETIMEDOUT), and a scan could then never hold a
// process that kept writing (helper-75 F1, F2). The stop is a
// PTRACE_INTERRUPT, which the kernel passes on to the daemon as an
// interrupt of the request (cancel); the write then fails with EINTR,
// having changed nothing, and the thread stops (ErrInterrupted). A kick
// (KickWaiters) ends every such wait the same way.
func LockOr(mu *sync.Mutex, cancel <-chan struct{}) bool {
	if mu.TryLock() {
		return true
	}
	if cancel == nil {
		mu.Lock()
		return true
	}
	kick := kicked()
	got, gaveUp := make(chan struct{}), make(chan struct{})
	go func() {
		mu.Lock()
		select {
		case got <- struct{}{}:
		case <-gaveUp:
			mu.Unlock()
		}
	}()
	select {
	case <-got:
		return true
	case <-cancel:
	case <-kick:
	}
	close(gaveUp)
	return false
}

// kicks is KickWaiters' broadcast: a channel closed at each kick.
var kicks struct {
	sync.Mutex
	ch chan struct{}
}

// kicked returns the channel that the next KickWaiters closes.
func kicked() <-chan struct{} {
	kicks.Lock()
	defer kicks.Unlock()
	if kicks.ch == nil {
		kicks.ch = make(chan struct{})
	}
	return kicks.ch
}

// KickWaiters has every write to the mount that waits for its turn in
// LockOr give up with EINTR now (ErrInterrupted). A hold calls it while a
// process it stops is slow to stop: a thread waiting in the kernel for a
// file's inode lock, behind another process's write to the same file
// that waits here, stops only once that write is answered, and that
// process may not be one the hold stops (helper-75 F1: ten writers of one
// file in a group, and a deny of it that timed out after 2 s for each).
func KickWaiters() {
	kicks.Lock()
	defer kicks.Unlock()
	if kicks.ch != nil {
		close(kicks.ch)
		kicks.ch = nil
	}
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
