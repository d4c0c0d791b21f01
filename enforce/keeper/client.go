package keeper

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// ClientOptions configures a daemon's Client.
type ClientOptions struct {
	Dir string // where the socket is; Dir when empty
	// Exe is the binary started as "EXE keeper [-dir DIR] [-log FILE]
	// MIRROR" when no keeper answers; /proc/self/exe when empty.
	Exe string
	// LogFile is the keeper's log: a file, or "syslog" for the system
	// log; when empty, LogStderr (the daemon's own standard error, in
	// the foreground), or else nowhere.
	LogFile   string
	LogStderr *os.File
	LogJSON   bool           // the keeper's lines in JSON, as the daemon's
	Log       *logrus.Logger // a logger to stderr when nil
	// Timeout bounds each reply of the keeper (5 s when 0). A keeper that
	// does not answer in time is killed, and a new one is given every
	// listener again.
	Timeout time.Duration
	NoSpawn bool // never start a keeper (tests that run one in-process)
}

// Listener is a listener that the keeper handed over.
type Listener struct {
	Fd    int    // the caller's own copy
	Pid   int    // the process it was kept for
	Start uint64 // that process's start time (StartTime) when kept
	Mark  Mark   // for the daemon's answering loop
}

// Client is a daemon's connection to the keeper of its mirror. It starts
// the keeper when none answers, keeps a copy of every listener it was
// given, and, when the connection breaks (the keeper was killed), starts
// a new keeper and gives it every listener again. Its methods are safe for
// concurrent use; those of a nil Client do nothing.
type Client struct {
	mirror string
	opt    ClientOptions
	path   string
	table  *table
	memfd  int
	wake   int // eventfd: Close, or a broken connection
	done   chan struct{}
	pid    atomic.Int64 // the keeper's PID, 0 while disconnected

	mu      sync.Mutex
	conn    int   // -1 while disconnected
	keeper  *peer // the keeper last connected to
	kept    map[key]*entry
	dropped map[key]bool // dropped while disconnected, for the keeper
	free    []uint32     // slots given back, oldest first
	next    uint32       // the first slot never used
	closed  bool
}

// entry is the client's copy of one kept listener.
type entry struct {
	fd   int
	slot uint32
}

// Connect connects to the keeper of mirror, starting one when none
// answers, and waits up to 3 s for it. EBUSY: another daemon is connected,
// or the daemon that had the listeners still lives.
func Connect(mirror string, opt ClientOptions) (*Client, error) {
	if opt.Dir == "" {
		opt.Dir = Dir
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.Log == nil {
		opt.Log = logrus.New()
	}
	t, memfd, err := newTable()
	if err != nil {
		return nil, err
	}
	c := &Client{mirror: mirror, opt: opt, path: SocketPath(opt.Dir, mirror), table: t,
		memfd: memfd, conn: -1, done: make(chan struct{}), kept: map[key]*entry{},
		dropped: map[key]bool{}}
	if c.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		t.unmap()
		unix.Close(memfd)
		return nil, err
	}
	fd, p, err := c.dial(3 * time.Second)
	if err == nil {
		c.attach(fd, p)
	}
	if err != nil {
		t.unmap()
		unix.Close(memfd)
		unix.Close(c.wake)
		return nil, err
	}
	go c.watch()
	return c, nil
}

// KeeperPid is the PID of the keeper, 0 while there is none: the holder
// must never hold it.
func (c *Client) KeeperPid() int {
	if c == nil {
		return 0
	}
	return int(c.pid.Load())
}

// Take hands over every listener the keeper has that no running daemon
// has: a new daemon calls it once, before it holds anything, and adds each
// to its supervisor instead of injecting a new layer. The caller owns
// each Fd; the keeper and this Client keep their own copies.
func (c *Client) Take() ([]Listener, error) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn < 0 {
		return nil, syscall.ENOTCONN
	}
	if err := sendMsg(c.conn, msg{Op: opTake, Slot: c.next}, -1); err != nil {
		c.broken(err)
		return nil, err
	}
	var out []Listener
	for {
		m, fd, err := recvMsg(c.conn, 0)
		if err != nil {
			c.broken(err)
			return out, err
		}
		if m.Op == opReply {
			if m.Errno != 0 {
				return out, syscall.Errno(m.Errno)
			}
			return out, nil
		}
		if m.Op == opRefused {
			closeIf(fd)
			c.refused(m)
			continue
		}
		k := key{int(m.Pid), m.Start}
		if m.Op != opListener || fd < 0 || c.kept[k] != nil {
			closeIf(fd)
			continue
		}
		mine, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			unix.Close(fd)
			continue // the keeper's copy stays: it answers it once this daemon goes
		}
		if m.Slot != noSlot && m.Slot >= c.next {
			c.next = m.Slot + 1
		}
		c.kept[k] = &entry{fd: mine, slot: m.Slot}
		out = append(out, Listener{Fd: fd, Pid: k.pid, Start: k.start, Mark: c.table.mark(m.Slot)})
	}
}

// Keep gives the keeper a copy of listener fd (the caller keeps fd), the
// listener of process pid whose start time is start, and returns the Mark
// in which the daemon notes each notification it receives on fd. It sends
// one message and waits for no answer: a keeper that refuses the listener
// says so later, and the Client then logs it and forgets the listener.
// EINVAL: fd is no seccomp listener. EEXIST: pid and start are kept
// already (Drop first). ENOTCONN: the keeper is not reachable now; the
// listener is recorded and sent once a keeper is back (the Mark is good).
func (c *Client) Keep(fd, pid int, start uint64) (Mark, error) {
	if c == nil {
		return Mark{}, nil
	}
	if !isListener(fd) {
		return Mark{}, syscall.EINVAL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{pid, start}
	if c.closed {
		return Mark{}, syscall.EBADF
	}
	if c.kept[k] != nil {
		return Mark{}, syscall.EEXIST
	}
	mine, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return Mark{}, err
	}
	e := &entry{fd: mine, slot: c.allocSlot()}
	c.kept[k] = e
	delete(c.dropped, k)
	mark := c.table.mark(e.slot)
	if c.conn < 0 {
		return mark, syscall.ENOTCONN
	}
	if err := c.sendKeep(k, e); err != nil {
		return mark, syscall.ENOTCONN
	}
	return mark, nil
}

