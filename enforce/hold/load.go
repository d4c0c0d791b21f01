package hold

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/keeper"
	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
)

// injectWorkers is how many processes are injected into at once. Each
// injection is mostly waiting for ptrace stops of its tracee, so two
// overlap well even on two CPUs.
const injectWorkers = 2

// maxFamily bounds the processes that one grown layer reaches.
const maxFamily = 4096

// member is one process getting a new notifying layer.
type member struct {
	pid   int
	start uint64
	// kept: the keeper was given its new listener (mark) before its
	// threads ran on (keepFirst); listen does not again.
	kept  bool
	mark  keeper.Mark
	p     *proc      // its record; nil for a process not known yet
	anc   *proc      // the record whose layer it is taken to carry (see planNew)
	group string     // where a process not known yet is anchored
	pin   policy.Set // and the numbers pinned there besides that group's set
	wider policy.Set // and what judges it wherever it is (proc.wider)
	need  policy.Set // the numbers it is judged by, seccomp included
	// anchorID is the identity of the group it was placed in (proc.anchorID)
	// where it takes an ancestor's anchor; 0 for the group there now.
	anchorID uint64
	// underHeld: it has a held ancestor (it may carry that one's layer).
	// descent: a child of a family's member not known yet, taken in by
	// its birth after the layer (carriers), until its chain says.
	underHeld, descent bool
	// filters is Seccomp_filters of a process not held yet when planned:
	// with none, its chain need not be read.
	filters int
	// placed: group is where the process is placed, by a move through
	// the mount or its logged placement; not where a pass found it
	// (inherit).
	placed bool
	also   policy.Set // more numbers to cover: what other members of its family need
	self   bool       // the writer of the request being served
	killed bool       // its failed hold killed it already (Session.KillOnFailure)
	// adopted: its layer was found from its chain (recordNew, orphanLayer).
	// maybe: found
	// by the orphan search of a growth, it may carry another listener
	// than the old layer's; a load that the kernel then refuses (EBUSY:
	// another listener of its chain is open, and it was stopped since
	// before the old one closed) shows that it does, and leaves it as it
	// was.
	adopted, maybe bool
	// req: a member the growth is for (its need); spared: a maybe member
	// that another listener was found to hold (see complete).
	req, spared bool
	// was: the places of a closed layer of this daemon's that its chain
	// carried when a first hold read it (install, closedPlaces): a
	// carrier that a growth missed, whose old listener was closed.
	was  map[string]policy.Set
	sess *inject.Session
	lay  *layer // the new layer
	// subreaper: what its load found of PR_GET_CHILD_SUBREAPER (1, 0, or
	// -1 not known), recorded by listen (Holder.reapers).
	subreaper int
	err       error
}

// job is one injection: a process not held yet, or the family of a layer
// that has to grow (every process known or found to carry it). For a
// family, the old layer's listener is closed once every member is
// stopped, and then each member gets a layer of its own.
type job struct {
	members []*member
	old     *layer
	err     error // a family that could not be stopped whole; nothing changed
	// others holds the members of the other families of the same growth,
	// which its search for carriers leaves to them.
	others map[int]bool
	// writer is the process of the request being served (0: none): found
	// among the carriers, it is a member that cannot stop before its write
	// is answered (member.self).
	writer int
}

