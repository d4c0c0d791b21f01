package keeper

import (
	"cmp"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/unotif"
)

// IdleExit is how long a keeper that keeps nothing waits for a daemon
// before it exits.
const IdleExit = 10 * time.Second

// sendTimeout bounds each message the keeper sends to a daemon.
const sendTimeout = 2 * time.Second

// Options configures a Keeper.
type Options struct {
	Dir  string         // where the socket goes; Dir when empty
	Idle time.Duration  // IdleExit when 0
	Log  *logrus.Logger // a logger to stderr when nil
}

// Stats counts what a Keeper did.
type Stats struct {
	Kept     int    // listeners kept now
	Answered uint64 // notifications answered with ENOSYS
	Orphans  uint64 // of those, ones that a dead daemon had received
	Gone     uint64 // listeners closed once every process of theirs exited
	Refused  uint64 // connections refused
}

// Keeper keeps a copy of every listener of the held processes of one
// mirror; see the package documentation. Its methods but Stop and Stats
// run in Run's goroutine only.
type Keeper struct {
	path string
	lock *os.File
	sock int // the listening socket
	epfd int
	wake int // eventfd: Stop
	idle time.Duration
	log  *logrus.Logger

	conn  int   // the daemon's connection, -1 when none
	gen   int   // connections so far; kept.gen is the one that confirmed a listener
	owner *peer // the process that has copies of the owned listeners
	marks *table

	byID   map[int32]*kept
	byKey  map[key]*kept
	nextID int32
	quiet  time.Time // since when nothing is kept and no daemon is there

	kept                             atomic.Int64
	answered, orphans, gone, refused atomic.Uint64
}

// key names a listener by the process it was kept for.
type key struct {
	pid   int
	start uint64
}

// kept is one kept listener.
type kept struct {
	fd    int
	id    int32
	key   key
	slot  uint32
	owned bool // the owner has a copy and answers it
	gen   int
}

// Epoll cookies of the keeper's own descriptors; listeners count from
// firstListener.
const (
	evSock int32 = iota + 1
	evConn
	evOwner
	evWake
	firstListener = 16
)

// Listen becomes the keeper of mirror: it takes the lock file beside the
// socket (waiting up to 2 s for a keeper that is exiting), replaces a
// stale socket and listens. EEXIST: another keeper of mirror runs.
func Listen(mirror string, opt Options) (*Keeper, error) {
	if opt.Dir == "" {
		opt.Dir = Dir
	}
	if opt.Idle == 0 {
		opt.Idle = IdleExit
	}
	if opt.Log == nil {
		opt.Log = logrus.New()
	}
	if !unfilteredThread(os.Getpid()) {
		return nil, syscall.EPERM // held itself
	}
	if err := unotif.CheckSizes(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, err
	}
	path := SocketPath(opt.Dir, mirror)
	lock, err := takeLock(path[:len(path)-len(".sock")] + ".lock")
	if err != nil {
		return nil, err
	}
	k := &Keeper{path: path, lock: lock, sock: -1, epfd: -1, wake: -1, conn: -1,
		idle: opt.Idle, log: opt.Log, byID: map[int32]*kept{}, byKey: map[key]*kept{},
		nextID: firstListener, quiet: time.Now()}
	if err := k.open(); err != nil {
		k.close()
		return nil, err
	}
	return k, nil
}

