// Package hold keeps running processes to the deny set of the group they are
// in now, as the 2011 RFC's kernel check did on every call.
//
// A process is held by a seccomp layer that the daemon injects (package
// inject) and whose listener the daemon owns (package supervise). A layer
// notifies only numbers that may be denied to the process: those its
// group denies, and those another group of the tree denies that are not
// frequent calls (read, write, futex, clone, execve, ...), and the calls
// the guard looks at (guard.go), but for tgkill and tkill with SIGURG and
// prlimit64 of the caller itself where the process's group allows them;
// every other call runs in the kernel at full speed. Each notified call
// is judged from the caller's cgroup at that moment (read from
// /proc/TID/cgroup) and the policy tree, so an allow, a move or a deny of
// a covered number reaches a held process with no further work. Three
// cases need a new layer:
//
//   - a process not held yet (moved into a restricted group, found there by
//     the scan, or met again after a daemon restart, whose old listener is
//     gone): it gets its first layer, covering also whatever its filter
//     chain already notifies (read from the kernel);
//   - a number that a held process's layer does not cover (or lets run
//     for one argument value), denied to it (or to the group it is moved to, or
//     behind the mount's back, found by the scan): the layer grows.
//     Every process carrying it (the process and children forked since)
//     is stopped, the old listener is closed, and each gets a new layer
//     notifying a superset, generously: every deniable number but the
//     frequent ones, plus what is needed;
//   - seccomp(2) denied: it cannot be notified (a later layer's own
//     seccomp call would then fail), so a fixed layer answers ENOSYS in
//     the kernel, after which no layer can go in: it comes with a
//     generous notifying layer, and that denial cannot be lifted from the
//     running process again.
//
// When the daemon dies, the listener keeper (package enforce/keeper, see
// ConnectKeeper), which has a copy of every listener, answers every
// notified call with ENOSYS: held processes fail closed, calls the layer
// allows outright keep working, and a held process cannot load a listener
// of its own (EBUSY). The next daemon takes the listeners back. Without a
// keeper the listeners close and the kernel answers ENOSYS.
package hold

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/denials"
	"github.com/cgsyscall/cgsyscall/enforce"
	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
	"github.com/cgsyscall/cgsyscall/procfs"
)

// ScanInterval is how often the holder looks for members that entered a
// restricted group behind the mount's back (straight through the real
// cgroup files) and holds them.
const ScanInterval = time.Second

// Holder implements fs.Enforcer with live holds.
type Holder struct {
	a      *arch.Arch
	tree   *policy.Tree
	mirror string // the real cgroup directory mirrored
	// real is where the hold reads and writes the mirror's real groups: a
	// private copy of the mirror's mount that no other mount covers
	// (openReal), or the mirror itself where none could be made.
	real   string
	realFd int        // the copy's descriptor, -1 without one
	mp     mountPoint // the group under the mount point, if it is one
	where  where      // the mirror as /proc/PID/cgroup names it
	log    *logrus.Logger
	// writer is the thread whose move is being served (Move, with mu
	// held), 0 otherwise: grow takes its process as the member that cannot
	// stop.
	writer int
	sup    *supervise.Supervisor
	keep   keeping  // the listener keeper; see ConnectKeeper
	cov    *covers  // what layers notify
	key    layerKey // tags layer programs (mark), kept in the placement log

	trustRoot bool // root callers are never confined (the trust_root option)

	mu sync.Mutex // serializes holds
	// v2 is the cgroup2 mount that frozen reads (v2ok: there is one).
	v2once sync.Once
	v2     where
	v2ok   bool
	// frozenSeen is the frozen processes that a scan left and logged
	// (noteFrozen); guarded by mu.
	frozenSeen map[placement]bool
	pmu        sync.RWMutex  // guards procs
	procs      map[int]*proc // processes known to be held, by TGID

	places   *placements            // where held processes were placed, across restarts
	restored map[placement]placedAt // the previous daemon's placements, for the first Scan
	restore  sync.Once

	tids    *tidCache // TID -> group, for Decide
	cgfiles sync.Map  // TID -> *os.File of /proc/TID/cgroup
	anchors sync.Map  // TID -> *proc of its process, for Decide
	holders sync.Map  // label passed to the supervisor with a listener -> its holder's *proc
	// nextKey gives out the labels above every PID (layer.key).
	nextKey atomic.Int64
	// shape is the tree's Shape when the cache of threads' groups was
	// last renewed for it (currentGroup).
	shape atomic.Uint64
	// reapers holds the processes that may receive orphans as child
	// subreapers (placement -> true): found so by their load, not known
	// there, or seen making prctl(PR_SET_CHILD_SUBREAPER) (Decide); kept
	// in the placement log ("^"). See maybeReaped.
	reapers sync.Map

	judgedSets sync.Map                  // policy.Set -> []int, Decide's lists
	lastJudged atomic.Pointer[judgedSet] // the last one used, looked at first
	uring      policy.Set                // io_uring_setup, io_uring_enter, io_uring_register
	book       *denials.Book
	guard      *guard
	guardLog   *denials.Book // the guard's log limit, apart from the counts
	stop       chan struct{}
	stopped    sync.WaitGroup

	omu     sync.Mutex
	orphDir map[string]orphanList // cgroup directory -> its orphan candidates

	refusals refused     // processes their own filters refused
	closed   closedLines // lines whose every layer is gone (closed.go)

	moveLines lineBudget // bounds noteWhere's lines
	// moving is the process a Move is placing, 0 when none: between its
	// hold and its write of cgroup.procs its calls find it where it was,
	// which is no move behind the mount's back (noteWhere).
	moving atomic.Int64
}

// lineBudget lets through at most movesPerSecond lines a second, and
// counts the lines it held back since the last one let through.
type lineBudget struct {
	mu     sync.Mutex
	second int64
	n      int
	held   uint64
}

// movesPerSecond bounds the lines of moves behind the mount's back: a
// process that moves itself to and fro makes one a move it is seen in.
const movesPerSecond = 10

// take tells whether a line may go out in second now (Unix time), and how
// many were held back before it.
func (b *lineBudget) take(now int64) (bool, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now != b.second {
		b.second, b.n = now, 0
	}
	if b.n >= movesPerSecond {
		b.held++
		return false, 0
	}
	b.n++
	held := b.held
	b.held = 0
	return true, held
}