// run carries out j. Members that are the writer of the request being
// served cannot stop before it is answered: the rest of the job then runs
// in a goroutine, every other member held stopped meanwhile, and record
// runs first, on layers that go in as the writer returns. A failure there
// kills that member (fail closed).
func (h *Holder) run(j *job, record func(*job)) {
	j.old.wait()
	if m := j.members[0]; j.old == nil && len(j.members) == 1 {
		if err := h.refusedBefore(m.pid, m.start); err != nil {
			// Its own filters refused it before, and they only grow: not
			// stopped again for nothing (helper-29: each stop of the
			// scan's every second made a refused sleeper's sleep start
			// over, and it never ended).
			m.err = err
			record(j)
			return
		}
	}
	if m := j.members[0]; j.old == nil && !m.self && m.filters == 0 {
		// The common first hold: a process with no filter, whose layer
		// is known before it stops; one request to the tracing thread.
		h.quick(m)
		record(j)
		return
	}
	if !h.seizeAll(j) {
		record(j)
		return
	}
	err := exitKill(j)
	if err == nil {
		err = h.dropOld(j.old)
	}
	if err != nil {
		// A member that could not be set to die with the daemon, or the
		// keeper still has a copy of the old listener (the kernel would
		// refuse the new one): the old layer stays.
		j.detachAll()
		j.err = err
		record(j)
		return
	}
	var self *member
	for _, m := range j.members {
		if m.self {
			self = m
		}
	}
	if self == nil {
		h.complete(j)
		record(j)
		return
	}
	var settling []*layer
	for _, m := range j.members {
		if m.err == nil {
			m.lay = h.planLayer(m, j.old, nil)
			m.lay.at.Store(bootNanos())
			m.lay.settled = make(chan struct{})
			settling = append(settling, m.lay)
			// Recorded as held before its layer goes in: should the layer
			// not go in, the process is killed while its threads are
			// stopped, before any of them runs unheld.
			m.sess.KillOnFailure = true
		}
	}
	record(j)
	for _, m := range j.members {
		if m.sess != nil {
			// The write has been answered and the locks are free: the
			// writer's other threads' writes are served as they come,
			// not made to give up for the stop (TestSelfPlacingWriterThreads).
			m.sess.LocksFree = true
		}
	}
	go func() {
		h.complete(j)
		for _, lay := range settling {
			close(lay.settled)
		}
		for _, m := range j.members {
			if m.err == nil || errors.Is(m.err, syscall.ESRCH) {
				continue
			}
			e := h.log.WithField("pid", m.pid).WithError(m.err)
			if m.killed {
				e.Error("could not hold a process after the write; killed it (fail closed)")
				continue
			}
			// A failure after the session ended (the listener's
			// registration): the filter is in, the process is ours to end.
			e.Error("could not hold a process after the write; killing it (fail closed)")
			unix.Kill(m.pid, unix.SIGKILL)
		}
	}()
}

// detachAll lets every seized member of j go, unchanged.
func (j *job) detachAll() {
	for _, m := range j.members {
		if m.sess != nil {
			m.sess.Detach()
			m.sess = nil
		}
	}
}

// exitKill has the kernel kill each stopped member of family j should the
// daemon die before its session ends: once the keeper dropped its copy of
// the old listener, the daemon's is the last, and a dead daemon's members
// would run on with it closed, free to load a listener of their own
// (helper-78: after a kill -9 during a growth, they answered their own
// calls, and children that only the growth had found went on doing so
// under the next daemon). The writer, which stops only once its write is
// answered, gets it at its stop (complete); until then it is not covered.
func exitKill(j *job) error {
	if j.old == nil {
		return nil
	}
	for _, m := range j.members {
		if m.sess == nil || m.self || m.err != nil {
			continue
		}
		m.sess.ExitKill = true
		if err := m.sess.Stop(); err != nil {
			if err = exitedOr(m.pid, err); !errors.Is(err, syscall.ESRCH) {
				return err
			}
			m.sess.Detach()
			m.sess, m.err = nil, err // it exited, as seizeAll lets a member
		}
	}
	return nil
}