// takeLock locks path exclusively for the life of this process.
func takeLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != unix.EWOULDBLOCK || i == 100 {
			f.Close()
			if err == unix.EWOULDBLOCK {
				return nil, syscall.EEXIST
			}
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (k *Keeper) open() error {
	var err error
	if k.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return err
	}
	if k.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return err
	}
	k.sock, err = unix.Socket(unix.AF_UNIX,
		unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	// The lock is ours: a socket file left there is a dead keeper's.
	if err := os.Remove(k.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := unix.Bind(k.sock, &unix.SockaddrUnix{Name: k.path}); err != nil {
		return err
	}
	if err := os.Chmod(k.path, 0o600); err != nil {
		return err
	}
	if err := unix.Listen(k.sock, 8); err != nil {
		return err
	}
	if err := k.watch(k.sock, evSock, unix.EPOLLIN); err != nil {
		return err
	}
	return k.watch(k.wake, evWake, unix.EPOLLIN)
}

func (k *Keeper) watch(fd int, id int32, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: id}
	return unix.EpollCtl(k.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

func (k *Keeper) rewatch(fd int, id int32, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: id}
	unix.EpollCtl(k.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
}

// Path is the socket's path.
func (k *Keeper) Path() string { return k.path }

// Stop makes Run return. The kept listeners close with it: those the
// daemon has no copy of fail their calls with ENOSYS in the kernel again.
func (k *Keeper) Stop() {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(k.wake, one)
}

// Stats returns the counts so far.
func (k *Keeper) Stats() Stats {
	return Stats{Kept: int(k.kept.Load()), Answered: k.answered.Load(),
		Orphans: k.orphans.Load(), Gone: k.gone.Load(), Refused: k.refused.Load()}
}

// Run serves until Stop, or until nothing has been kept and no daemon has
// been connected for the idle time. It removes the socket and closes every
// kept listener before it returns.
func (k *Keeper) Run() error {
	defer k.close()
	k.log.WithField("socket", k.path).Info("keeper listening")
	events := make([]unix.EpollEvent, 64)
	for {
		timeout := -1
		if len(k.byID) == 0 && k.conn < 0 && k.owner == nil {
			left := k.idle - time.Since(k.quiet)
			if left <= 0 {
				k.log.Info("keeper idle: exiting")
				return nil
			}
			timeout = int(left/time.Millisecond) + 1
		} else {
			k.quiet = time.Now()
		}
		n, err := unix.EpollWait(k.epfd, events, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			switch ev.Fd {
			case evWake:
				k.log.Info("keeper stopped")
				return nil
			case evSock:
				k.accept()
			case evConn:
				if k.conn >= 0 {
					k.serve()
				}
			case evOwner:
				// Not a stale event of an owner that admit replaced.
				if k.owner != nil && k.owner.exited() {
					k.takeOver("the daemon exited")
				}
			default:
				k.ready(ev.Fd, ev.Events)
			}
		}
	}
}

// close releases everything; the lock goes last, with the file.
func (k *Keeper) close() {
	if k.sock >= 0 {
		os.Remove(k.path)
		unix.Close(k.sock)
	}
	if k.conn >= 0 {
		unix.Close(k.conn)
	}
	for _, e := range k.byID {
		unix.Close(e.fd)
	}
	k.byID, k.byKey = map[int32]*kept{}, map[key]*kept{}
	k.kept.Store(0)
	k.owner.close()
	k.marks.unmap()
	for _, fd := range []int{k.epfd, k.wake} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	k.lock.Close()
}

// ready handles an event of a kept listener: every process of its filter
// has exited, or (while no daemon answers it) a notification waits.
func (k *Keeper) ready(id int32, events uint32) {
	e := k.byID[id]
	if e == nil {
		return
	}
	if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		k.remove(e)
		k.gone.Add(1)
		return
	}
	if e.owned || events&unix.EPOLLIN == 0 {
		return // handed to the daemon since the event
	}
	n, err := recv(e.fd)
	if err != nil {
		return // ENOENT: the caller left
	}
	if fail(e.fd, n.ID) == nil {
		k.answered.Add(1)
	}
}

func (k *Keeper) remove(e *kept) {
	unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
	unix.Close(e.fd)
	delete(k.byID, e.id)
	delete(k.byKey, e.key)
	k.kept.Add(-1)
}

// answer makes the keeper answer e from now on.
func (k *Keeper) answer(e *kept) {
	e.owned = false
	k.rewatch(e.fd, e.id, unix.EPOLLIN)
}

// own leaves e to the daemon: the keeper only watches it for the exit of
// its processes (EPOLLHUP is reported whatever the mask).
func (k *Keeper) own(e *kept, slot uint32) {
	e.owned, e.slot, e.gen = true, slot, k.gen
	k.rewatch(e.fd, e.id, 0)
}

// takeOver answers, from now on, every listener the owner had: first the
// notifications it received and never answered, found near its marks,
// then every new one.
func (k *Keeper) takeOver(why string) {
	n, orphans := 0, 0
	for _, e := range k.byID {
		if e.owned {
			orphans += failOrphans(e.fd, k.marks.load(e.slot))
			k.answer(e)
			n++
		}
	}
	k.orphans.Add(uint64(orphans))
	k.answered.Add(uint64(orphans))
	k.marks.unmap()
	k.marks = nil
	unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, k.owner.pidfd, nil)
	e := k.log.WithFields(logrus.Fields{"pid": k.owner.pid, "listeners": n, "orphans": orphans})
	if n == 0 {
		e.Info(why + ": nothing was held") // a clean exit, as often as not
	} else {
		// Processes fail closed now, a clean umount's too (helper-31: an
		// info line was the only sign of that).
		e.Warn(why + ": the held processes get ENOSYS for every call the daemon would " +
			"have decided, until they exit or a daemon mounts the mirror again")
	}
	k.owner.close()
	k.owner = nil
}

// reconcile answers the listeners that the owner did not confirm on this
// connection: after a reconnection, it has no copy of those.
func (k *Keeper) reconcile() {
	for _, e := range k.byID {
		if e.owned && e.gen != k.gen {
			k.answer(e)
		}
	}
}

// sortedUnowned lists the listeners nobody but the keeper answers, by key.
func (k *Keeper) sortedUnowned() []*kept {
	var out []*kept
	for _, e := range k.byID {
		if !e.owned {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *kept) int {
		if c := cmp.Compare(a.key.pid, b.key.pid); c != 0 {
			return c
		}
		return cmp.Compare(a.key.start, b.key.start)
	})
	return out
}
