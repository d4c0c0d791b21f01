package hold

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// tidCache keeps the group of each thread that made a decided call, so
// that Decide does not read /proc/TID/cgroup on every call (about 1.3 µs
// of its 3 µs budget). An entry is good while the generation it was read
// in is current: the daemon starts a new one after every move it makes
// itself, and the scan every ScanInterval, which bounds how long a move
// behind the mount's back goes unseen. An entry also needs the thread it
// was read for: each cached thread's pidfd (a thread pidfd, Linux 6.9; on
// older kernels only process leaders are cached, through their process
// pidfd) is watched, and the entry goes when the thread exits, long
// before its TID could name another thread (that takes a wrap of every
// PID).
type tidCache struct {
	gen     atomic.Uint64
	entries sync.Map // TID -> *groupEntry
	watched sync.Map // TID -> *watch
	epfd    int
	epf     *os.File        // epfd, in Go's poller
	epc     syscall.RawConn // of epf
	wake    int             // eventfd that ends the watcher
	done    chan struct{}
	exited  func(tid int) // told of each watched thread that exits
}

// groupEntry is the group of one thread, read in generation gen while w
// watched the thread.
type groupEntry struct {
	group  string
	inside bool
	gen    uint64
	w      *watch
}

// watch is the pidfd of one cached thread.
type watch struct {
	fd int
}

func newTIDCache(exited func(tid int)) (*tidCache, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	// Waited for in Go's poller, as supervise does with its epoll set:
	// a blocking epoll_wait would keep a processor, for the runtime's
	// monitor to take back and poll after.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	epf := os.NewFile(uintptr(epfd), "thread pidfds")
	epc, err := epf.SyscallConn()
	if err != nil {
		epf.Close()
		unix.Close(wake)
		return nil, err
	}
	c := &tidCache{epfd: epfd, epf: epf, epc: epc, wake: wake, done: make(chan struct{}),
		exited: exited}
	go c.watcher()
	return c, nil
}

// lookup returns the cached group of tid, if it is good.
func (c *tidCache) lookup(tid int) (string, bool, bool) {
	v, ok := c.entries.Load(tid)
	if !ok {
		return "", false, false
	}
	e := v.(*groupEntry)
	if e.gen != c.gen.Load() {
		return "", false, false
	}
	if w, ok := c.watched.Load(tid); !ok || w.(*watch) != e.w {
		return "", false, false
	}
	return e.group, e.inside, true
}

// store caches the group of tid read in generation gen, once tid is
// watched; a thread that cannot be watched is not cached.
func (c *tidCache) store(tid int, gen uint64, group string, inside bool) {
	w := c.watch(tid)
	if w != nil {
		c.entries.Store(tid, &groupEntry{group: group, inside: inside, gen: gen, w: w})
	}
}

// watch returns the watch of tid, starting one if needed.
func (c *tidCache) watch(tid int) *watch {
	if v, ok := c.watched.Load(tid); ok {
		return v.(*watch)
	}
	flags := 0
	if kernel.PidfdThread.Have() {
		flags = pidfdThread
	} else if tgidOf(tid) != tid {
		return nil
	}
	fd, err := unix.PidfdOpen(tid, flags)
	if err != nil {
		return nil
	}
	w := &watch{fd: fd}
	if v, loaded := c.watched.LoadOrStore(tid, w); loaded {
		unix.Close(fd)
		return v.(*watch)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tid)}
	if err := unix.EpollCtl(c.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		c.watched.CompareAndDelete(tid, w)
		unix.Close(fd)
		return nil
	}
	return w
}

// pidfdThread is PIDFD_THREAD of <linux/pidfd.h> (O_EXCL).
const pidfdThread = unix.O_EXCL

// watcher forgets threads as they exit.
func (c *tidCache) watcher() {
	defer close(c.done)
	events := make([]unix.EpollEvent, 64)
	for {
		var n int
		var err error
		if perr := c.epc.Read(func(fd uintptr) bool {
			n, err = unix.EpollWait(int(fd), events, 0)
			return n > 0 || err != nil && err != unix.EINTR
		}); perr != nil || err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == -1 {
				return
			}
			tid := int(ev.Fd)
			if v, ok := c.watched.LoadAndDelete(tid); ok {
				w := v.(*watch)
				unix.EpollCtl(c.epfd, unix.EPOLL_CTL_DEL, w.fd, nil)
				unix.Close(w.fd)
			}
			c.entries.Delete(tid)
			c.exited(tid)
		}
	}
}

// renew starts a new generation: every entry is read again at its next
// use.
func (c *tidCache) renew() { c.gen.Add(1) }

// close ends the watcher and closes every pidfd.
func (c *tidCache) close() {
	unix.Write(c.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-c.done
	c.watched.Range(func(k, v any) bool {
		unix.Close(v.(*watch).fd)
		return true
	})
	c.epf.Close()
	unix.Close(c.wake)
}