// proc is what the holder knows of one held process.
type proc struct {
	start uint64 // start time (/proc/PID/stat), against PID reuse
	// lay is the layer whose listener decides its calls: its own, or
	// that of the held ancestor it was forked from.
	lay atomic.Pointer[layer]
	// anchor is the group the process was last placed in through the
	// mount (or found in when held). While its cgroup lies in the
	// anchor's subtree it is judged by that cgroup; once outside (moved
	// behind the mount's back, through the real cgroup files or
	// clone3(CLONE_INTO_CGROUP)), it is judged by the anchor, so a
	// confined process cannot widen its restrictions that way.
	anchor atomic.Pointer[string]
	// pinned is the anchor's deny set when the process was placed there:
	// removing or remaking that group behind the mount's back does not
	// lift it.
	pinned atomic.Pointer[policy.Set]
	// wider, when not nil, judges it wherever it is: the sets of the
	// groups where the processes known to carry its layer were anchored
	// when it was first met with no held ancestor of that layer (an
	// orphan, or a child made with CLONE_PARENT), any of which it may have
	// been born in (helper-40). A snapshot, to which widerOf adds what
	// those groups deny now: an allow there later does not reach it.
	wider atomic.Pointer[policy.Set]
	// anchorID is the identity of its anchor when it was placed there
	// (Holder.identityOf: the group's and its ancestors'; 0 where it had
	// none): a group of that path with another is not the one it was
	// placed in, but one removed and made again, or one below such a
	// group (anchorRemade), also while no daemon ran.
	// anchorStale is set once that was found, anchorShape the tree's
	// Shape when it was last found not so: while the tree keeps its
	// groups, it still is not.
	anchorID, anchorShape atomic.Uint64
	anchorStale           atomic.Bool
	// seen is where it was placed through the mount or a decided call
	// last found it (noteWhere); nil until then.
	seen atomic.Pointer[spot]
	// placedNs is when it was last placed in another group (CLOCK_BOOTTIME
	// nanoseconds), and placedPid the last task ID the kernel had given
	// out then: a child that started before was born where it was
	// anchored then (bornBefore).
	placedNs, placedPid atomic.Int64
	// inferred: recorded by anchorOf from its ancestors, not placed nor
	// read from its chain: as a writer it may have been made with
	// CLONE_PARENT by another carrier of its layer (confinement).
	inferred atomic.Bool
	// logged is the placement this daemon last wrote to the placement
	// log for it, nil before the first.
	logged atomic.Pointer[placedAt]
	// adopted is set while lay was found from its chain by orphanLayer
	// rather than seen go in: the growth of
	// another layer that the chain may carry looks at it too (orphans).
	adopted atomic.Bool
}

func newProc(start uint64, lay *layer, anchor string) *proc {
	p := &proc{start: start}
	p.lay.Store(lay)
	p.anchor.Store(&anchor)
	p.pinned.Store(&policy.Set{})
	return p
}

// heldAt is when the process's layer went in, or its start if it was born
// with it: children started later carry that layer.
func (p *proc) heldAt() int64 {
	at := startNanos(p.start)
	if lay := p.lay.Load(); lay != nil {
		at = max(at, lay.at.Load())
	}
	return at
}

// place records p's anchor, the group that is there now, also in the
// placement log.
func (h *Holder) place(pid int, p *proc, group string) {
	h.placeAt(pid, p, group, policy.Set{}, 0)
}

// placeAt is placePinned for a process placed in group, where it is now:
// the group noteWhere last found it in.
func (h *Holder) placeAt(pid int, p *proc, group string, more policy.Set, id uint64) {
	h.placePinned(pid, p, group, more, id)
	p.seen.Store(&spot{group, true})
}

// placePinned is place with more numbers pinned and the identity id of
// the group it was placed in (0: the group there now): those a previous
// daemon logged, or a held ancestor had, or the process itself had where
// it is logged again.
func (h *Holder) placePinned(pid int, p *proc, group string, more policy.Set, id uint64) {
	if old := p.anchor.Load(); old == nil || *old != group {
		p.placedNs.Store(bootNanos())
		p.placedPid.Store(int64(procfs.LastPid()))
	}
	p.anchor.Store(&group)
	h.identify(p, group, id)
	pin := h.deniedSet(group).Union(more)
	p.pinned.Store(&pin)
	spot := "" // the layer's tag, where group is a new place of it
	if lay := p.lay.Load(); lay != nil && lay.addPlace(group, pin) {
		spot = progTag(lay.prog)
	}
	w := placedAt{group: group, pin: pin, tag: ownTag(pid, p), inferred: p.inferred.Load(),
		widened: p.wider.Load() != nil, movedNs: p.placedNs.Load(),
		movedPid: p.placedPid.Load(), reaper: h.isReaper(pid, p.start),
		anchorID: p.anchorID.Load()}
	if w.tag != "" {
		w.went = wentOf(p.lay.Load())
	}
	if last := p.logged.Load(); last != nil && *last == w {
		// The log has it: a new hold places the process before Move
		// does.
		if spot != "" {
			if err := h.places.recordSpot(spot, group, pin); err != nil {
				h.log.WithError(err).Warn("placement log")
			}
		}
		return
	}
	if err := h.places.recordSpotted(pid, p.start, w, spot); err != nil {
		h.log.WithError(err).Warn("placement log")
		return
	}
	p.logged.Store(&w)
}

// ownTag is the tag of p's layer where process pid is its holder, else "".
func ownTag(pid int, p *proc) string {
	if lay := p.lay.Load(); lay != nil && lay.holder == pid {
		return progTag(lay.prog)
	}
	return ""
}

// wentOf is when lay went in, and the first layer of its line, for the log.
func wentOf(lay *layer) wentAt {
	return wentAt{lay.at.Load(), lay.firstAt}
}

// relogTag writes p's placement again once its layer changed (a growth
// gave it one of its own), so that the log has the new layer's tag.
func (h *Holder) relogTag(pid int, p *proc) {
	last := p.logged.Load()
	tag, went := ownTag(pid, p), wentAt{}
	if tag != "" {
		went = wentOf(p.lay.Load())
	}
	if last == nil || last.tag == tag && last.went == went {
		return
	}
	w := *last
	w.tag, w.went = tag, went
	if err := h.places.record(pid, p.start, w); err != nil {
		h.log.WithError(err).Warn("placement log")
		return
	}
	p.logged.Store(&w)
}

var _ fs.Enforcer = (*Holder)(nil)