// seizeAll seizes every member and stops all but the writer; for a family
// it also takes in the children of members that carry the old layer, until
// none is left. It reports whether the job goes on. A first hold goes on
// unless its one member failed; a family stops, detached and unchanged,
// at any member that cannot be stopped, except one that exited.
func (h *Holder) seizeAll(j *job) bool {
	fail := func(err error) bool {
		j.detachAll()
		j.err = err
		return false
	}
	have := map[int]bool{}
	for _, m := range j.members {
		have[m.pid] = true
	}
	for pid := range j.others {
		// Another family's, growing beside this one: it carries that
		// family's layer (a process carries one open layer), and seized
		// here it would fail both (helper-38, F2: two families of exited
		// holders' children in one group refused every deny with EBUSY).
		have[pid] = true
	}
	looks := 0
	for i := 0; ; i++ {
		if i == len(j.members) {
			if j.old == nil {
				break
			}
			// Until a look that found none while no task was created:
			// an orphan can fork the next and exit between the listing
			// and its seizure.
			at, counted := inject.CountTasks()
			more, err := h.orphans(j, have)
			if err != nil {
				return fail(err)
			}
			if len(more) == 0 {
				if now, ok := inject.CountTasks(); counted && ok && now.NoneSince(at) {
					break
				}
				if looks++; looks == maxLooks {
					return fail(syscall.EAGAIN)
				}
				i-- // look again
				continue
			}
			j.members = append(j.members, more...)
		}
		m := j.members[i]
		if m.sess != nil {
			// An orphan, seized and stopped already: its own carriers.
		} else if !m.self && h.frozen(m.pid) {
			m.err = errFrozen
		} else if m.sess, m.err = inject.Seize(m.pid); m.err == nil && !m.self && j.old != nil {
			// A first hold needs no stop before Install, which waits
			// for the stops itself; a family is stopped whole, and
			// checked for a memory sharer and a filter that would kill
			// it for the hold's calls, before its listener is closed:
			// refused after, the member would be left with that closed
			// listener (ENOSYS for every call it notifies) or killed.
			if m.err = m.sess.Check(); m.err != nil {
				m.sess.Detach()
				m.sess = nil
			}
		}
		if m.err != nil {
			m.err = exitedOr(m.pid, m.err)
			if j.old == nil {
				return false
			}
			if !errors.Is(m.err, syscall.ESRCH) {
				return fail(m.err)
			}
			continue
		}
		// The writer's chain cannot be read before its write is answered:
		// it goes with the family, as its birth says.
		if m.descent && !m.self && !h.carriesOld(m, j.old) {
			// A child of a member that carries another layer, or none:
			// not of this family (helper-33: one forked with
			// CLONE_PARENT by a process held on its own was killed when
			// its parent's layer grew, its own layer refusing the new
			// one; one outside every group, given to a held subreaper,
			// was anchored in its group).
			m.sess.Detach()
			m.sess = nil
			j.members = slices.Delete(j.members, i, i+1)
			i--
			continue
		}
		if j.old == nil {
			continue
		}
		for _, c := range h.carriers(m, j.old, have) {
			if len(j.members) >= maxFamily {
				return fail(syscall.EAGAIN)
			}
			// The writer, a child of a member (a held shell's /bin/echo
			// that moves one of the shell's jobs): not stopped, which
			// it cannot before its write is answered (helper-43: the
			// move failed with ETIMEDOUT after 4 s).
			c.self = j.writer != 0 && c.pid == j.writer
			have[c.pid] = true
			j.members = append(j.members, c)
		}
	}
	return true
}

// carriers returns the children of member m, stopped by now, that may
// carry layer old and are not in have yet: started after it went in,
// with filters, and not known to carry another layer. One not known yet
// is anchored where m is, as a child forked from a held process is.
func (h *Holder) carriers(m *member, old *layer, have map[int]bool) []*member {
	group, pin, id := m.group, m.pin, m.anchorID
	if m.p != nil {
		group, pin, id = *m.p.anchor.Load(), *m.p.pinned.Load(), m.p.anchorID.Load()
	}
	var out []*member
	for _, c := range childrenOf(m.pid) {
		if have[c] {
			continue
		}
		start, err := startTime(c)
		if err != nil || startNanos(start)+tickNanos < old.at.Load() || seccompFilters(c) == 0 {
			continue
		}
		q := h.known(c)
		if q != nil && q.lay.Load() != old {
			continue
		}
		out = append(out, &member{pid: c, start: start, p: q, group: group, pin: pin,
			anchorID: id, need: m.need, also: m.also, descent: q == nil})
	}
	return out
}

// carriesOld reports whether member m, stopped, carries layer old: its
// chain holds old's program (layerIn). A chain that cannot be
// read (a kernel without CONFIG_CHECKPOINT_RESTORE) is taken to carry it,
// as before chains were read: left out, a member that did would keep old's
// closed listener and no cover for the numbers the growth is for.
func (h *Holder) carriesOld(m *member, old *layer) bool {
	chain, err := m.sess.Filters()
	if err != nil {
		return true
	}
	return h.layerIn(chain) == old
}

