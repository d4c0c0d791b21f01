// Package supervise answers seccomp user notifications of held processes
// from a live policy. Each held process has a filter whose decided
// numbers return SECCOMP_RET_USER_NOTIF and a listener owned by this
// process (see enforce/inject). For every notification the Supervisor asks
// its Decider, then lets the call run (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
// or fails it with ENOSYS.
//
// When a listener is closed, by Remove, Close, or the daemon's death, the
// kernel fails the calls waiting on it and every later call that its
// filter notifies with ENOSYS: enforcement fails closed.
//
// CONTINUE lets the call run as the process made it. Nothing here reads
// the process's memory or judges pointer arguments, so the usual
// time-of-check race of user notification does not arise: decisions use
// the number and the caller only.
package supervise

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/epoll"
	"github.com/cgsyscall/cgsyscall/enforce/kernel"
	"github.com/cgsyscall/cgsyscall/enforce/unotif"
)

// Notif is one notified system call.
type Notif struct {
	ID uint64 // the kernel's cookie, unique per listener
	// Pid is the calling thread's ID in this process's PID namespace, 0
	// when the caller is not visible there. A thread ID, not a process
	// ID: map it through /proc/PID/status (Tgid) when needed.
	Pid int
	// Holder is the pid passed to Add with the listener. Processes forked
	// from a held process share its listener, so Pid may be a child's.
	Holder int
	Arch   uint32 // AUDIT_ARCH_* of the call's ABI
	Nr     int    // syscall number in that ABI
	IP     uint64 // instruction pointer after the system call instruction
	Args   [6]uint64
	// Note is the Decider's own: whatever it sets here reaches the
	// OnDenied hook with this notification.
	Note any
}

// Decider decides one notified call: true lets it run, false fails it
// with ENOSYS. It may set n.Note for the OnDenied hook. It is called from
// several goroutines at once, must not block for long (the caller waits
// in the kernel meanwhile), and must not call Close.
type Decider func(n *Notif) (allow bool)

// Stats counts what a Supervisor did since New.
type Stats struct {
	Notifications uint64 // notifications received
	Allowed       uint64 // answered with CONTINUE
	Denied        uint64 // answered with ENOSYS
	// Vanished counts notifications whose caller was gone by the answer
	// (killed, or its call interrupted by a signal: the kernel's ENOENT),
	// and listeners whose every process had exited.
	Vanished uint64
}

// listener is one watched listener descriptor.
type listener struct {
	fd, pid int
	id      int32  // epoll cookie; never reused, unlike descriptor numbers
	onGone  func() // from Listen, if any
	mark    Mark   // from ListenMarked, if any
	mu      sync.Mutex
	closed  bool
	last    time.Time   // when a worker last took a call from epoll; under mu
	leaving atomic.Bool // set before it is dropped: a hot stay on it ends
}

// Supervisor serves many listeners with a few goroutines blocked in one
// epoll set. Each listener is armed one-shot, so that only one goroutine
// at a time receives from it: a receive never blocks.
type Supervisor struct {
	decide Decider
	ep     *epoll.Set // of the listeners, and wake
	wake   int        // eventfd; readable once Close wants the workers gone

	mu     sync.Mutex
	byID   map[int32]*listener
	byFd   map[int]*listener
	nextID int32
	closed bool
	onGone func(listener, pid int)

	onDenied atomic.Pointer[func(n Notif, delivered bool)]

	workers sync.WaitGroup
	hot     atomic.Int32 // workers in stayHot
	maxHot  int32
	leaving atomic.Bool      // set by Close: hot stays end
	stats   [4]atomic.Uint64 // Stats fields, in order
	sync    atomic.Int32     // 1 once a listener took SYNC_WAKE_UP
}

const (
	nNotif = iota
	nAllowed
	nDenied
	nVanished
)

// New starts a Supervisor that asks decide about every notification.
// It fails with ENOTSUP on a kernel whose notification structures it does
// not know, and with ENOSYS where seccomp user notification is missing
// (before Linux 5.0).
func New(decide Decider) (*Supervisor, error) {
	if decide == nil {
		return nil, unix.EINVAL
	}
	if err := unotif.CheckSizes(); err != nil {
		return nil, err
	}
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ep.Close()
		return nil, err
	}
	if err := ep.Add(wake, unix.EPOLLIN, 0); err != nil {
		ep.Close()
		unix.Close(wake)
		return nil, err
	}
	s := &Supervisor{decide: decide, ep: ep, wake: wake,
		byID: map[int32]*listener{}, byFd: map[int]*listener{}}
	n := min(max(runtime.GOMAXPROCS(0), 2), 4)
	s.maxHot = int32(n - 1)
	s.workers.Add(n)
	for range n {
		go s.work()
	}
	return s, nil
}

