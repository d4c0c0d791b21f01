package hold

import (
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/keeper"
	"github.com/cgsyscall/cgsyscall/policy"
)

// keeping is the holder's side of the listener keeper (package
// enforce/keeper): a process that keeps a copy of every listener, so that
// while no daemon runs a held process's own NEW_LISTENER filter gets EBUSY
// and its notified calls get ENOSYS from the keeper.
type keeping struct {
	c *keeper.Client // nil without a keeper: every method does nothing
	// unsure is set when the keeper may have copies this daemon did not
	// take (Take failed), or it took listeners whose holder has exited
	// (children of it may carry them): an EBUSY of a first hold may then
	// be such a listener rather than one the process loaded itself.
	unsure atomic.Bool
	orphan atomic.Int64 // labels of listeners taken whose holder exited
	// placedAt is where the last daemon placed processes this one did not
	// get to hold again: the exited holder of a listener taken back, by
	// the listener's label, and a process of the placement log whose
	// chain holds a listener the keeper kept (holdPlaced), by its
	// placement. A process met through such a listener is judged by that
	// group too (anchorOf): after a restart it was judged by its current
	// cgroup alone, and a child of an exited holder, moved out of its
	// group, made calls the group denied (helper-36).
	placedAt sync.Map // int label or placement → placedAt
	// takenBack holds, by label, the listeners taken back whose holder
	// exited. Where the placement log has the tag of that layer, it is
	// found by the tag in the chain of a process that carries it
	// (takenBack), so that it can grow (helper-37, F3: without its
	// program, a deny that needed it to grow failed with EBUSY for as long
	// as the holder's children lived); mayCarry looks at them all.
	takenBack sync.Map // int label → *orphanListener
}

// orphanListener is a listener taken back whose holder exited: the
// holder, its layer's tag, how to close the listener, and the layer once
// found in a chain (nil before).
type orphanListener struct {
	label  int
	pid    int
	start  uint64
	tag    string
	went   wentAt // what the placement log has of tag (placements.went)
	remove func()
	mu     sync.Mutex
	lay    *layer
}

// self tells whether pid is the daemon or its keeper: neither is ever held.
func (h *Holder) self(pid int) bool {
	return pid == os.Getpid() || (pid > 0 && pid == h.keep.c.KeeperPid())
}

// ConnectKeeper connects to the keeper of the mirror, starting one when
// none answers, and takes over the listeners that it kept while no daemon
// ran: their processes are held again with no new layer. Call it once,
// before the first Scan. opt says where a keeper it starts logs (its
// Log* fields); the rest it fills in itself.
// Without a keeper the holder works as before: the listeners close with
// the daemon.
func (h *Holder) ConnectKeeper(opt keeper.ClientOptions) {
	defer h.places.keepDead() // the placements of the exited holders taken back
	defer h.closedWhileDown()
	// Started by the binary's path when it is still there, so that ps
	// shows "cgsyscall keeper MIRROR"; /proc/self/exe after an upgrade.
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, " (deleted)") {
		exe = ""
	}
	opt.Exe, opt.Log = exe, h.log
	c, err := keeper.Connect(h.mirror, opt)
	if err != nil {
		h.log.WithError(err).Warn("no listener keeper: while no daemon runs, a held " +
			"process could load a listener of its own")
		h.keep.unsure.Store(true)
		return
	}
	h.keep.c = c
	ls, err := c.Take()
	if err != nil {
		h.log.WithError(err).Warn("could not take the listeners from the keeper")
		h.keep.unsure.Store(true)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range ls {
		h.adopt(l)
	}
}

