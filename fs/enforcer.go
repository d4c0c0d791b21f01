package fs

import (
	"fmt"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/procfs"
)

// Caller is the process that sent a request: the uid and gid it acts
// with and Pid, the calling thread as the kernel names it (a TID of a
// multi-threaded process, in the daemon's PID namespace).
type Caller struct {
	Uid, Gid uint32
	Pid      int
}

// ErrInterrupted is the error of a write to the mount that gave up waiting
// for its turn (LockOr).
var ErrInterrupted = fmt.Errorf("%w: the write waited for its turn while the daemon was "+
	"stopping the writer's process for a hold, or while a hold waited on writes to the mount; "+
	"nothing changed, write again", syscall.EINTR)

// LockOr locks mu for a write to the mount by caller c, unless the
// daemon is stopping c's process for a hold, or some hold's stop has
// waited 200 ms or more (Stopping, SlowStop): then it returns false at
// once, or as soon as that happens while it waits, and mu is not held.
// The write then fails with EINTR, having changed nothing
// (ErrInterrupted). A thread inside a write to the mount stops only once
// the write is answered, and one waiting in the kernel for the file's
// inode lock (a FUSE write holds it) only once the write ahead of it is:
// a write that waited here for a lock that a hold held, or behind one
// that did, held that hold up until it gave up after 2 s (ETIMEDOUT), and
// a scan could never hold a process that kept writing (helper-75 F1,
// F2). Other writes wait as before, a signal to the writer included
// (helper-76 F4: an interrupt of the request for any signal with a
// handler made them fail).
func LockOr(mu *sync.Mutex, c Caller) bool {
	if mu.TryLock() {
		return true
	}
	w := addWaiter(c.Pid)
	defer dropWaiter(w)
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
	case <-w.kick:
		close(gaveUp)
		return false
	}
}

// stops is what LockOr's waiters wait on: the processes being stopped for
// a hold (by TGID, counted), how many stops are slow, and the waiters.
var stops = struct {
	sync.Mutex
	procs   map[int]int
	slow    int
	waiters map[*waiter]bool
}{procs: map[int]int{}, waiters: map[*waiter]bool{}}

// waiter is a write waiting in LockOr: its process (TGID, 0 if unknown)
// and the channel closed to make it give up.
type waiter struct {
	tgid int
	kick chan struct{}
	shut bool // kick is closed
}

// giveUp closes w.kick, once. Called with stops locked.
func (w *waiter) giveUp() {
	if !w.shut {
		w.shut = true
		close(w.kick)
	}
}

// addWaiter registers a waiter for the writing thread tid, which gives up
// at once if its process is being stopped or a stop is slow.
func addWaiter(tid int) *waiter {
	tgid, _ := procfs.TgidOf(tid)
	w := &waiter{tgid: tgid, kick: make(chan struct{})}
	stops.Lock()
	stops.waiters[w] = true
	if stops.slow > 0 || tgid != 0 && stops.procs[tgid] > 0 {
		w.giveUp()
	}
	stops.Unlock()
	return w
}

// dropWaiter unregisters w.
func dropWaiter(w *waiter) {
	stops.Lock()
	delete(stops.waiters, w)
	stops.Unlock()
}

// Stopping marks the process tgid as being stopped for a hold until done
// is called: its writes waiting in LockOr give up now, and those that
// come meanwhile at once.
func Stopping(tgid int) (done func()) {
	stops.Lock()
	stops.procs[tgid]++
	for w := range stops.waiters {
		if w.tgid == tgid {
			w.giveUp()
		}
	}
	stops.Unlock()
	return func() {
		stops.Lock()
		if stops.procs[tgid]--; stops.procs[tgid] <= 0 {
			delete(stops.procs, tgid)
		}
		stops.Unlock()
	}
}

// SlowStop marks a hold's stop as slow until done is called: every write
// waiting in LockOr gives up now, and those that come meanwhile at once,
// whatever their process. The stop may wait on one of them through a
// file's inode lock, and no other way tells which.
func SlowStop() (done func()) {
	stops.Lock()
	stops.slow++
	for w := range stops.waiters {
		w.giveUp()
	}
	stops.Unlock()
	return func() {
		stops.Lock()
		stops.slow--
		stops.Unlock()
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