// maxLooks bounds the looks for orphans that see tasks created meanwhile.
const maxLooks = 50

// orphanList is what orphans found in one cgroup directory: the processes
// listed there that were not known and had filters, at a task count.
type orphanList struct {
	at    inject.TaskCount
	cands []int
}

// orphans returns the processes that carry family j's old layer without
// being a child of a member, seized and stopped, or none: forked from a
// carrier that exited before the family stopped, they were given to init
// or a subreaper, where carriers does not look. Once the old listener is
// closed, such a process could load a listener of its own and answer its
// own calls (adversary helper-15: a deny that grew the layer of a held
// process let the grandchildren it had orphaned make getppid, denied,
// for good). It looks in the cgroups of the members, where a process is
// born: at processes not known, started after the layer went in, with
// filters, whose chain notifies what the old layer does (as orphanLayer
// tells). The listing of a directory is kept while no task is created,
// so that the members of a large pass cost one. A process moved to
// another cgroup before the family stopped is not found (that takes the
// right to write both cgroups' files).
func (h *Holder) orphans(j *job, have map[int]bool) (out []*member, err error) {
	defer func() {
		if err != nil {
			for _, m := range out {
				m.sess.Detach()
			}
			out = nil
		}
	}()
	// Where each member is, and where it was placed last (a move that
	// grows the layer runs before the placement is recorded).
	dirs := map[string]*member{}
	for _, m := range j.members {
		if m.err != nil {
			continue
		}
		if group, inside, err := h.groupOf(m.pid); err == nil && inside {
			if _, ok := dirs[group]; !ok {
				dirs[group] = m
			}
		}
		if m.p != nil {
			if group := *m.p.anchor.Load(); dirs[group] == nil {
				dirs[group] = m
			}
		}
	}
	born := j.old.at.Load()
	for group, m := range dirs {
		for _, pid := range h.orphanCandidates(h.dirOf(group)) {
			p := h.known(pid)
			if have[pid] || p != nil && !p.adopted.Load() {
				continue
			}
			start, err := startTime(pid)
			if err != nil || startNanos(start)+tickNanos < born {
				continue
			}
			// Anchored where it was born, not where it was found: it may
			// have been moved there behind the mount's back (helper-38).
			take := func(sess *inject.Session) *member {
				have[pid] = true
				home, ok := h.bornAt(pid, start, j.old)
				if !ok {
					home = placedAt{group: group}
				}
				return &member{pid: pid, start: start, p: p, group: home.group,
					pin: home.pin, anchorID: home.anchorID, wider: home.wider, need: m.need,
					also: m.also, sess: sess,
					self: sess == nil, maybe: true}
			}
			if pid == j.writer {
				// It cannot stop for its chain before its write is
				// answered: taken in as it is (maybe), not stopped.
				out = append(out, take(nil))
				continue
			}
			if h.frozen(pid) {
				return out, errFrozen // left out, it would keep the closed listener
			}
			sess, err := inject.Seize(pid)
			if err != nil {
				if err = exitedOr(pid, err); errors.Is(err, syscall.ESRCH) {
					continue
				}
				if tracedHere(pid) {
					// Seized by another family growing beside this one,
					// whose search found it first: that family's.
					continue
				}
				// Traced by another, say: it cannot be stopped with the
				// family, and would be left out (adversary helper-16).
				return out, err
			}
			// A chain that cannot be read may carry the layer.
			if chain, err := sess.Filters(); err == nil && !h.cov.carries(chain, j.old) {
				sess.Detach()
				continue
			}
			if err := sess.Check(); err != nil {
				// Left out, it would escape: the family does not grow.
				sess.Detach()
				if err = exitedOr(pid, err); errors.Is(err, syscall.ESRCH) {
					continue
				}
				return out, err
			}
			out = append(out, take(sess))
		}
	}
	return out, nil
}