// New makes a Holder for the cgroup directory mirror and starts its
// supervisor. Call Scan once to hold the members already there, and Run
// for the periodic scan.
// trustRoot gives root callers the RFC's and cgroupfs's trust: root may
// move any process anywhere and allow anything.
func New(a *arch.Arch, tree *policy.Tree, mirror string, trustRoot bool,
	log *logrus.Logger) (*Holder, error) {
	w, err := locate(mirror)
	if err != nil {
		return nil, err
	}
	// A stop that may wait on a write to the mount has the writes that
	// wait for their turn answered (fs.LockOr).
	inject.SetStopHooks(fs.Stopping, fs.SlowStop)
	h := &Holder{a: a, tree: tree, mirror: mirror, where: w, log: log,
		trustRoot: trustRoot, procs: map[int]*proc{}, stop: make(chan struct{})}
	h.nextKey.Store(1 << 30) // above PID_MAX_LIMIT (1<<22)
	h.openReal()
	if h.cov, err = newCovers(a); err != nil {
		return nil, err
	}
	h.book = denials.New(a)
	h.guard = newGuard(a)
	h.guardLog = denials.New(a)
	h.uring = policy.Uring(a)
	h.refreshUnion()
	if h.places, h.restored, h.key, err = openPlacements(mirror); err != nil {
		return nil, err
	}
	// The marks of processes that may receive orphans, at once: an orphan
	// met before the first scan restores their records is judged by them.
	for pl, at := range h.restored {
		if at.reaper {
			h.reapers.Store(pl, true)
		}
	}
	// Its layers, and those of the other daemons of the machine, are not
	// the process's own: the check before a hold leaves them out.
	key := h.key
	inject.AddOwnFilter(func(prog []unix.SockFilter) bool { return anyDaemons(key, prog) })
	if h.tids, err = newTIDCache(h.threadExited); err != nil {
		h.places.close()
		return nil, err
	}
	if h.sup, err = supervise.New(h.Decide); err != nil {
		h.tids.close()
		h.places.close()
		return nil, fmt.Errorf("seccomp user notification: %w", err)
	}
	h.sup.OnDenied(h.answeredDenial)
	return h, nil
}

// Close stops the scan and the supervisor. The listeners close, so held
// processes fail closed until a new daemon holds them again.
func (h *Holder) Close() error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	h.stopped.Wait()
	err := h.sup.Close()
	h.keep.c.Close() // after the supervisor: the keeper answers from now on
	h.tids.close()
	h.places.close()
	h.closeMountPoint()
	if h.realFd >= 0 {
		unix.Close(h.realFd)
	}
	return err
}

// openReal makes h.real a private copy of the mirror's mount
// (fs.OpenPrivate): a path of a group there never crosses into a mount on
// one of the mirror's groups, this daemon's own or another's (helper-60: a
// group of the mirror covered by another mirror's mount was read through
// it, and that mirror's member held for good by this one's deny). Where
// none can be made, paths go through the mirror itself.
func (h *Holder) openReal() {
	h.real, h.realFd = h.mirror, -1
	fd, err := fs.OpenPrivate(h.mirror)
	if err != nil {
		return // the mirror's own paths; New fails on them if they are wrong
	}
	h.real, h.realFd = "/proc/self/fd/"+strconv.Itoa(fd), fd
}

// dirOf is the real directory of group, in h.real.
func (h *Holder) dirOf(group string) string {
	return filepath.Join(h.real, filepath.FromSlash(group))
}

// Decide judges one notified call by the deny set of the caller's group
// now.
func (h *Holder) Decide(n *supervise.Notif) bool {
	group, inside, err := h.currentGroup(n.Pid)
	if err != nil {
		return false // the caller is gone, or /proc is unreadable: fail closed
	}
	if h.guard.aimed(denials.KeyOf(h.a, n.Arch, n.Nr, n.Args), *n, h.protected) {
		h.refuseAimed(*n, group, inside)
		return false
	}
	var deny policy.Set
	if inside {
		deny = h.deniedSet(group)
	}
	own, anchor := deny, ""
	e := h.anchorOf(n.Pid, n.Holder)
	p := e.p
	if p != nil {
		h.noteWhere(e, p, n.Pid, spot{group, inside})
		deny = deny.Union(h.widerOf(p))
		if a := *p.anchor.Load(); !inside || !within(group, a) || h.anchorRemade(p, a) {
			// Outside the subtree it was placed in, behind the mount's
			// back: whatever its group, its anchor's set and the set
			// pinned when it was placed there deny too.
			anchor = a
			deny = deny.Union(h.deniedSet(anchor)).Union(*p.pinned.Load())
		}
	} else if !inside {
		if h.subreaperCall(n) {
			h.markReaper(n.Pid, nil)
		}
		return true // out of the mirrored hierarchy, and never placed: unrestricted
	}
	if !enforce.Judge(h.a, h.judged(deny), n.Arch, n.Nr, n.Args) {
		if h.subreaperCall(n) {
			// Before it runs: an orphan given to it from then on finds
			// it marked.
			h.markReaper(n.Pid, p)
		}
		return true
	}
	// Counted now, before the answer: in the group it is in, if that
	// group denies the call, else in the group it was placed in, whose
	// set denied it.
	if anchor != "" && (!inside || !enforce.Judge(h.a, h.judged(own), n.Arch, n.Nr, n.Args)) {
		group = anchor
	}
	n.Note = h.denial(n, group)
	return false
}

// judged returns the sorted numbers Judge takes for deny, cached by value.
// A set that denies anything also denies the io_uring calls: a ring
// performs opens, socket calls and more without those syscalls.
func (h *Holder) judged(deny policy.Set) []int {
	if e := h.lastJudged.Load(); e != nil && e.set == deny {
		return e.nums
	}
	if v, ok := h.judgedSets.Load(deny); ok {
		nums := v.([]int)
		h.lastJudged.Store(&judgedSet{deny, nums})
		return nums
	}
	s := deny
	if !s.Empty() {
		s = s.Union(h.uring)
	}
	nums := s.Numbers()
	h.judgedSets.Store(deny, nums)
	return nums
}

// judgedSet is one entry of judgedSets.
type judgedSet struct {
	set  policy.Set
	nums []int
}

// deniedSet is group's deny set. A group the tree does not know yet but
// that exists (made outside the mount) is added with a copy of its
// parent's set; one that is gone denies nothing of its own.
func (h *Holder) deniedSet(group string) policy.Set {
	set, ok := h.tree.Denied(group)
	if !ok {
		path, done, err := shortDir(h.dirOf(group))
		if err == nil {
			_, err = os.Stat(path)
			done()
		}
		if err != nil {
			return policy.Set{}
		}
		h.tree.Ensure(group)
		set, _ = h.tree.Denied(group)
	}
	return set
}

// within tells whether group lies in the subtree of anchor.
func within(group, anchor string) bool {
	return anchor == "" || group == anchor || strings.HasPrefix(group, anchor+"/")
}