// OnGone sets a hook called when every process using a listener has
// exited. The Supervisor then closes that listener first and calls
// hook(listener, pid) after: the number may already be reused, so the
// caller must not Remove it afterwards. Without a hook such a listener
// stays open, unwatched, until Remove or Close. Set it before Add.
func (s *Supervisor) OnGone(hook func(listener, pid int)) {
	s.mu.Lock()
	s.onGone = hook
	s.mu.Unlock()
}

// OnDenied makes the Supervisor call hook after each ENOSYS answer it
// sent, from the goroutine that sent it, with the notification as the
// Decider left it. delivered is false when the
// caller was no longer waiting: it died, or a signal interrupted the call,
// which the kernel then notifies again when the call restarts. Counting
// only delivered answers counts every denied call once. Set it before
// Add.
func (s *Supervisor) OnDenied(hook func(n Notif, delivered bool)) {
	s.onDenied.Store(&hook)
}

// Add watches listener, a seccomp listener descriptor of the process held
// as pid, and takes ownership of it: it is closed by Remove, by Close, or
// here when Add fails. Add after Close fails with EBADF.
func (s *Supervisor) Add(fd int, pid int) error {
	_, err := s.add(fd, pid, nil, nil)
	return err
}

// Listen is Add for a caller that keeps its listeners apart by more than
// their descriptor numbers, which the kernel reuses: it returns a function
// that stops watching exactly this listener and closes it (Remove's work;
// later calls, and calls after the listener went, do nothing), and
// onGone, when not nil, is called instead of the OnGone hook once every
// process using the listener has exited and it is closed.
func (s *Supervisor) Listen(fd int, pid int, onGone func()) (remove func(), err error) {
	return s.ListenMarked(fd, pid, nil, onGone)
}

// Mark is told the ID of each notification received on one listener,
// right after the receive and before the call is decided (package
// enforce/keeper answers the calls a dead daemon had received).
type Mark interface{ Received(id uint64) }

// ListenMarked is Listen with mark, when not nil, told the ID of every
// notification received on fd.
func (s *Supervisor) ListenMarked(fd int, pid int, mark Mark,
	onGone func()) (remove func(), err error) {
	l, err := s.add(fd, pid, onGone, mark)
	if err != nil {
		return nil, err
	}
	return func() { s.removeListener(l) }, nil
}

func (s *Supervisor) add(fd, pid int, onGone func(), mark Mark) (*listener, error) {
	// Probed once per process, by name; without it (before Linux 6.6)
	// the listener is woken the ordinary way.
	if kernel.SyncWakeUp.Have() && unotif.SetSyncWakeUp(fd) == nil {
		s.sync.Store(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		unix.Close(fd)
		return nil, unix.EBADF
	}
	if _, dup := s.byFd[fd]; dup {
		return nil, unix.EEXIST
	}
	s.nextID++
	l := &listener{fd: fd, pid: pid, id: s.nextID, onGone: onGone, mark: mark}
	if err := s.ep.Add(fd, unix.EPOLLIN|unix.EPOLLONESHOT, l.id); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.byID[l.id] = l
	s.byFd[fd] = l
	return l, nil
}

// removeListener is Remove of exactly l.
func (s *Supervisor) removeListener(l *listener) {
	s.mu.Lock()
	if s.byID[l.id] == l {
		delete(s.byID, l.id)
		delete(s.byFd, l.fd)
	}
	s.mu.Unlock()
	s.drop(l)
}

// Remove stops watching listener and closes it. From then on the calls its
// filter notifies fail with ENOSYS. Unknown descriptors are ignored.
func (s *Supervisor) Remove(fd int) {
	s.mu.Lock()
	l := s.byFd[fd]
	if l != nil {
		delete(s.byFd, fd)
		delete(s.byID, l.id)
	}
	s.mu.Unlock()
	if l != nil {
		s.drop(l)
	}
}

// drop closes l once no worker is answering on it.
func (s *Supervisor) drop(l *listener) {
	l.leaving.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	s.ep.Delete(l.fd)
	unix.Close(l.fd)
}

// Close closes every listener and stops the workers. Calls that the
// filters notify fail with ENOSYS from then on; calls the filters allow
// are untouched.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ls := make([]*listener, 0, len(s.byID))
	for _, l := range s.byID {
		ls = append(ls, l)
	}
	s.byID, s.byFd = map[int32]*listener{}, map[int]*listener{}
	s.mu.Unlock()
	for _, l := range ls {
		s.drop(l)
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(s.wake, one)
	s.workers.Wait()
	s.ep.Close()
	unix.Close(s.wake)
	return nil
}

// Stats returns the counts so far.
func (s *Supervisor) Stats() Stats {
	return Stats{
		Notifications: s.stats[nNotif].Load(),
		Allowed:       s.stats[nAllowed].Load(),
		Denied:        s.stats[nDenied].Load(),
		Vanished:      s.stats[nVanished].Load(),
	}
}

// SyncWakeUp reports whether the kernel took SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
// (Linux 6.6) on the listeners added so far; false before the first Add.
func (s *Supervisor) SyncWakeUp() bool { return s.sync.Load() > 0 }