// orphanCandidates lists the processes of cgroup directory dir that were
// not known (or known from their chain: adopted) and had filters, from the
// last listing while no task has been created since.
func (h *Holder) orphanCandidates(dir string) []int {
	now, counted := inject.CountTasks()
	h.omu.Lock()
	l, ok := h.orphDir[dir]
	h.omu.Unlock()
	if ok && counted && now.NoneSince(l.at) {
		return l.cands
	}
	pids, err := readProcs(dir)
	if err != nil {
		return nil
	}
	l = orphanList{at: now}
	for _, pid := range pids {
		if p := h.known(pid); (p == nil || p.adopted.Load()) && seccompFilters(pid) > 0 {
			l.cands = append(l.cands, pid)
		}
	}
	if counted {
		h.omu.Lock()
		if h.orphDir == nil {
			h.orphDir = map[string]orphanList{}
		}
		h.orphDir[dir] = l
		h.omu.Unlock()
	}
	return l.cands
}

// complete loads the new layers of a job whose members are seized: it
// waits for the writer's stop, if it is a member, closes the old layer's
// listener, and installs each member's layer.
func (h *Holder) complete(j *job) {
	for _, m := range j.members {
		if m.err == nil && m.self {
			// The writer's write has returned, saying it is held: should
			// it not stop, it is killed before any of its threads runs
			// unheld (run logs it).
			m.sess.ExitKill = j.old != nil
			if m.err = m.sess.Stop(); m.err != nil {
				m.sess.KillDetach()
				m.sess = nil
				m.killed = true
				m.err = exitedOr(m.pid, m.err)
			}
		}
	}
	j.old.close()
	for _, m := range j.members {
		if m.err == nil {
			if j.old != nil {
				// Its old listener is closed: a member whose new layer
				// does not go in is killed while stopped, before it
				// could load a listener of its own; unless another
				// listener holds it.
				m.sess.KillOnFailure = true
				m.sess.SpareHeld = m.maybe
			}
			m.err = h.install(m, j.old)
			if m.maybe && inject.ListenerRefused(m.err) {
				h.log.WithField("pid", m.pid).Debug("another listener decides its calls; " +
					"left as it was")
				m.err, m.lay, m.spared = nil, nil, true
			}
		}
	}
}

// quick holds m, a process with no filter, in one go (inject.HoldWith).
func (h *Holder) quick(m *member) {
	if h.frozen(m.pid) {
		m.err = errFrozen
		return
	}
	m.lay = h.planLayer(m, nil, [][]unix.SockFilter{})
	// Before the load, which lets the process go on: a child it forks
	// right after is born later, and carries the layer (carriers).
	m.lay.at.Store(bootNanos())
	prog := m.lay.prog
	var after []unix.SockFilter
	if !m.lay.static.Empty() {
		after = h.cov.fixed
	}
	fd, sub, err := inject.HoldKept(m.pid, prog, after, func(fd int) { h.keepFirst(m, fd) })
	if err != nil {
		m.err = exitedOr(m.pid, err)
		return
	}
	m.subreaper = sub
	m.err = h.listen(m, fd)
}