// anchorOf returns the process record of thread tid, found once per
// thread: its process's own, or for a process forked from a held one, a
// new record that takes the nearest held ancestor's anchor.
//
// holder is the PID the notification's listener was taken from: the
// process carries that one's layer, which is the layer recorded for it,
// rather than its nearest held ancestor's; where that ancestor carries
// another layer, or none is known (the parent died and the process was
// reparented), it takes the holder's anchor too.
func (h *Holder) anchorOf(tid, holder int) *anchorEntry {
	if v, ok := h.anchors.Load(tid); ok {
		e := v.(*anchorEntry)
		if h.threadIs(tid, e) && (e.p != nil || time.Since(e.at) < ScanInterval) {
			return e
		}
	}
	// The thread is watched before anything of it is read: an entry is
	// good only while that watch stands for the thread (tidCache.ref), so
	// a thread that later takes its TID never finds it (helper-59: a
	// record stored after its thread's exit was seen went to a thread of
	// another process with that TID a PID wrap later, and judged it by
	// that one's anchor). Where threads cannot be watched (before Linux
	// 6.9), a thread other than the main one stands by its process's
	// watch and its TID among the process's threads: a TID taken again
	// within the process is the same process, with the same record.
	e := &anchorEntry{at: time.Now(), r: h.tids.ref(tid)}
	if tgid := tgidOf(tid); tgid != 0 {
		e.p = h.known(tgid)
		if e.p == nil {
			line := h.heldAncestor(tgid) // the held process of its parent line
			anc := line
			var lay *layer
			if v, ok := h.holders.Load(holder); ok {
				hp := v.(*proc)
				lay = hp.lay.Load()
				if anc == nil || anc.lay.Load() != lay {
					// Its parent's line does not carry this layer (a child
					// made with CLONE_PARENT by the holder, or given to
					// another as an orphan): it was born where the holder
					// was placed (helper-34: anchored at its parent's
					// group, it was denied that group's calls too), or
					// where another process carrying the layer was
					// (widerFor).
					anc = hp
				}
			}
			if anc != nil && lay == nil {
				lay = anc.lay.Load()
			}
			start, err := startTime(tgid)
			switch {
			case err != nil:
			case anc != nil:
				e.p = newProc(start, lay, *anc.anchor.Load())
				e.p.inferred.Store(true)
				// Before it is placed, so that its line says it is judged
				// so ("~~"): after a restart it is again (helper-44: set
				// after the line, it was lost with the daemon).
				if wider := h.widerFor(tgid, start, lay, line); !wider.Empty() {
					e.p.wider.Store(&wider)
				}
				h.setProc(tgid, e.p)
				// Anchored where its ancestor is, to the group that one was
				// placed in: made again since, it is not this one's either.
				h.placePinned(tgid, e.p, *anc.anchor.Load(), *anc.pinned.Load(),
					anc.anchorID.Load())
			case holder < 0:
				// A listener taken back whose holder exited: judged where
				// the last daemon placed it, or its holder (keeping), with
				// no record, as no layer of this daemon is known to it.
				v, ok := h.keep.placedAt.Load(placement{tgid, start})
				if !ok {
					v, ok = h.keep.placedAt.Load(holder)
				}
				if ok {
					at := v.(placedAt)
					e.p = newProc(start, nil, at.group)
					e.p.pinned.Store(&at.pin)
					h.identify(e.p, at.group, at.anchorID)
				}
			}
		}
	}
	if e.r.w != nil {
		h.anchors.Store(tid, e) // else found again at each call
	}
	return e
}

// anchorEntry caches anchorOf for one thread, while r, what stood for the
// thread it was found for, still does (tidCache.live); a miss is looked
// up again after ScanInterval. seen is where Decide last found the thread.
type anchorEntry struct {
	p    *proc
	at   time.Time
	r    ref
	seen atomic.Pointer[spot]
}

// threadIs tells whether e was made for the thread that has TID tid now:
// that thread lives, so no other thread has its TID.
func (h *Holder) threadIs(tid int, e *anchorEntry) bool {
	return e.r.w != nil && h.tids.live(tid, e.r)
}

// spot is a group of the mirror, or outside it (inside false).
type spot struct {
	group  string
	inside bool
}

func (s spot) String() string {
	if !s.inside {
		return "(outside the mirror)"
	}
	return "/" + s.group
}

// noteWhere logs a held process that a decided call of thread tid (entry
// e, record p) finds in another group than the one the daemon last placed
// or found it in: it moved behind the mount's back, which no write to the
// mount logged (helper-53). One line a move: the thread's own last group
// says whether it moved (threads of a threaded subtree sit in different
// groups), the process's whether that was logged already.
func (h *Holder) noteWhere(e *anchorEntry, p *proc, tid int, now spot) {
	if last := e.seen.Load(); last != nil && *last == now {
		return
	}
	if m := h.moving.Load(); m != 0 && int(m) == tgidOf(tid) {
		// Its move through the mount is under way (helper-59: a busy
		// process's calls between its hold and its write of cgroup.procs
		// logged such a move at each move through the mount).
		return
	}
	e.seen.Store(&now)
	was := p.seen.Swap(&now)
	if was == nil || *was == now {
		return
	}
	ok, held := h.moveLines.take(time.Now().Unix())
	if !ok {
		return
	}
	f := logrus.Fields{"pid": tgidOf(tid), "task": tid, "comm": procfs.CommOf(tid),
		"group": now.String(), "was": was.String(), "placed": "/" + *p.anchor.Load()}
	if held > 0 {
		f["suppressed"] = held // such lines left out before this one
	}
	h.log.WithFields(f).Info("a held process moved behind the mount's back")
}