// adopt adds listener l, taken from the keeper, to the supervisor.
func (h *Holder) adopt(l keeper.Listener) {
	// When it went in is what the placement log says (restoreLine), or
	// not known (0): then its holder's children born before this restart
	// may carry it, and a growth must look at them (helper-35: stamped
	// with the restart's time, a child the holder forked before it was
	// left out of the first growth, which closed the listener under it).
	lay := &layer{holder: l.Pid, start: l.Start, cover: policy.Set{}}
	st, live := liveStart(l.Pid)
	if !live || st != l.Start {
		// Its holder exited (a zombie too: helper-35 took its layer for
		// a live holder's, which no stop could read, and whose growth
		// at the first scan closed the listener under the holder's
		// children); children of it may carry it still. A label
		// of its own, below zero, matches no process.
		h.keep.unsure.Store(true)
		label := -int(h.keep.orphan.Add(1))
		pl := placement{l.Pid, l.Start}
		at, placed := h.places.deadAt(pl)
		if placed {
			h.keep.placedAt.Store(label, at)
		}
		o := &orphanListener{label: label, pid: l.Pid, start: l.Start, tag: at.tag,
			went: h.places.wentOf(at.tag)}
		gone := func() {
			h.keep.c.Drop(l.Pid, l.Start)
			h.keep.placedAt.Delete(label)
			h.keep.takenBack.Delete(label)
			h.places.unkeep(pl)
			o.mu.Lock()
			first, depth := o.went.first, 0
			if o.lay != nil {
				o.lay.closed.Store(true)
				first, depth = o.lay.firstAt, o.lay.firstDepth
			} else if h.places.grown(o.tag) {
				depth = 1 // not known: any
			}
			o.mu.Unlock()
			h.lineGone(o.tag, first, depth)
		}
		remove, err := h.sup.ListenMarked(l.Fd, label, l.Mark, gone)
		if err != nil {
			gone()
			return
		}
		lay.setRemove(remove)
		o.remove = remove
		h.keep.takenBack.Store(label, o)
		h.log.WithField("pid", l.Pid).Info("took from the keeper a listener whose process " +
			"exited; its children are served")
		return
	}
	h.readLayer(lay)
	h.places.keep(placement{l.Pid, l.Start})
	remove, err := h.sup.ListenMarked(l.Fd, l.Pid, l.Mark, func() { h.gone(l.Pid, l.Start, lay) })
	if err != nil {
		h.keep.c.Drop(l.Pid, l.Start)
		return
	}
	lay.setRemove(remove)
	pl := placement{l.Pid, l.Start}
	at, ok := h.restored[pl]
	anchor := at.group
	if !ok {
		if g, inside, err := h.groupOf(l.Pid); err == nil && inside {
			anchor = g
		}
	}
	delete(h.restored, pl)
	p := newProc(l.Start, lay, anchor)
	h.setProc(l.Pid, p)
	h.holders.Store(l.Pid, p)
	h.restoreFlags(l.Pid, p, at)
	id := uint64(0)
	if anchor == at.group {
		id = at.anchorID
	}
	h.placePinned(l.Pid, p, anchor, at.pin, id)
	f := logrus.Fields{"pid": l.Pid, "placed": "/" + anchor}
	if g, inside, err := h.groupOf(l.Pid); err == nil && inside {
		// Where it is now, which differs from where it was placed once it
		// moved behind the mount's back (helper-53 took the one for the
		// other).
		f["group"] = "/" + g
	}
	h.log.WithFields(f).Info("held again: listener taken from the keeper, no layer injected")
}

