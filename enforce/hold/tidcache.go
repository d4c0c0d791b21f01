package hold

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/epoll"
	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// tidCache keeps the group of each thread that made a decided call, so
// that Decide does not read /proc/TID/cgroup on every call (about 1.3 µs
// of its 3 µs budget). An entry is good while the generation it was read
// in is current: the daemon starts a new one after every move it makes
// itself, and the scan every ScanInterval, which bounds how long a move
// behind the mount's back goes unseen. An entry also needs the thread it
// was read for: each cached thread's pidfd (a thread pidfd, Linux 6.9) is
// watched, and the entry goes when the thread exits, long before its TID
// could name another thread (that takes a wrap of every PID). On older
// kernels a thread other than the main one stands by its process's pidfd
// and the kernel's word that the process still has a thread of that TID
// (ref): a TID taken again within the process (a wrap of every PID in the
// life of one process) may be judged by its old thread's group until the
// next generation, as a thread moved behind the mount's back is.
type tidCache struct {
	gen     atomic.Uint64
	entries sync.Map   // TID -> *groupEntry
	watched sync.Map   // TID -> *watch
	ep      *epoll.Set // of the watched pidfds, and wake
	wake    int        // eventfd that ends the watcher
	done    chan struct{}
	exited  func(tid int) // told of each watched thread that exits
}

// groupEntry is the group of one thread, read in generation gen while r
// stood for the thread.
type groupEntry struct {
	group  string
	inside bool
	gen    uint64
	r      ref
}

// watch is the pidfd of one watched thread, or process.
type watch struct {
	fd int
}

// ref stands for one thread: w, the watch of the thread itself (tgid 0);
// or where threads cannot be watched (before Linux 6.9), for a thread
// other than the main one, the watch of its process tgid, and the thread
// is asked for with tgkill(tgid, TID, 0), which fails once no thread of
// that process has the TID (a one-byte read of its /proc/TID/cgroup
// descriptor did that before: about 5 µs a decided call, against 0.2).
type ref struct {
	w    *watch
	tgid int
}

func newTIDCache(exited func(tid int)) (*tidCache, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ep.Close()
		return nil, err
	}
	if err := ep.Add(wake, unix.EPOLLIN, -1); err != nil {
		ep.Close()
		unix.Close(wake)
		return nil, err
	}
	c := &tidCache{ep: ep, wake: wake, done: make(chan struct{}), exited: exited}
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
	if !c.live(tid, e.r) {
		return "", false, false
	}
	return e.group, e.inside, true
}

// live tells whether r stands for thread tid now: the thread it was made
// for has not exited, so no other thread has its TID.
func (c *tidCache) live(tid int, r ref) bool {
	if r.tgid == 0 {
		return c.watching(tid, r.w)
	}
	return c.watching(r.tgid, r.w) && unix.Tgkill(r.tgid, tid, 0) == nil
}

// watching tells whether w is the watch of tid now: not nil, and the
// thread (or process) it was started for has not exited.
func (c *tidCache) watching(tid int, w *watch) bool {
	v, ok := c.watched.Load(tid)
	return ok && w != nil && v.(*watch) == w
}

// store caches the group of tid read in generation gen, once something
// stands for tid (ref); a thread that cannot be watched is not cached.
func (c *tidCache) store(tid int, gen uint64, group string, inside bool) {
	if r := c.ref(tid); r.w != nil {
		c.entries.Store(tid, &groupEntry{group: group, inside: inside, gen: gen, r: r})
	}
}

// ref returns what stands for thread tid, starting a watch if needed; its
// w is nil when tid cannot be watched (it has exited).
func (c *tidCache) ref(tid int) ref {
	if kernel.PidfdThread.Have() {
		return ref{w: c.watch(tid)}
	}
	switch tgid := tgidOf(tid); tgid {
	case 0:
		return ref{}
	case tid:
		return ref{w: c.watch(tid)}
	default:
		return ref{w: c.watch(tgid), tgid: tgid}
	}
}

// prune drops the entries of threads that have exited whose process has
// not (where threads cannot be watched, only a process's exit is seen).
func (c *tidCache) prune() {
	c.entries.Range(func(k, v any) bool {
		if e := v.(*groupEntry); e.r.tgid != 0 && !c.live(k.(int), e.r) {
			c.entries.CompareAndDelete(k, v)
		}
		return true
	})
}

// watch returns the watch of tid (a thread where thread pidfds are had,
// else a process), starting one if needed.
func (c *tidCache) watch(tid int) *watch {
	if v, ok := c.watched.Load(tid); ok {
		return v.(*watch)
	}
	flags := 0
	if kernel.PidfdThread.Have() {
		flags = pidfdThread
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
	if err := c.ep.Add(fd, unix.EPOLLIN, int32(tid)); err != nil {
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
		n, err := c.ep.Wait(events)
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == -1 {
				return
			}
			tid := int(ev.Fd)
			if v, ok := c.watched.LoadAndDelete(tid); ok {
				w := v.(*watch)
				c.ep.Delete(w.fd)
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
	c.ep.Close()
	unix.Close(c.wake)
}