// confinement returns the group that confines the process of thread tid,
// and whether it is confined at all: its anchor when it is held, else its
// cgroup when that group denies anything. For a thread with filters whose
// process the daemon does not know and that has no held ancestor, it
// also returns the anchors of the layers that process may carry (mayCarry).
func (h *Holder) confinement(tid int) (string, bool, []string) {
	var maybe []string
	if tgid := tgidOf(tid); tgid != 0 {
		// A process not known is judged by its nearest held ancestor's
		// anchor, but not recorded as carrying that one's layer: descent
		// says nothing of that, and a writer so recorded was taken as
		// held by its own move (planNew). A thread without a filter
		// carries no layer (it was forked before any ancestor's hold, or
		// from none): its cgroup says, as for any other process, and
		// the walk up its ancestors, a read of /proc for each (a tenth
		// of a hold's time for a writer a few shells deep), is spared.
		p := h.known(tgid)
		if filters := seccompFilters(tid); p == nil && filters > 0 {
			if p = h.heldAncestor(tgid); p == nil {
				maybe = h.mayCarry(tgid, filters)
			} else {
				// Its ancestor's layer, which it carries as a child, or
				// as one made with CLONE_PARENT by another carrier of it,
				// placed elsewhere (helper-40): that one's group too.
				maybe = h.placesOf(p.lay.Load())
				if h.reapedPath(tgid) {
					// Given to a held subreaper (or a pid namespace's
					// init) as an orphan, it may carry any layer that an
					// orphan may (helper-73 F2: an orphan of another
					// family, under a held subreaper, allowed a call in
					// the group it was born in).
					maybe = append(maybe, h.mayCarry(tgid, filters)...)
				}
			}
		}
		if p != nil && maybe == nil && p.inferred.Load() {
			// Recorded from its ancestors when its first call came: as
			// above, another carrier's CLONE_PARENT child looks the same.
			lay := p.lay.Load()
			maybe = h.placesOf(lay)
			if lay.settling() {
				// Recorded by its own move, which it made with filters:
				// what it carries is known once its chain is read after
				// that write (carried). Until then it is a writer that
				// may carry any layer that fits (helper-66 F1: another
				// of its threads allowed a call in S meanwhile).
				if filters := seccompFilters(tid); filters > 0 {
					maybe = append(maybe, h.mayCarry(tgid, filters)...)
				}
			}
		}
		if p != nil {
			return *p.anchor.Load(), true, maybe
		}
	}
	group, inside, err := h.groupOf(tid)
	if err != nil || !inside {
		return "", false, maybe
	}
	deny, _ := h.tree.Denied(group)
	return group, !deny.Empty(), maybe
}

// mayCarry returns where the holders of the open layers are anchored that
// process pid, with filters of its own (filters, as counted), may carry
// without the daemon knowing: a child made with CLONE_PARENT by a held
// process, or one left to init or a subreaper when its held parent
// exited, has no held ancestor, and its chain cannot be read while it
// writes to the mount (it cannot stop before its write is answered).
// Such a process, moved out of its group behind the mount's back, passed
// for one that nothing confines, and widened its holder's group or moved
// held processes out of it (helper-38, F1). A layer it may carry went in
// before it started, and is no deeper than its chain; the anchors of the
// others are left out. A process with filters of its own that started
// after a hold is among those this cannot tell apart (README).
func (h *Holder) mayCarry(pid, filters int) []string {
	start, err := startTime(pid)
	if err != nil {
		return nil
	}
	born := startNanos(start) + tickNanos
	seen := map[string]bool{}
	var out []string
	add := func(group string) {
		if !seen[group] {
			seen[group] = true
			out = append(out, group)
		}
	}
	fits := func(lay *layer) bool {
		if lay == nil || lay.closed.Load() {
			return false
		}
		// A grown layer stands for the closed layers of its line too,
		// whose places it keeps: the first went in earliest, shallowest.
		d, at := lay.depth, lay.at.Load()
		if lay.firstDepth != 0 {
			// 0 for a line taken back after a restart: then its holder's
			// start says, below.
			d, at = lay.firstDepth, lay.firstAt
		}
		if d < maxDepth && d > filters {
			return false
		}
		if at != 0 {
			return born >= at
		}
		return start >= lay.start // its holder's start
	}
	// Every group where a process known to carry such a layer was
	// anchored, its holder or not (layer.places): one placed away from its
	// holder forks where it is placed, and its orphans stay after it exits
	// (helper-40: an orphan of such a process was taken to be in its
	// holder's group).
	layers := h.knownLayers()
	h.keep.takenBack.Range(func(k, v any) bool {
		at, placed := h.keep.placedAt.Load(k)
		if !placed {
			return true
		}
		o := v.(*orphanListener)
		o.mu.Lock()
		lay := o.lay
		o.mu.Unlock()
		if lay == nil {
			// Not found in a chain yet: where its holder was placed, and
			// the places the log kept for its tag.
			lay = &layer{depth: 1, start: o.start}
			lay.addPlaces(h.places.spotsOf(o.tag))
			// When it, or the first layer of its line, went in, where
			// the log says: not how deep (1 stands for any depth). A
			// grown layer whose line's first time the log lacks (an
			// older daemon's) counts from its holder's start (helper-71
			// F1: from when it grew, and an older orphan of its line
			// allowed a call in its birth group).
			lay.at.Store(o.went.at)
			if h.places.grown(o.tag) {
				lay.firstAt, lay.firstDepth = o.went.first, 1
			}
		}
		if fits(lay) {
			add(at.(placedAt).group)
		}
		layers[lay] = true
		return true
	})
	// Lines whose every layer is gone, while a process may carry one
	// (closed.go): their places are those of their last layer's tag.
	for tag, c := range h.places.closedLines() {
		if h.mayCarryClosed(tag, c, pid, start, filters) {
			for g := range h.places.spotsOf(tag) {
				add(g)
			}
		}
	}
	for lay := range layers {
		if fits(lay) {
			for _, g := range h.placesOf(lay) {
				add(g)
			}
		}
	}
	return out
}

// knownLayers returns the layers of the known processes and of the
// holders' records, closed ones too (not those taken back from the keeper
// whose holders exited: keeping.takenBack).
func (h *Holder) knownLayers() map[*layer]bool {
	layers := map[*layer]bool{}
	add := func(p *proc) {
		if lay := p.lay.Load(); lay != nil {
			layers[lay] = true
		}
	}
	for _, p := range h.snapshot() {
		add(p)
	}
	h.holders.Range(func(_, v any) bool {
		add(v.(*proc))
		return true
	})
	return layers
}

// restoreFlags gives p, process pid restored from the placement log, what
// at kept of how it was judged: inferred from its ancestors, judged by
// wider (taken again from its layer's places), when it was last placed in
// another group, and whether it may receive orphans. Called once p is
// placed where at says.
func (h *Holder) restoreFlags(pid int, p *proc, at placedAt) {
	if at.reaper {
		h.reapers.Store(placement{pid, p.start}, true)
	}
	if at.inferred {
		p.inferred.Store(true)
	}
	if at.widened {
		if w := h.placedSets(p.lay.Load()); !w.Empty() {
			p.wider.Store(&w)
		}
	}
	if at.movedNs != 0 {
		p.placedNs.Store(at.movedNs)
		p.placedPid.Store(at.movedPid)
	}
}