// readLayer settles what lay, a layer taken from the keeper, notifies:
// what the process's filter chain notifies, and of that what it lets run
// with SIGURG, read in one ptrace stop. When
// the chain cannot be read the cover stays empty, so that the first scan
// grows the layer (which reads the chain again) rather than trusting it.
func (h *Holder) readLayer(lay *layer) {
	sess, err := inject.Seize(lay.holder)
	if err != nil {
		return
	}
	defer sess.Detach()
	if err := sess.Stop(); err != nil {
		return
	}
	chain, err := sess.Filters()
	if err != nil {
		return
	}
	lay.cover, lay.passed = h.cov.chainNotified(chain)
	lay.cover.Remove(h.cov.seccomp)
	// Its bytes: the newest filter of the chain that bears a tag of this
	// daemon's key (mark.go). Not merely the newest that hands calls on:
	// the process may have loaded one of its own above the layer, with
	// bytes that another process can load with a listener of its own
	// (adversary helper-20). Of an older daemon's layer, or one tagged
	// with a key that is lost, nothing is taken: no orphan is adopted as
	// carrying it, and its growth finds its carriers among the holder's
	// children and groups alone.
	for i := len(chain) - 1; i >= 0 && lay.prog == nil; i-- {
		if h.key.authentic(chain[i]) {
			lay.prog = chain[i]
		}
	}
	if tag := progTag(lay.prog); tag != "" {
		lay.addPlaces(h.places.spotsOf(tag))
		h.restoreLine(lay, chain, tag)
	}
	lay.depth = len(chain)
	for _, f := range chain {
		lay.insns += len(f) + 4
		if h.cov.deniesSeccomp(f) {
			lay.static.Add(h.cov.seccomp)
		}
	}
}

// restoreLine gives lay, a layer tagged tag taken back from the keeper,
// what the placement log keeps of its line: when it went in (0 where the
// log does not say: then its holder's start stands for it), and for a
// grown layer when the first layer of its line went in and how deep that
// one sits in chain, the filters of a process that carries lay: a process
// born after that may carry the older layer, whose places lay keeps
// (mayCarry; helper-68: after a restart the line was forgotten, and such
// an orphan passed for a writer that carries nothing; helper-69: the line
// was found but not its time, and an orphan older than lay's holder passed
// so too, while a service with filters of its own started between the
// holder's start and its hold was refused as one that may carry lay).
func (h *Holder) restoreLine(lay *layer, chain [][]unix.SockFilter, tag string) {
	went := h.places.wentOf(tag)
	if went.at != 0 && lay.at.Load() == 0 {
		lay.at.Store(went.at)
	}
	line := h.places.lineOf(tag)
	if len(line) == 0 {
		return
	}
	for i, f := range chain {
		if h.key.authentic(f) && line[progTag(f)] {
			lay.firstDepth, lay.firstAt = i+1, went.first
			return
		}
	}
}

// closedWhileDown records as closed lines the grown layers of holders that
// exited while no daemon ran and whose listeners the keeper did not keep
// (their last process exited, or the keeper with them): an older layer of
// such a line, closed under an orphan that its growth missed, may still be
// carried, and nothing else stands for the line (helper-73 F1: such an
// orphan allowed a call in the group it was born in after the restart).
// How deep the line's first layer sat is not logged: 1, any.
func (h *Holder) closedWhileDown() {
	back := map[string]bool{}
	h.keep.takenBack.Range(func(_, v any) bool {
		back[v.(*orphanListener).tag] = true
		return true
	})
	for _, tag := range h.places.deadTags() {
		if !back[tag] && h.places.grown(tag) {
			h.lineGone(tag, h.places.wentOf(tag).first, 1)
		}
	}
}

// keepListener gives the keeper a copy of the new listener fd of m.
func (h *Holder) keepListener(fd int, m *member) keeper.Mark {
	mark, err := h.keep.c.Keep(fd, m.pid, m.start)
	if err != nil {
		e := h.log.WithField("pid", m.pid).WithError(err)
		if errors.Is(err, syscall.ENOTCONN) {
			e.Warn("the listener keeper is not reachable now; it gets the listener later")
		} else {
			e.Warn("the listener keeper did not take a listener")
		}
	}
	return mark
}

// dropOld makes the keeper close its copy of the listener of layer old
// before that listener is closed for a grown layer. EAGAIN when the keeper
// cannot be told: the kernel would refuse the new listener while a copy of
// the old one is open.
func (h *Holder) dropOld(old *layer) error {
	if old == nil {
		return nil
	}
	if err := h.keep.c.Drop(old.holder, old.start); err != nil {
		h.log.WithField("pid", old.holder).WithError(err).Warn("the listener keeper did " +
			"not drop a listener; the layer is not grown")
		return syscall.EAGAIN
	}
	return nil
}