// install reads m's filter chain, settles its layer and loads it.
func (h *Holder) install(m *member, old *layer) error {
	if m.self && old == nil && m.p == nil && m.filters > 0 {
		// The writer, recorded as held by the layer planned for it when
		// its write returned, may carry a layer already, which would
		// refuse the new one (EBUSY): a held ancestor's, or as an orphan
		// (given to a subreaper) a held process's that has no held
		// ancestor (helper-32: killed so). Its chain says (planNew).
		if chain, err := m.sess.Filters(); err == nil {
			if lay := h.layerIn(chain); lay != nil {
				return h.carried(m, lay)
			}
			if spots := h.closedPlaces(chain); spots != nil {
				h.carriedClosed(m, spots) // and its planned layer goes in
			}
		}
	}
	chain := [][]unix.SockFilter{}
	if m.lay == nil && (m.filters > 0 || m.p != nil || old != nil) {
		var err error
		if chain, err = m.sess.Filters(); err != nil {
			// Unreadable (a kernel without CONFIG_CHECKPOINT_RESTORE):
			// a filter that may notify anything needs a layer that
			// notifies everything, which a program that cannot be
			// run stands for.
			chain = [][]unix.SockFilter{{{Code: 0xffff}}}
		} else if old == nil && m.p == nil {
			m.was = h.closedPlaces(chain)
		}
	}
	if m.lay == nil {
		m.lay = h.planLayer(m, old, chain)
	}
	lay := m.lay
	prog := lay.prog
	if len(prog) == 0 {
		if m.killed = m.sess.KillOnFailure; m.killed {
			m.sess.KillDetach()
		} else {
			m.sess.Detach()
		}
		return syscall.EINVAL
	}
	if !lay.static.Empty() {
		m.sess.After = h.cov.fixed
	}
	// The keeper takes the new listener before the member runs on, while
	// a dead daemon still kills it: otherwise, with the daemon dying after
	// the session and before listen, the listener would close with it and
	// leave the member free (helper-78).
	m.sess.Keep = func(fd int) { h.keepFirst(m, fd) }
	fd, err := m.sess.Install(prog)
	m.subreaper = m.sess.Subreaper()
	if err != nil {
		spared := m.sess.SpareHeld && inject.ListenerRefused(err)
		if m.killed = m.sess.KillOnFailure && !spared; m.killed {
			return err // why it was killed, for the log: not its exit
		}
		return exitedOr(m.pid, err)
	}
	return h.listen(m, fd)
}

// carried records the writer m, recorded as held by its planned layer, as
// carrying lay, which its chain showed, and lets it go on; if lay does not
// cover m's group, it is killed while stopped instead (fail closed: its
// write said it was held).
func (h *Holder) carried(m *member, lay *layer) error {
	if !h.covered(newProc(0, lay, m.group), m.need) {
		m.sess.KillDetach()
		m.killed = true
		return fmt.Errorf("%w: it carries the layer of a held process, which does not "+
			"cover its group", syscall.EPERM)
	}
	if p := h.known(m.pid); p != nil && p.start == m.start {
		p.lay.Store(lay)
		p.adopted.Store(true)
		h.holders.CompareAndDelete(m.pid, p)
		// It placed itself, and turned out to carry another's layer: it
		// is confined by that layer's places, and judged by their sets
		// where, as anchorOf has it, it may have been born in one of them
		// (aarch64 run of TestCarrierPlacedAwayFromItsHolder: an orphan
		// that made no call before placing itself allowed a call in the
		// group it was born in).
		p.inferred.Store(true)
		if w := h.widerFor(m.pid, m.start, lay, h.heldAncestor(m.pid)); !w.Empty() {
			p.wider.Store(&w)
		}
		h.placePinned(m.pid, p, *p.anchor.Load(), *p.pinned.Load(), p.anchorID.Load())
	}
	m.sess.Detach()
	m.lay = nil
	return nil
}

// carriedClosed gives the writer m, recorded as held by its planned layer
// (m.lay), the places of a closed layer of this daemon's that its chain
// carries (closedPlaces), as recordNew does for one held afresh, and logs
// its placement again. Placing itself in A, such an orphan born in S was
// judged by A alone once its layer settled (helper-67 F1, 14 of 14).
func (h *Holder) carriedClosed(m *member, spots map[string]policy.Set) {
	p := h.known(m.pid)
	if p == nil || p.start != m.start {
		p = nil
	}
	h.takeClosedPlaces(p, m.lay, spots)
	if p != nil {
		h.placePinned(m.pid, p, *p.anchor.Load(), *p.pinned.Load(), p.anchorID.Load())
	}
}

// takeClosedPlaces gives lay, the new layer of a process that carries a
// closed layer of this daemon's, that layer's places (spots), and judges
// the process (record p, if it has one) by them, wherever it was born.
func (h *Holder) takeClosedPlaces(p *proc, lay *layer, spots map[string]policy.Set) {
	for g, pin := range spots {
		h.addPlace(lay, g, pin)
	}
	if p == nil {
		return
	}
	p.inferred.Store(true)
	if w := h.placedSets(lay); !w.Empty() {
		p.wider.Store(&w)
	}
}