// widerFor returns what judges process pid (started at start), which
// carries layer lay, wherever it goes, line being the nearest known process
// of its parent line (nil for none): nothing where line carries lay, was
// placed where it is before pid started, which pid was born under, and is
// judged so itself, and no process on the way may have received pid or
// an ancestor as an orphan (maybeReaped); otherwise the sets of every
// group where lay's carriers were placed (placedSets), any of which it may
// have been born in: an orphan or a child made with CLONE_PARENT
// (helper-40), one older than its ancestor's last move (found reading
// helper-40's findings), a descendant of one judged so (helper-46). A
// snapshot.
func (h *Holder) widerFor(pid int, start uint64, lay *layer, line *proc) policy.Set {
	if line != nil && line.lay.Load() == lay && !bornBefore(pid, start, line) &&
		line.wider.Load() == nil && !h.maybeReaped(pid, lay) {
		return policy.Set{}
	}
	return h.placedSets(lay)
}

// subreaperCall tells whether n is prctl(PR_SET_CHILD_SUBREAPER) with a
// value that makes its caller a subreaper, of either ABI: every layer hands
// it over whatever the group allows (enforce.CompileLayer).
func (h *Holder) subreaperCall(n *supervise.Notif) bool {
	const setSubreaper = unix.PR_SET_CHILD_SUBREAPER
	switch {
	case uint32(n.Args[0]) != setSubreaper:
		return false
	case n.Arch == h.a.Native.AuditArch:
		nr, ok := h.a.Native.SyscallNumber("prctl")
		// The option is an int (its low word), the value an unsigned
		// long.
		return ok && n.Nr == nr && n.Args[1] != 0
	case h.a.Compat != nil && n.Arch == h.a.Compat.AuditArch:
		nr, ok := h.a.Compat.SyscallNumber("prctl")
		return ok && n.Nr == nr && uint32(n.Args[1]) != 0
	}
	return false
}

// markReaper records that the process of thread tid (record p, nil where
// it has none) makes itself a child subreaper, in Holder.reapers and in
// its line of the placement log.
func (h *Holder) markReaper(tid int, p *proc) {
	tgid := tgidOf(tid)
	if tgid == 0 {
		return
	}
	var start uint64
	if p != nil {
		start = p.start
	} else if st, err := startTime(tgid); err == nil {
		start = st
	} else {
		return
	}
	if _, had := h.reapers.LoadOrStore(placement{tgid, start}, true); had {
		return
	}
	h.log.WithFields(logrus.Fields{"pid": tgid, "comm": procfs.CommOf(tid)}).Info(
		"a held process made itself a child subreaper: an orphan given to it is judged by " +
			"every group where its layer was placed")
	if p != nil {
		h.placePinned(tgid, p, *p.anchor.Load(), *p.pinned.Load(), p.anchorID.Load())
	}
}

// anchorRemade tells whether p's anchor a is no longer the group it was
// placed in: removed and made again since (through the mount, or behind
// its back and then looked up; or while no daemon ran). A process that
// moved out behind the mount's back, had its group made again, and moved
// into the new one was taken for one inside its anchor and judged by the
// new group's set (helper-50: a confined root process made getppid, 3 of
// 3; and so after a restart, where the tree begins with the new group,
// and so did its children, which took its anchor as a new placement).
func (h *Holder) anchorRemade(p *proc, a string) bool {
	if p.anchorStale.Load() {
		return true
	}
	// Decide asks it for each call of a process inside its anchor: the
	// group's identity only once the tree made or removed a group since.
	shape := h.tree.Shape()
	if shape == p.anchorShape.Load() {
		return false
	}
	if h.identityOf(a) != p.anchorID.Load() {
		p.anchorStale.Store(true)
		return true
	}
	p.anchorShape.Store(shape)
	return false
}

// identify gives p, anchored at group, the identity id of the group it
// was placed in (0: the group there now), and tells whether the group
// there now is another (anchorRemade).
func (h *Holder) identify(p *proc, group string, id uint64) {
	shape := h.tree.Shape() // before the identity is read
	now := h.identityOf(group)
	if id == 0 {
		id = now
	}
	p.anchorID.Store(id)
	p.anchorStale.Store(id != now)
	p.anchorShape.Store(shape)
}

// identityOf is the identity of the group whose set the tree holds for
// group: the one the mount last saw there (policy.Tree.Identity), which a
// group made again since, and not seen yet, does not have; where the mount
// saw none, the real directory's now (groupID). A placement took the
// identity of the directory there after its move, and a group made again
// between the write's look and the move passed for the one whose set
// judged the process (helper-54, 9 of 22).
//
// It covers the group's ancestors too, whose sets its own derives from: a
// group placed in through an ancestor the mount had not seen made again
// kept its identity when the mount then saw the new ancestor and gave the
// group that one's set (helper-55, 4 of 4). So it is a hash of the
// identities of every level of the path below the mirror's root (which is
// never made again), 0 where a level is not there.
func (h *Holder) identityOf(group string) uint64 {
	sum := fnv.New64a()
	var b [8]byte
	for i := 0; i <= len(group); i++ {
		if i < len(group) && group[i] != '/' {
			continue
		}
		level := group[:i]
		id := h.tree.Identity(level)
		if id == 0 {
			id = h.groupID(level)
		}
		if id == 0 {
			return 0
		}
		binary.LittleEndian.PutUint64(b[:], id)
		sum.Write(b[:])
	}
	return sum.Sum64()
}