// sendKeep sends one Keep, and reads the refusals already there. Called
// with c.mu held and the connection up.
func (c *Client) sendKeep(k key, e *entry) error {
	m := msg{Op: opKeep, Pid: int32(k.pid), Start: k.start, Slot: e.slot}
	if err := sendMsg(c.conn, m, e.fd); err != nil {
		c.broken(err)
		return err
	}
	for {
		r, rfd, err := recvMsg(c.conn, unix.MSG_DONTWAIT)
		closeIf(rfd)
		if err == unix.EAGAIN {
			return nil
		}
		if err == nil && r.Op != opRefused {
			err = syscall.EPROTO
		}
		if err != nil {
			c.broken(err)
			return err
		}
		c.refused(r)
	}
}

// refused forgets a listener that the keeper refused.
func (c *Client) refused(r msg) {
	k := key{int(r.Pid), r.Start}
	c.opt.Log.WithFields(logrus.Fields{"pid": k.pid, "errno": syscall.Errno(r.Errno).Error()}).
		Warn("the listener keeper refused a listener")
	if e := c.kept[k]; e != nil {
		c.forget(k, e)
	}
}

// Drop makes the keeper close its copy of the listener kept for pid and
// start, and closes this Client's. A daemon that closes a listener on
// purpose, to load a new NEW_LISTENER layer into that process, must Drop
// it first and close its own copy only once Drop returned nil: the kernel
// refuses a new listener (EBUSY) while any copy of the old one is open,
// and a listener the keeper thinks the daemon answers is answered by
// nobody. After the supervisor closed a listener whose processes all
// exited, Drop just forgets it. ENOTCONN: the keeper that has the copy
// lives but cannot be told now; it is told once reachable.
func (c *Client) Drop(pid int, start uint64) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{pid, start}
	if e := c.kept[k]; e != nil {
		c.forget(k, e)
	}
	if c.conn < 0 {
		if c.keeper == nil || c.keeper.exited() {
			return nil // the keeper's copies closed with it
		}
		c.dropped[k] = true
		return syscall.ENOTCONN
	}
	r, err := c.request(msg{Op: opDrop, Pid: int32(pid), Start: start}, -1)
	if err != nil {
		c.dropped[k] = true
		return syscall.ENOTCONN
	}
	if r.Errno != 0 && r.Errno != uint32(syscall.ENOENT) {
		return syscall.Errno(r.Errno)
	}
	return nil
}

// Close tells the keeper that this daemon answers none of its listeners
// any more, so that the keeper answers them from now on, and closes the
// connection. Call it after the supervisor has closed every listener: a
// listener with two readers may leave the keeper waiting. A daemon that
// dies without Close is noticed when its process has exited.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.conn >= 0 {
		c.request(msg{Op: opBye}, -1)
		unix.Close(c.conn)
		c.conn = -1
	}
	for k, e := range c.kept {
		c.forget(k, e)
	}
	c.keeper.close()
	c.pid.Store(0)
	c.mu.Unlock()
	c.poke()
	<-c.done
	unix.Close(c.wake)
	unix.Close(c.memfd)
	// The table stays mapped: a late Mark.Received must not fault.
	return nil
}

func (c *Client) poke() {
	unix.Write(c.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
}

func (c *Client) allocSlot() uint32 {
	// Freed slots are reused oldest first, so that a mark that a
	// supervisor still writes for a dropped listener is rarely read for
	// another one.
	if len(c.free) > 1024 {
		s := c.free[0]
		c.free = c.free[1:]
		return s
	}
	if c.next >= tableSlots {
		return noSlot
	}
	c.next++
	return c.next - 1
}

func (c *Client) forget(k key, e *entry) {
	unix.Close(e.fd)
	delete(c.kept, k)
	if p := c.table.slot(e.slot); p != nil {
		p.Store(0)
		c.free = append(c.free, e.slot)
	}
}

// request sends m (with fd attached when fd >= 0) and reads the reply.
// Called with c.mu held and the connection up.
func (c *Client) request(m msg, fd int) (msg, error) {
	if err := sendMsg(c.conn, m, fd); err != nil {
		c.broken(err)
		return msg{}, err
	}
	for {
		r, rfd, err := recvMsg(c.conn, 0)
		closeIf(rfd)
		if err == nil && r.Op == opRefused {
			c.refused(r)
			continue
		}
		if err == nil && r.Op != opReply {
			err = syscall.EPROTO
		}
		if err != nil {
			c.broken(err)
			return msg{}, err
		}
		return r, nil
	}
}

// broken gives up the connection after err; the watcher connects again.
// A keeper that did not answer in time is killed: it may be stuck, and a
// new one is given every listener again.
func (c *Client) broken(err error) {
	if c.conn < 0 {
		return
	}
	if err == unix.EAGAIN && c.keeper != nil && c.keeper.pid != os.Getpid() {
		c.opt.Log.WithField("pid", c.keeper.pid).
			Warn("the listener keeper did not answer in time; killing it")
		unix.PidfdSendSignal(c.keeper.pidfd, unix.SIGKILL, nil, 0)
	}
	unix.Shutdown(c.conn, unix.SHUT_RDWR)
}