// listen hands the listener fd of m's new layer to the supervisor.
func (h *Holder) listen(m *member, fd int) error {
	lay := m.lay
	if m.subreaper != 0 {
		h.reapers.Store(placement{m.pid, m.start}, true)
	}
	if !m.kept {
		h.keepFirst(m, fd)
	}
	mark := m.mark
	pid, start := m.pid, m.start
	lay.key = h.holderKey(pid, start)
	remove, err := h.sup.ListenMarked(fd, lay.holderKey(), mark,
		func() { h.gone(pid, start, lay) })
	if err != nil {
		h.keep.c.Drop(pid, start)
		return err
	}
	lay.setRemove(remove)
	return nil
}

// keepFirst records m's placement and gives the keeper its new listener
// fd, the first part of listen.
func (h *Holder) keepFirst(m *member, fd int) {
	lay := m.lay
	if lay.at.Load() == 0 {
		lay.at.Store(bootNanos())
	}
	lay.start = m.start
	h.places.keep(placement{m.pid, m.start})
	m.mark, m.kept = h.keepListener(fd, m), true
}

// planLayer settles the layer of member m: its cover, the numbers it lets
// run with SIGURG, whether it comes with the fixed layer that denies
// seccomp, and the size of the chain it joins. chain is m's filters as the
// kernel has them, nil when they could not be read before the load (the
// writer of a request): then a process with filters gets the full cover.
func (h *Holder) planLayer(m *member, old *layer, chain [][]unix.SockFilter) *layer {
	need := m.need.Union(m.also)
	// notified: what the chain notifies for some arguments; strict: what
	// it notifies with SIGURG too, which the new layer must not pass.
	var notified, strict policy.Set
	depth, insns := 1, 0
	switch {
	case chain != nil:
		var partly policy.Set
		notified, partly = h.cov.chainNotified(chain)
		strict = notified.Minus(partly)
		depth = len(chain) + 1
		for _, f := range chain {
			insns += len(f) + 4
		}
	case old != nil:
		notified, depth, insns = old.cover, old.depth+1, old.insns
		strict = old.cover.Minus(old.passed)
	case m.filters > 0:
		notified, depth, insns = h.cov.full, maxDepth, maxInsns
		strict = h.cov.full
	}
	lay := &layer{holder: m.pid, depth: depth}
	if old != nil {
		lay.firstAt, lay.firstDepth = old.at.Load(), old.depth
		if old.firstDepth != 0 {
			lay.firstAt, lay.firstDepth = old.firstAt, old.firstDepth
		}
		if lay.firstAt == 0 {
			// Not known (taken back from a log without the time): the
			// old layer's holder started before it went in, and before
			// any process that carries it was born (helper-71 F1).
			lay.firstAt = startNanos(old.start)
		}
	}
	if m.need.Has(h.cov.seccomp) || (old != nil && !old.static.Empty()) {
		lay.static.Add(h.cov.seccomp)
	}
	if old != nil || !lay.static.Empty() {
		// A layer that grows, or one after which no layer can go in
		// (seccomp denied in the kernel), covers generously.
		lay.cover = h.cov.grown(notified, need)
	} else {
		lay.cover = h.cov.base(need).Union(notified)
	}
	if lay.static.Empty() {
		// Not after the fixed layer: no layer can follow it, so a later
		// deny of tgkill could not be enforced.
		lay.passed = h.cov.pass(need, strict, old != nil)
	}
	prog, err := h.cov.program(lay.cover, lay.passed)
	if err != nil || depth >= maxDepth || insns+len(prog)+4 > maxInsns {
		// The last layer notifies every deniable number in full: none
		// is needed again.
		lay.cover, lay.passed = h.cov.full, policy.Set{}
		prog, _ = h.cov.program(lay.cover, lay.passed)
	}
	lay.prog = h.key.mark(prog)
	lay.insns = insns + len(lay.prog) + 4
	return lay
}