// groupID is the identity of the real cgroup of group: the inode number
// of its directory, which is the cgroup's ID and is not given to another
// group while the machine runs (kernfs makes it of a cyclic number and a
// generation); 0 where it is not there.
func (h *Holder) groupID(group string) uint64 {
	path, done, err := shortDir(h.dirOf(group))
	if err != nil {
		return 0
	}
	defer done()
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

// widerOf is what judges p wherever it is beyond its group and anchor,
// where it is judged by its layer's places (proc.wider): the sets those
// groups had when it was met, and what they deny now, so that a deny there
// reaches it as it reaches a sibling born there (helper-47: an orphan given
// to a subreaper kept making a call its birth group denied after it was
// met, 5 of 5). An allow there does not reach it: the snapshot and the
// places' pins keep what was denied.
func (h *Holder) widerOf(p *proc) policy.Set {
	w := p.wider.Load()
	if w == nil {
		return policy.Set{}
	}
	return w.Union(h.placedSets(p.lay.Load()))
}

// isReaper tells whether process pid, started at start, may receive
// orphans as a child subreaper (Holder.reapers).
func (h *Holder) isReaper(pid int, start uint64) bool {
	_, ok := h.reapers.Load(placement{pid, start})
	return ok
}

// maybeReaped tells whether process pid, which carries layer lay, or one
// of its ancestors up to the nearest known one, may have been given to its
// parent as an orphan, inside the family of lay, where that tells
// anything: lay's carriers were placed in more than one group. (An orphan
// that starts a child leaves that child under a parent that never was a
// reaper: helper-46, 20 of 20.)
// The kernel gives an orphan to the nearest child subreaper above its dead
// parent, or to its pid namespace's init, and keeps no trace of it; the
// parent line then skips the carrier the orphan was born under, which may
// have been placed in a stricter group (helper-44: 12 of 12 with a held
// subreaper, 3 of 3 with the init of a pid namespace made by a carrier).
// So a parent that may receive orphans makes it true: one known as a
// subreaper (isReaper), or a pid namespace's init (NSpid ends in 1).
func (h *Holder) maybeReaped(pid int, lay *layer) bool {
	if lay == nil || len(lay.placed()) < 2 {
		return false
	}
	return h.reapedPath(pid)
}

// reapedPath tells whether process pid, or one of its ancestors up to the
// nearest known one, may have been given to its parent as an orphan: a
// parent known as a subreaper, or a pid namespace's init, on the way
// (maybeReaped).
func (h *Holder) reapedPath(pid int) bool {
	for i := 0; i < 64; i++ {
		ppid, err := parentOf(pid)
		if err != nil || ppid <= 1 {
			return err != nil
		}
		pstart, err := startTime(ppid)
		if err != nil || h.isReaper(ppid, pstart) {
			return true
		}
		if init, err := procfs.NamespaceInit(ppid); err != nil || init {
			return true
		}
		// known, with the start time read above.
		h.pmu.RLock()
		rec := h.procs[ppid]
		h.pmu.RUnlock()
		if rec != nil && rec.start == pstart {
			return false // the nearest known process, checked too
		}
		pid = ppid
	}
	return true
}

// bornBefore tells whether process pid, which started at start (clock
// ticks), started before p was last placed in another group. Start times
// are ticks (10 ms): within the tick of the placement, the task ID says,
// against the last one given out at the placement (IDs are given out in
// order, wrapping at pid_max; a process started after the placement, in
// the same tick, was taken for an older one and judged by the group left:
// TestTrustRoot).
func bornBefore(pid int, start uint64, p *proc) bool {
	at := p.placedNs.Load()
	switch born := startNanos(start); {
	case at == 0 || born > at:
		return false
	case born+tickNanos <= at:
		return true
	}
	max := int64(procfs.PidMax())
	last := p.placedPid.Load()
	if last <= 0 {
		return true
	}
	return ((last-int64(pid))%max+max)%max < max/2
}

// placesOf returns where processes known to carry layer lay have been
// anchored (layer.places).
func (h *Holder) placesOf(lay *layer) []string {
	if lay == nil {
		return nil
	}
	var out []string
	for g := range lay.placed() {
		out = append(out, g)
	}
	return out
}

// placedSets returns what the groups deny where processes known to carry
// layer lay have been anchored, with what they were pinned to there.
func (h *Holder) placedSets(lay *layer) policy.Set {
	var s policy.Set
	if lay == nil {
		return s
	}
	// Kept until a place or the tree changes: Decide asks it for every
	// call of a process judged so (helper-49: 11.6 µs a call with 100
	// places, 120 µs with 100 removed groups, each looked up on disk).
	at := h.tree.Changes()
	lay.placesMu.Lock()
	if lay.wideOK && lay.wideAt == at && lay.wideVer == lay.placesVer {
		s = lay.wide
		lay.placesMu.Unlock()
		return s
	}
	ver, places := lay.placesVer, maps.Clone(lay.places)
	lay.placesMu.Unlock()
	for g, pin := range places {
		s = s.Union(h.deniedSet(g)).Union(pin)
	}
	lay.placesMu.Lock()
	// Under the count read before: deniedSet may have added a group to
	// the tree, and the next call makes it again.
	lay.wide, lay.wideAt, lay.wideVer, lay.wideOK = s, at, ver, true
	lay.placesMu.Unlock()
	return s
}

// MayChange refuses (EPERM) an allow by a confined process in its own
// group or an ancestor of it: a confined process may only restrict
// further. Root is no exception unless the mount trusts root. A process
// that may carry a held process's layer may not widen that one's group
// either (mayCarry).
func (h *Holder) MayChange(c fs.Caller, group string, allow bool) error {
	if h.trustRoot && c.Uid == 0 {
		return nil
	}
	// The reason goes back with EPERM, into the write's one log line.
	own, confined, maybe := h.confinement(c.Pid)
	if confined && !allow && !within(group, own) {
		return fmt.Errorf("%w: the writer is confined in %q and may restrict only inside "+
			"its own subtree", syscall.EPERM, "/"+own)
	}
	if confined && allow && within(own, group) {
		return fmt.Errorf("%w: the writer is confined in %q and may not widen its own set",
			syscall.EPERM, "/"+own)
	}
	for _, a := range maybe {
		if allow && within(a, group) {
			return fmt.Errorf("%w: the writer has seccomp filters and may carry the layer of "+
				"a process held in %q (made with CLONE_PARENT, or left when its parent "+
				"exited): it may not widen that set", syscall.EPERM, "/"+a)
		}
	}
	return nil
}

// mayMove checks a move of process pid to group by caller c: root or the
// same uid as the process (EACCES otherwise), and a confined caller keeps
// itself and every process inside its own subtree (EPERM); a caller that
// may carry held processes' layers (mayCarry) moves no held process, and no
// process with filters, out of the subtree of one of their anchors that
// it is in or anchored in (a move between groups outside them all, or into
// a stricter one, stays open to it: helper-40 found every move refused to
// a process with a filter of its own). It reports whether the caller may
// carry such layers.
func (h *Holder) mayMove(c fs.Caller, pid int, group string) (bool, error) {
	if c.Uid != 0 {
		uid, err := statusField(pid, "Uid")
		if err != nil {
			return false, syscall.ESRCH
		}
		if f := strings.Fields(uid); len(f) < 2 || f[0] != strconv.Itoa(int(c.Uid)) ||
			f[1] != f[0] {
			return false, syscall.EACCES
		}
	}
	if c.Uid != 0 && !h.where.v1() {
		if err := h.mayMigrate(c, pid, group); err != nil {
			return false, err
		}
	}
	if h.trustRoot && c.Uid == 0 {
		return false, nil
	}
	own, confined, maybe := h.confinement(c.Pid)
	if confined && !within(group, own) {
		return false, fmt.Errorf("%w: the writer is confined in %q and may not move a process "+
			"out of its own subtree", syscall.EPERM, "/"+own)
	}
	if len(maybe) == 0 {
		return false, nil
	}
	var at []string // where pid is, and where it is anchored
	if p := h.known(pid); p != nil {
		at = append(at, *p.anchor.Load())
	} else if seccompFilters(pid) == 0 {
		return true, nil
	}
	if now, inside, err := h.groupOf(pid); err == nil && inside {
		at = append(at, now)
	}
	for _, a := range maybe {
		for _, g := range at {
			if within(g, a) && !within(group, a) {
				return true, fmt.Errorf("%w: the writer has seccomp filters and may carry the "+
					"layer of a process held in %q (made with CLONE_PARENT, or left when its "+
					"parent exited): it may not move a held process out of that subtree",
					syscall.EPERM, "/"+a)
			}
		}
	}
	return true, nil
}

// mayMigrate applies cgroup v2's rule for a move by a writer other than
// root: it must be allowed to write the cgroup.procs of the nearest group
// that contains both the process's group and the destination, their
// common ancestor (cgroup-v2.rst, "Delegation Containment"), as the kernel
// checks it for a write to the real file (EACCES). The daemon moves as
// root, so without this a user who owns a delegated group could pull a
// process of theirs into it from anywhere, out from under limits that an
// administrator set above it (helper-31). A common ancestor that the
// cgroup mount does not show (above its root) is refused.
func (h *Holder) mayMigrate(c fs.Caller, pid int, group string) error {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return syscall.ESRCH
	}
	src, ok := pathOf(b, h.where.line)
	if !ok {
		return syscall.ESRCH
	}
	dst := h.where.prefix
	if group != "" {
		dst += "/" + group
	}
	com := commonAncestor(src, dst)
	denied := fmt.Errorf("%w: moving a process from %s to %s needs write access to "+
		"cgroup.procs of %s", syscall.EACCES, src, nonEmpty(dst), com)
	dir, ok := h.where.dir(com)
	if !ok {
		return denied
	}
	dir, done, err := shortDir(dir)
	if err != nil {
		return denied
	}
	defer done()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "cgroup.procs"), &st); err != nil ||
		!mayWriteFile(&st, c) {
		return denied
	}
	return nil
}

