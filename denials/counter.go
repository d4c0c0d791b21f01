package denials

import (
	"sync"
	"sync/atomic"
	"time"
)

// counts are one group's.
type counts struct {
	mu sync.Mutex // serializes Note, Restore and the making of counters
	// by is the group's counters by packed key. A map once stored is
	// never changed: a new counter goes into a copy, so readers take no
	// lock.
	by    atomic.Pointer[map[uint64]*Counter]
	dirty atomic.Bool // changed since the last Flush
}

// Counter is one syscall's count in one group, and its log state. See
// [Book.Quiet].
type Counter struct {
	c *counts
	k Key
	n atomic.Uint64
	// The log state, guarded by c.mu. The denials left out since the
	// last line are n less nLogged.
	loggedAt time.Time
	logged   bool
	nLogged  uint64 // n with the last line, or with none

	// quiet is set while a line of this syscall in this group went out
	// less than LogEvery ago, on the real clock, and cleared by unquiet
	// once that is over (by a timer, so a little late): [Book.Quiet] then
	// needs no clock. Cleared early is harmless: Quiet reads the clock.
	quiet   atomic.Bool
	unquiet *time.Timer
}

// packed is k as counts.by keys it. A number beyond 32 bits is never
// counted (parseKey refuses it).
func (k Key) packed() uint64 {
	return uint64(k.Kind)<<32 | uint64(uint32(k.Nr))
}

func (b *Book) group(g string) *counts {
	if v, ok := b.groups.Load(g); ok {
		return v.(*counts)
	}
	c := &counts{}
	c.by.Store(&map[uint64]*Counter{})
	v, _ := b.groups.LoadOrStore(g, c)
	return v.(*counts)
}

// counter returns k's counter in c, made if need be; c.mu is held.
func (c *counts) counter(k Key) *Counter {
	by := *c.by.Load()
	if e := by[k.packed()]; e != nil {
		return e
	}
	e := &Counter{c: c, k: k}
	next := make(map[uint64]*Counter, len(by)+1)
	for p, o := range by {
		next[p] = o
	}
	next[k.packed()] = e
	c.by.Store(&next)
	return e
}

// Note counts one denied call of k by a member of group g. It tells
// whether the call is to be logged, and how many earlier denials of k in
// g went unlogged since the last line.
func (b *Book) Note(g string, k Key) (log bool, suppressed uint64) {
	return b.LogCounted(b.Count(g, k))
}

// Count counts one denied call of k by a member of group g and returns
// its counter. The daemon counts a call before its answer goes out, so
// that a caller that got its ENOSYS finds it in syscalls.stat; should the
// answer not reach the caller, [Counter.Uncount] takes it back.
func (b *Book) Count(g string, k Key) *Counter {
	c := b.group(g)
	c.mu.Lock()
	e := c.counter(k)
	c.mu.Unlock()
	e.Unlogged()
	return e
}

// Uncount takes back one denial counted in e whose answer did not reach
// the caller: it died, or a signal interrupted the call, which the kernel
// notifies again when the call restarts.
func (e *Counter) Uncount() {
	e.n.Add(^uint64(0))
	e.c.dirty.Store(true)
}

// LogCounted tells whether a denial just counted in e (by Count) is to be
// logged, and how many earlier denials of its syscall in its group went
// unlogged since the last line.
func (b *Book) LogCounted(e *Counter) (log bool, suppressed uint64) {
	c := e.c
	now := b.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.logged && now.Sub(e.loggedAt) < LogEvery || !b.take(now) {
		return false, 0
	}
	n := e.n.Load()
	if n > e.nLogged {
		suppressed = n - 1 - e.nLogged
	}
	e.nLogged = n
	e.logged, e.loggedAt = true, now
	e.quiet.Store(true)
	if e.unquiet == nil {
		e.unquiet = time.AfterFunc(LogEvery, func() { e.quiet.Store(false) })
	} else {
		e.unquiet.Reset(LogEvery)
	}
	return true, suppressed
}

// Due tells whether a denial of k in group g noted now would be logged
// as far as k's own limit goes (the shared budget aside): the caller then
// gathers what the line needs while the caller's process still exists.
func (b *Book) Due(g string, k Key) bool {
	v, ok := b.groups.Load(g)
	if !ok {
		return true
	}
	c := v.(*counts)
	now := b.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := (*c.by.Load())[k.packed()]
	return e == nil || !e.logged || now.Sub(e.loggedAt) >= LogEvery
}

// Quiet judges a denial of k by a member of group g, made now, before it
// is counted: when it would not be logged (k's last line in g went out
// less than LogEvery ago, or the shared budget has no line left), Quiet
// returns the counter to count it in with [Counter.Unlogged] once the
// call was answered. Neither takes a lock, reads a clock or allocates
// while a line of k in g went out less than LogEvery ago. Quiet returns
// nil when the call may be due for a line: the caller then gathers what
// the line needs and counts the call with Note.
//
// A denial counted in a counter returned before a Forget of g is lost
// with g's counts, as one noted just before it would be.
func (b *Book) Quiet(g string, k Key) *Counter {
	v, ok := b.groups.Load(g)
	if !ok {
		return nil
	}
	c := v.(*counts)
	e := (*c.by.Load())[k.packed()]
	if e == nil {
		return nil
	}
	if e.quiet.Load() {
		return e
	}
	now := b.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.logged && now.Sub(e.loggedAt) < LogEvery || !b.left(now) {
		return e
	}
	return nil
}

// Unlogged counts one denial that [Book.Quiet] judged not to be logged:
// the next line of its syscall in its group reports it as left out.
func (e *Counter) Unlogged() {
	e.n.Add(1)
	if !e.c.dirty.Load() {
		e.c.dirty.Store(true)
	}
}