// gone is told that every process using layer lay (loaded into pid, which
// started at start) has exited.
func (h *Holder) gone(pid int, start uint64, lay *layer) {
	lay.closed.Store(true)
	h.lineGone(progTag(lay.prog), lay.firstAt, lay.firstDepth)
	h.keep.c.Drop(pid, start)
	h.places.unkeep(placement{pid, start})
	if v, ok := h.holders.Load(lay.holderKey()); ok && v.(*proc).lay.Load() == lay {
		h.holders.CompareAndDelete(lay.holderKey(), v)
	}
}

// holderKey returns the label under which a new layer of process pid,
// started at start, is to be served and its record kept in Holder.holders:
// 0 for pid itself, or a label above every PID where pid's label still
// serves the open layer of another process, a holder that exited whose
// carriers live on. With pid's label, a process given the PID again took
// over its calls: they were judged by the new holder's group (helper-47,
// 4 of 4).
func (h *Holder) holderKey(pid int, start uint64) int {
	v, ok := h.holders.Load(pid)
	if !ok {
		return 0
	}
	old := v.(*proc)
	if lay := old.lay.Load(); old.start == start || lay == nil || lay.closed.Load() {
		return 0
	}
	return int(h.nextKey.Add(1))
}

// runAll runs independent jobs, injectWorkers at a time, and records each
// as it ends.
func (h *Holder) runAll(jobs []*job, record func(*job)) {
	n := 0
	for _, j := range jobs {
		n += len(j.members)
	}
	// Many holds in a row list the machine's processes once.
	inject.TakeCensus(n)
	// Every member is being stopped from now on, not only when its own
	// hold begins: a member waiting in the kernel for a control file's
	// lock behind another member's write, which waits for the locks held
	// here, then stops at once (fs.Stopping), not after a slow stop's
	// 200 ms (20 members writing one file: 1.5 s for the deny, 0.25 s
	// with this). The writer is not: its other threads' writes are served.
	for _, j := range jobs {
		for _, m := range j.members {
			if !m.self {
				defer fs.Stopping(m.pid)()
			}
		}
	}
	var mu sync.Mutex
	rec := func(j *job) {
		mu.Lock()
		defer mu.Unlock()
		record(j)
	}
	next := make(chan *job)
	var wg sync.WaitGroup
	for range min(injectWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				h.run(j, rec)
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}

// childrenOf lists the children of process pid, from every thread's
// children file (Linux 3.5, CONFIG_PROC_CHILDREN).
func childrenOf(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tids, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tids {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// logFailed logs the members of j that could not be held.
func (h *Holder) logFailed(j *job, what string) {
	if j.err != nil {
		var ie *inject.Error
		if shared, other := sharing(j.err); shared != "" && errors.As(j.err, &ie) {
			h.log.WithFields(logrus.Fields{"pid": ie.Pid, "shares_with": other}).
				Warn("refused: the process shares " + shared + " with another; its " +
					"family's layer does not grow")
		} else {
			h.log.WithField("pid", j.members[0].pid).WithError(j.err).Warn(what)
		}
	}
	for _, m := range j.members {
		if m.err != nil && !errors.Is(m.err, syscall.ESRCH) {
			if shared, other := sharing(m.err); shared != "" {
				h.log.WithFields(logrus.Fields{"pid": m.pid, "shares_with": other}).
					Warn("refused: the process shares " + shared + " with another")
				continue
			}
			h.log.WithField("pid", m.pid).WithError(m.err).Warn(what)
		}
	}
}

// sharing tells what of the process's another process shares, when err
// refused a hold for it, and that process: its file table (no helper
// thread, so the listener would pass through that table) or its memory
// (the other is not stopped with it); either could take the listener on
// its way. "" for another error.
func sharing(err error) (what string, other int) {
	var ie *inject.Error
	if !errors.As(err, &ie) {
		return "", 0
	}
	switch ie.Op {
	case "files":
		return "its file table", ie.Other
	case "memory":
		if ie.Other == 0 {
			return "", 0 // not settled (EAGAIN): logged as the error it is
		}
		return "its memory", ie.Other
	}
	return "", 0
}