// commonAncestor returns the nearest cgroup path that contains both a and
// b, paths of /proc/PID/cgroup ("/" for the root).
func commonAncestor(a, b string) string {
	for a != "/" && a != "" && b != a && !strings.HasPrefix(b, a+"/") {
		a = a[:strings.LastIndexByte(a, '/')]
	}
	return nonEmpty(a)
}

// nonEmpty is path p, or "/" for the root's empty path.
func nonEmpty(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// mayWriteFile reports whether caller c may write a file of st's owner
// and mode, as the kernel checks it for a caller without capabilities:
// the owner's bits for its owner, the group's for a member of its group
// (the caller's group or a supplementary one, from /proc/PID/status), the
// others' otherwise. cgroupfs has no ACLs.
func mayWriteFile(st *unix.Stat_t, c fs.Caller) bool {
	switch {
	case st.Uid == c.Uid:
		return st.Mode&0o200 != 0
	case st.Gid == c.Gid || inGroups(c.Pid, st.Gid):
		return st.Mode&0o020 != 0
	}
	return st.Mode&0o002 != 0
}

// inGroups reports whether process pid has gid among its supplementary
// groups.
func inGroups(pid int, gid uint32) bool {
	groups, err := statusField(pid, "Groups")
	if err != nil {
		return false
	}
	want := strconv.FormatUint(uint64(gid), 10)
	return slices.Contains(strings.Fields(groups), want)
}

// groupOf returns the group of thread tid relative to the mirror, and
// whether it lies inside the mirror at all. It keeps /proc/TID/cgroup
// open and reads it again for every call: the kernel's answer is current,
// and a reused TID fails on the old file (ESRCH) and is opened afresh.
// The line read is that of the mirror's hierarchy: "0::" on cgroup2, the
// hierarchy's own on v1, where a thread may sit in another group than
// its process and is judged by its own.
func (h *Holder) groupOf(tid int) (string, bool, error) {
	var buf [512]byte
	for try := 0; try < 2; try++ {
		v, ok := h.cgfiles.Load(tid)
		if !ok {
			// Not os.Open, which tries the file with Go's poller (three
			// more system calls).
			path := "/proc/" + strconv.Itoa(tid) + "/cgroup"
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return "", false, &os.PathError{Op: "open", Path: path, Err: err}
			}
			f := os.NewFile(uintptr(fd), path)
			if v, ok = h.cgfiles.LoadOrStore(tid, f); ok {
				f.Close()
			}
		}
		f := v.(*os.File)
		n, err := f.ReadAt(buf[:], 0)
		if n == 0 && err != nil {
			// The thread is gone; a thread that reuses its TID is another.
			if h.cgfiles.CompareAndDelete(tid, f) {
				f.Close()
			}
			h.anchors.Delete(tid)
			continue
		}
		b := buf[:n]
		if n == len(buf) {
			// Many v1 hierarchies, or long paths: read it whole.
			if b, err = readWhole(f, len(buf)); err != nil {
				return "", false, err
			}
		}
		path, ok := pathOf(b, h.where.line)
		if !ok {
			return "", false, fmt.Errorf("no %q line in /proc/%d/cgroup", h.where.line, tid)
		}
		group, inside := h.relative(path)
		return group, inside, nil
	}
	return "", false, syscall.ESRCH
}

// currentGroup is groupOf for Decide: from the cache while the entry of
// tid is good (see tidCache), which bounds how long a move behind the
// mount's back goes unseen by ScanInterval.
func (h *Holder) currentGroup(tid int) (string, bool, error) {
	if shape := h.tree.Shape(); shape != h.shape.Load() {
		// A group made or removed: a process moved behind the mount's
		// back out of a group that was then removed and made again was
		// taken for one still inside it, and judged by the new group's
		// set until the next scan (helper-49 F2, 13 of 13).
		h.shape.Store(shape)
		h.tids.renew()
	}
	if group, inside, ok := h.tids.lookup(tid); ok {
		return group, inside, nil
	}
	gen := h.tids.gen.Load()
	group, inside, err := h.groupOf(tid)
	if err == nil && tid > 0 {
		h.tids.store(tid, gen, group, inside)
	}
	return group, inside, err
}

// threadExited forgets what was cached for thread tid.
func (h *Holder) threadExited(tid int) {
	if v, ok := h.cgfiles.LoadAndDelete(tid); ok {
		v.(*os.File).Close()
	}
	h.anchors.Delete(tid)
}

// relative turns a cgroup path of /proc/PID/cgroup into a group of the
// mirror.
func (h *Holder) relative(path string) (string, bool) {
	prefix := h.where.prefix
	if path == prefix || (prefix == "" && path == "/") {
		return "", true
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/"); ok {
		if h.mp.group != "" && within(rest, h.mp.group) {
			return h.mp.parent, true // judged as its parent's (mountPoint)
		}
		return rest, true
	}
	return "", false
}
