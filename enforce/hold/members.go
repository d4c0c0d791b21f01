package hold

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
	"github.com/cgsyscall/cgsyscall/procfs"
)

// errNeverHeld refuses a move of the daemon itself, its listener keeper
// or init: the log line of the refused write says so.
var errNeverHeld = fmt.Errorf("the daemon, its listener keeper and init are never moved "+
	"or restricted: %w", syscall.EINVAL)

// Move holds process pid to group's set: a process not held yet gets a
// layer if the group denies anything, a held one a grown layer if the
// group denies what its layer does not cover. Then it moves the process
// there through the real cgroup.procs.
func (h *Holder) Move(c fs.Caller, pid int, group string) error {
	if h.self(pid) || pid == 1 {
		return errNeverHeld
	}
	mayCarry, err := h.mayMove(c, pid, group)
	if err != nil {
		return err
	}
	deny, _ := h.tree.Denied(group)
	self := 0
	if procfs.ThreadOf(pid, c.Pid) {
		self = pid
	}
	if !fs.LockOr(&h.mu, c) {
		return fs.ErrInterrupted
	}
	defer h.mu.Unlock()
	// The writer cannot stop before its write is answered: a growth that
	// takes it in (a held shell moving one of its jobs) must know it.
	h.writer = c.Pid // its thread; grow looks its process up (a /proc read) if it grows
	h.moving.Store(int64(pid))
	defer func() {
		h.writer = 0
		h.moving.Store(0)
	}()
	if p := h.known(pid); p != nil {
		// Placed there, it is judged by the group's set (and pinned to it).
		if need := h.withUring(deny); !h.covered(p, need) {
			_, err = h.grow([]growReq{{pid: pid, p: p, need: need}}, self)
		}
	} else if !deny.Empty() {
		err = h.holdNew(pid, group, self != 0)
	} else if seccompFilters(pid) > 0 && h.heldAncestor(pid) != nil {
		// A child forked from a held process carries its layer: record
		// it (holdNew finds that it does), so that it is placed in
		// group, as a held process is. Its filters are looked at first:
		// one read, where the walk up its ancestors reads a file for
		// each (a third of a move's time in the daemon, for a process
		// three shells deep), and most processes moved have none.
		if err = h.holdNew(pid, group, self != 0); errors.Is(err, syscall.ESRCH) {
			err = nil // the write of cgroup.procs below says so
		}
	}
	if err != nil {
		h.log.WithFields(logrus.Fields{"pid": pid, "group": "/" + group}).
			WithError(err).Warn("could not hold the process; not moved")
		return errnoOf(err)
	}
	// On v1 the threads of a process may sit in different groups, and the
	// group of the main thread says nothing of the others: always move. So
	// on v2 in a threaded subtree: a process with more threads than one is
	// moved whatever its main thread's group (helper-55: a thread moved
	// into a sibling threaded group stayed there, the write saying 0).
	now, inside, err := h.groupOf(pid)
	// So in the parent of the group under the mount point, whose members
	// are found in the parent.
	if h.where.v1() || !(err == nil && inside && now == group) || threadCount(pid) != 1 ||
		h.mp.group != "" && group == h.mp.parent {
		err := writeProcs(h.dirOf(group), pid)
		h.tids.renew() // a cached group of its threads is stale now
		if err != nil {
			return err
		}
	}
	if p := h.known(pid); p != nil {
		if self == 0 && !mayCarry {
			// Placed now by a writer that nothing ties to its layer:
			// where it is judged is known, whatever it was born in. Not
			// by itself, nor by a writer that may carry a layer
			// (helper-41: an orphan that placed itself lost what kept it
			// from widening the group it was born in).
			p.inferred.Store(false)
			p.wider.Store(nil)
		}
		more, id := policy.Set{}, uint64(0)
		if (self != 0 || seccompFilters(c.Pid) > 0) && h.anchorRemade(p, *p.anchor.Load()) {
			// Placed by itself, or by a writer that may be held (its
			// parent), once the group it was placed in was made again:
			// it keeps that group's identity and pin, as a process moved
			// behind the mount's back does.
			more, id = *p.pinned.Load(), p.anchorID.Load()
			h.log.WithFields(logrus.Fields{"pid": pid, "group": "/" + group}).Info(
				"placed, and still judged by the set pinned in the group it was placed in " +
					"before, made again since: the writer has seccomp filters")
		}
		h.placeAt(pid, p, group, more, id)
		h.forgetAnchors(pid) // a record cached for its threads may be another
	} else if start, ok := liveStart(pid); ok && h.keep.orphan.Load() > 0 && !mayCarry &&
		seccompFilters(pid) > 0 {
		// Not known, but it may be judged through a listener taken back
		// whose holder exited (there are such listeners), where the last
		// daemon placed it
		// (anchorOf): placed here now (helper-37: the move was taken and
		// the old group's set went on denying). Not by a writer that may
		// carry a held process's layer (mayMove): that would lift the set
		// of the group its holder was placed in. Such a writer moving
		// itself was left out from the first; one moving another was not
		// (helper-51: after a restart two orphans of an exited held shell
		// placed each other in a group that denied nothing, and made the
		// calls their shell's group denied, 3 of 3).
		w := placedAt{group: group, anchorID: h.identityOf(group)}
		h.keep.placedAt.Store(placement{pid, start}, w)
		if err := h.places.record(pid, start, w); err != nil {
			h.log.WithError(err).Warn("could not write the placement log")
		}
		h.forgetAnchors(pid)
	}
	return nil
}

// forgetAnchors drops what anchorOf found for the threads of process pid.
func (h *Holder) forgetAnchors(pid int) {
	h.anchors.Delete(pid)
	tids, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	for _, d := range tids {
		if tid, err := strconv.Atoi(d.Name()); err == nil {
			h.anchors.Delete(tid)
		}
	}
}

// PolicyChanged holds every member of group's subtree to its set: members
// not held yet get a layer, held ones whose layer does not cover the set
// a grown one. It reads the members again until a pass finds no new one,
// so that processes forked while the holds ran are not missed. Held
// processes anchored in the subtree but moved out of it behind the
// mount's back are judged by their anchor, and grown for it too.
func (h *Holder) PolicyChanged(c fs.Caller, group string) (int, error) {
	self := tgidOf(c.Pid)
	if !fs.LockOr(&h.mu, c) {
		return 0, fs.ErrInterrupted
	}
	defer h.mu.Unlock()
	return h.policyChanged(group, self)
}

// policyChanged is PolicyChanged with h.mu held. It returns how many held
// processes are placed in group's subtree once the deny went in: those it
// judges wherever they are now (a count of new filters said 0 for a deny
// that every member's filter already handed to the daemon, helper-55).
func (h *Holder) policyChanged(group string, self int) (int, error) {
	h.refreshUnion()
	empty := h.emptyGroups()
	groups := h.tree.Subtree(group)
	for i := 0; i < len(groups); i++ {
		if !empty(groups[i]) {
			groups = append(groups, h.discover(groups[i])...)
		}
		if err := h.holdMembers(groups[i], self, false); err != nil {
			return 0, err
		}
	}
	// Pinned before the review, which grows the layers of the processes
	// anchored below group for what their pins now hold (helper-57: a
	// process whose group was gone missed a deny on an ancestor until the
	// next scan). Should the write fail after all, the pins keep the
	// numbers: stricter, never looser.
	n := h.pinDenies(group)
	if err := h.review(group, self); err != nil {
		return 0, err
	}
	return n, nil
}

// pinDenies adds what group's subtree denies now to the numbers pinned for
// the processes anchored there, and logs them: a deny there after a
// process was placed judges it once its group is gone, or made again, as
// it judged it before (helper-55: a process that had left its group behind
// the mount's back, whose group was then removed, made the call a later
// deny there had denied it, 3 of 3). An allow there does not take a number
// back out: such a process only loses calls. So for the placements that
// judge calls through listeners taken back from the keeper, whose holders
// exited (helper-56: an orphan so judged after a restart missed a later
// deny once its group was removed), the records made from them, and the
// places of every open layer, logged too (helper-56, helper-57: a carrier
// judged by its layer's places missed it, after a restart, or once no
// process anchored at the place was left). A place or anchor below group
// that is gone takes the set of its nearest group still there (helper-57:
// a deny on an ancestor after the removal did not reach it). It returns
// how many live held processes the deny judges: those anchored there,
// those in the subtree now, and those judged through such a placement
// there (helper-56: one that had moved into the group was not counted).
func (h *Holder) pinDenies(group string) int {
	n := 0
	layers := h.knownLayers()
	for pid, p := range h.snapshot() {
		if st, live := liveStart(pid); !live || st != p.start {
			continue // gone, or a zombie: judged no more
		}
		anchor := *p.anchor.Load()
		if !within(anchor, group) {
			if now, inside, err := h.groupOf(pid); err == nil && inside && within(now, group) {
				n++
			}
			continue
		}
		n++
		pinned := *p.pinned.Load()
		if now := h.setOf(anchor).Union(pinned); now != pinned {
			h.placePinned(pid, p, anchor, now, p.anchorID.Load())
		}
	}
	h.keep.placedAt.Range(func(k, v any) bool {
		at := v.(placedAt)
		if !within(at.group, group) {
			return true
		}
		if _, process := k.(placement); process {
			n++ // a label names an exited holder's placement, not a process
		}
		pin := at.pin.Union(h.setOf(at.group))
		if pin == at.pin {
			return true
		}
		at.pin = pin
		h.keep.placedAt.Store(k, at)
		pl, ok := k.(placement)
		if label, isLabel := k.(int); isLabel {
			if o, taken := h.keep.takenBack.Load(label); taken {
				pl, ok = placement{o.(*orphanListener).pid, o.(*orphanListener).start}, true
			}
		}
		if ok {
			if err := h.places.record(pl.pid, pl.start, at); err != nil {
				h.log.WithError(err).Warn("placement log")
			}
		}
		return true
	})
	h.anchors.Range(func(_, v any) bool {
		// Records of processes judged through such a placement, kept for
		// their threads and nowhere else (anchorOf).
		if p := v.(*anchorEntry).p; p != nil && p.lay.Load() == nil {
			if a := *p.anchor.Load(); within(a, group) {
				pin := p.pinned.Load().Union(h.setOf(a))
				p.pinned.Store(&pin)
			}
		}
		return true
	})
	h.keep.takenBack.Range(func(_, v any) bool {
		o := v.(*orphanListener)
		o.mu.Lock()
		lay := o.lay
		o.mu.Unlock()
		if lay != nil {
			layers[lay] = true
			return true
		}
		// Not found in a chain yet: its places are the log's lines.
		for g, pin := range h.places.spotsOf(o.tag) {
			if within(g, group) {
				h.recordSpot(o.tag, g, pin.Union(h.setOf(g)))
			}
		}
		return true
	})
	for lay := range layers {
		for g, pin := range lay.placed() {
			if within(g, group) {
				h.addPlace(lay, g, pin.Union(h.setOf(g)))
			}
		}
	}
	return n
}

// addPlace records the place group of lay with pin (layer.addPlace) and
// logs it under lay's tag where that is new.
func (h *Holder) addPlace(lay *layer, group string, pin policy.Set) {
	if lay.addPlace(group, pin) {
		h.recordSpot(progTag(lay.prog), group, pin)
	}
}

// setOf is what group denies, or where it is gone, its nearest ancestor
// still in the tree.
func (h *Holder) setOf(group string) policy.Set {
	for g := group; ; g, _ = fs.ParentRel(g) {
		if set, ok := h.tree.Denied(g); ok || g == "" {
			return set
		}
	}
}

// recordSpot logs the place group of the layer tagged tag with pin, where
// the log lacks any of its numbers.
func (h *Holder) recordSpot(tag, group string, pin policy.Set) {
	if err := h.places.recordSpot(tag, group, pin); err != nil {
		h.log.WithError(err).Warn("placement log")
	}
}

// discover adds to the tree the child groups of restricted group g that
// were made behind the mount's back (the tree learns of a group when it is
// looked up through the mount), each with a copy of g's set as
// Tree.Ensure gives it, and returns them. Called for groups with members
// in their subtree only: a child of an empty group has no member to hold.
func (h *Holder) discover(g string) []string {
	if deny, ok := h.tree.Denied(g); !ok || deny.Empty() {
		return nil
	}
	path, done, err := shortDir(h.dirOf(g))
	if err != nil {
		return nil
	}
	defer done()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dir unix.Stat_t
	if unix.Fstat(int(f.Fd()), &dir) != nil {
		return nil
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil
	}
	var added []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		child := e.Name()
		if g != "" {
			child = g + "/" + child
		}
		if _, known := h.tree.Denied(child); known || child == h.mp.group {
			// The mount point's group is judged as g (mountPoint), before
			// the mount covers it too, when the first scan runs (helper-60:
			// taken in, its save failed with EXDEV and every write to its
			// ancestors with EIO).
			continue
		}
		// A mount on it (this mirror's own mount point, when it lies in
		// the hierarchy) is not a group of the mirror.
		var st unix.Stat_t
		if unix.Fstatat(int(f.Fd()), e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) != nil ||
			st.Dev != dir.Dev || h.tree.Ensure(child) != nil {
			continue
		}
		h.log.WithField("group", "/"+child).Debug("found a group made behind the mount's back")
		added = append(added, child)
	}
	return added
}

// holdMembers holds the members of one group, as PolicyChanged describes.
// Called with h.mu held.
func (h *Holder) holdMembers(group string, self int, scan bool) error {
	const maxPasses = 8
	retried := map[int]bool{}
	for pass := 0; pass < maxPasses; pass++ {
		deny, ok := h.tree.Denied(group)
		if !ok || deny.Empty() {
			return nil
		}
		pids, err := readProcs(h.dirOf(group))
		if err != nil {
			return err
		}
		pids = h.mountPointMembers(group, pids)
		fresh := 0
		var grows []growReq
		var unheld []int
		for _, pid := range pids {
			if h.self(pid) || pid == 1 {
				continue // never restricted, as Move refuses them
			}
			p := h.known(pid)
			if p != nil && (p.lay.Load() == nil || p.lay.Load().closed.Load()) {
				// Its layer's listener is closed and it did not get a
				// new one (a growth did not find it): hold it afresh.
				h.forget(pid, p)
				p = nil
			}
			need := policy.Set{}
			if p != nil {
				need = h.need(p, group)
			}
			if (p == nil || !h.covered(p, need)) && scan && h.frozen(pid) {
				// Left until it is thawed: a deny fails with EBUSY for it,
				// but a scan's hold would only wait 2 s (errFrozen).
				h.noteFrozen(pid, group)
				continue
			}
			if p == nil {
				unheld = append(unheld, pid)
			} else if !h.covered(p, need) {
				grows = append(grows, growReq{pid: pid, p: p, need: need})
			}
		}
		if len(grows) > 0 {
			n, err := h.grow(grows, self)
			if err != nil {
				return err
			}
			fresh += n
		}
		var firsts []*job
		for _, pid := range unheld {
			if len(grows) > 0 && h.known(pid) != nil {
				// The growth above took it in, a child that carried its
				// parent's layer, and gave it the new one: held already.
				// Planned again, it would be held a second time (EBUSY,
				// its own listener is open) and recorded with the
				// parent's layer, and killed by the next growth.
				continue
			}
			m, held, err := h.planNew(pid, group, pid == self, false)
			if m != nil {
				firsts = append(firsts, &job{members: []*member{m}})
				continue
			}
			if held && err == nil {
				// It carries the layer of a held ancestor, and so will
				// any child it forks: nothing new to look for. Counted,
				// a held shell that keeps forking would never let the
				// passes settle.
				continue
			}
			n, err := h.counted(pid, group, held, err)
			if err != nil {
				return err
			}
			fresh += n
		}
		var failed error
		h.runAll(firsts, func(j *job) {
			m := j.members[0]
			rerr := h.recordNew(j)
			if inject.ListenerRefused(rerr) && !retried[m.pid] {
				// A listener in its chain that no layer known yet owns:
				// a child forked while its parent was held in this pass
				// carries the parent's new layer, recorded once that job
				// ends. The next pass finds it (an aarch64 run of
				// TestLiveForkRace: the deny failed with EBUSY, 1 run).
				retried[m.pid] = true
				fresh++
				return
			}
			if scan && rerr == nil {
				// A member that entered behind the mount's back: the
				// scan's move, one line a process (a deny through the
				// mount logs its one line for all its members).
				h.log.WithFields(logrus.Fields{"pid": m.pid, "group": "/" + group}).
					Info("held a process that entered the group behind the mount's back")
			}
			n, err := h.counted(m.pid, group, m.underHeld, rerr)
			fresh += n
			if failed == nil {
				failed = err
			}
		})
		if failed != nil {
			return failed
		}
		if fresh == 0 {
			return nil
		}
	}
	// Members keep appearing faster than they can be held (a chain of
	// processes each forking the next and exiting): the change cannot be
	// said to hold for all of them.
	h.log.WithField("group", "/"+group).Warn("members did not settle while being held")
	return syscall.EAGAIN
}

// review grows the layers of held processes anchored in group's subtree
// whose anchor's set, or the set pinned when they were placed, their
// layer does not cover; their cgroup may lie outside that subtree now,
// where holdMembers does not see them. Over the whole tree (the scan) it
// also drops the records of processes that are gone. Called with h.mu
// held.
func (h *Holder) review(group string, self int) error {
	var grows []growReq
	for pid, p := range h.snapshot() {
		if group == "" && h.known(pid) != p {
			continue // the scan's review forgets processes that are gone
		}
		anchor := *p.anchor.Load()
		if !within(anchor, group) && !h.placedWithin(p, group) {
			continue
		}
		if need := h.need(p, anchor); !h.covered(p, need) && h.known(pid) == p {
			grows = append(grows, growReq{pid: pid, p: p, need: need})
		}
	}
	if len(grows) == 0 {
		return nil
	}
	_, err := h.grow(grows, self)
	return err
}

// errShared refuses a process that shares its memory or file table with
// another (logged with the other's PID): the write fails with EBUSY, and a
// restarted daemon does not take it for one that loaded a listener of its
// own (helper-48: it killed it, or the process sharing its memory).
var errShared = fmt.Errorf("it shares its memory or file table with another process: %w",
	syscall.EBUSY)

// placedWithin tells whether p is judged by its layer's places (widerOf)
// and one of them lies in group's subtree: a deny there reaches it, before
// the write returns (helper-48: it reached it at the next scan, and never
// where its layer could not grow, the write saying 0).
func (h *Holder) placedWithin(p *proc, group string) bool {
	lay := p.lay.Load()
	if p.wider.Load() == nil || lay == nil {
		return false
	}
	for g := range lay.placed() {
		if within(g, group) {
			return true
		}
	}
	return false
}

// snapshot copies the map of known processes.
func (h *Holder) snapshot() map[int]*proc {
	h.pmu.RLock()
	defer h.pmu.RUnlock()
	m := make(map[int]*proc, len(h.procs))
	for pid, p := range h.procs {
		m[pid] = p
	}
	return m
}

// need is every number process p is judged by in group: the group's set,
// its anchor's, and the set pinned when it was placed (and the io_uring
// calls with them, see judged).
func (h *Holder) need(p *proc, group string) policy.Set {
	s := h.deniedSet(group).Union(h.deniedSet(*p.anchor.Load())).Union(*p.pinned.Load())
	return h.withUring(s.Union(h.widerOf(p)))
}

// withUring is s and, if s denies anything, the io_uring calls, as Decide
// judges them.
func (h *Holder) withUring(s policy.Set) policy.Set {
	if s.Empty() {
		return s
	}
	return s.Union(h.uring)
}

// covered tells whether p's layers enforce need: its notifying layer
// covers every number in full (none is one it lets run with SIGURG), and
// seccomp, which cannot be notified, is denied by a fixed layer if need
// holds it.
func (h *Holder) covered(p *proc, need policy.Set) bool {
	lay := p.lay.Load()
	if lay == nil {
		return false
	}
	if need.Has(h.cov.seccomp) && !lay.static.Has(h.cov.seccomp) {
		return false
	}
	n := need
	n.Remove(h.cov.seccomp)
	return lay.cover.Contains(n) && n.Intersect(lay.passed).Empty()
}

// refreshUnion records the union of every group's deny set, which first
// layers cover. Called with h.mu held, before holds.
func (h *Holder) refreshUnion() {
	var u policy.Set
	for _, g := range h.tree.Paths() {
		s, _ := h.tree.Denied(g)
		u = u.Union(s)
	}
	h.cov.setUnion(h.withUring(u))
}

// counted turns the result of holding member pid of group into what
// holdMembers counts: 1 for a process held now, or for one that exited
// without a held ancestor (it may have left unheld children: look
// again), 0 for one that exited under a held ancestor; and the errno
// that fails the pass, logged.
func (h *Holder) counted(pid int, group string, heldParent bool, err error) (int, error) {
	switch {
	case err == nil:
		return 1, nil
	case errors.Is(err, syscall.ESRCH):
		if heldParent {
			return 0, nil
		}
		return 1, nil
	}
	h.log.WithFields(logrus.Fields{"pid": pid, "group": "/" + group}).
		WithError(err).Warn("could not hold a member")
	return 0, errnoOf(err)
}

// known returns what the holder knows of process pid, forgetting an entry
// whose PID now names another process.
func (h *Holder) known(pid int) *proc {
	h.pmu.RLock()
	p := h.procs[pid]
	h.pmu.RUnlock()
	if p == nil {
		return nil
	}
	if st, err := startTime(pid); err != nil || st != p.start {
		h.pmu.Lock()
		if h.procs[pid] == p {
			delete(h.procs, pid)
		}
		h.pmu.Unlock()
		return nil
	}
	return p
}

// forget drops the record of process pid, if it is still p.
func (h *Holder) forget(pid int, p *proc) {
	h.pmu.Lock()
	if h.procs[pid] == p {
		delete(h.procs, pid)
	}
	h.pmu.Unlock()
}

func (h *Holder) setProc(pid int, p *proc) {
	h.pmu.Lock()
	old := h.procs[pid]
	h.procs[pid] = p
	h.pmu.Unlock()
	if old != nil && old != p {
		// anchorOf's cache may hold the record replaced: a call judged by
		// it went on being judged as before a move or a restart's restore
		// (helper-43: an orphan moved through the mount after a restart
		// stayed denied what it had been).
		h.forgetAnchors(pid)
	}
}

// exitedOr returns ESRCH when process pid has exited (a zombie, or gone),
// and err otherwise: ptrace refuses an exited task with EPERM, which would
// read as a refusal.
//
// A process in the middle of exiting counts as gone too (PF_EXITING in
// its flags): its injected load can fail, with EBUSY among others, while
// the kernel tears it down. An EBUSY is given a few milliseconds for an
// exit to show before it stands.
func exitedOr(pid int, err error) error {
	for wait := 0; ; wait++ {
		if exiting(pid) {
			return syscall.ESRCH
		}
		if !errors.Is(err, syscall.EBUSY) || wait == 4 {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pfExiting is PF_EXITING of the kernel's task flags.
const pfExiting = 0x4

// exiting tells whether pid is gone, a zombie, or exiting. A zombie
// leader whose other threads run on is none of these.
func exiting(pid int) bool {
	f, err := statFields(pid)
	if err != nil || len(f) < 7 || f[0] == "X" {
		return true
	}
	if f[0] == "Z" {
		return procfs.ThreadCount(pid) < 2 // no thread but the zombie leader
	}
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	return flags&pfExiting != 0
}

// heldAncestor returns the nearest held ancestor of pid, if any.
func (h *Holder) heldAncestor(pid int) *proc {
	for i := 0; i < 64 && pid > 1; i++ {
		ppid, err := parentOf(pid)
		if err != nil || ppid <= 1 {
			return nil
		}
		if p := h.known(ppid); p != nil {
			return p
		}
		pid = ppid
	}
	return nil
}

// refused remembers the processes whose own filters refused their first
// hold, by PID and start time, until they exit: a later hold is refused
// without stopping them again.
type refused struct {
	mu sync.Mutex
	m  map[int]refusal
}

type refusal struct {
	start uint64
	err   error
}

// refusedMax bounds the record; it starts afresh when full.
const refusedMax = 4096

func (h *Holder) refuse(pid int, start uint64, err error) {
	if start == 0 {
		return
	}
	h.refusals.mu.Lock()
	defer h.refusals.mu.Unlock()
	if h.refusals.m == nil || len(h.refusals.m) >= refusedMax {
		h.refusals.m = map[int]refusal{}
	}
	h.refusals.m[pid] = refusal{start, err}
}

// refusedBefore returns the error that refused process pid, started at
// start, before; nil if none did.
func (h *Holder) refusedBefore(pid int, start uint64) error {
	h.refusals.mu.Lock()
	defer h.refusals.mu.Unlock()
	r, ok := h.refusals.m[pid]
	if !ok {
		return nil
	}
	if r.start != start || start == 0 {
		delete(h.refusals.m, pid)
		return nil
	}
	return r.err
}

// holdNew gives process pid, not held yet, its first layer for group, or
// records that it carries the layer of a held ancestor it was forked
// from. Called with h.mu held.
func (h *Holder) holdNew(pid int, group string, self bool) error {
	m, _, err := h.planNew(pid, group, self, true)
	if m == nil {
		return err
	}
	h.run(&job{members: []*member{m}}, func(j *job) { err = h.recordNew(j) })
	return err
}

// errStrict refuses a process in seccomp strict mode: no filter can join
// that mode, and the first call injected into it would kill it (strict
// mode allows only read, write, exit and rt_sigreturn).
var errStrict = fmt.Errorf("in seccomp strict mode, which takes no filter: %w", syscall.EINVAL)

// planNew decides how process pid, not held yet, is to be held in group.
// It returns the member to inject into; or nil and the result, when the
// process inherited the layer of a held ancestor or is gone. It also
// tells whether pid has a held ancestor. placed: group is where the
// process is placed (a move through the mount, or its logged placement),
// rather than where a pass found it (see inherit).
func (h *Holder) planNew(pid int, group string, self, placed bool) (*member, bool, error) {
	start, err := startTime(pid)
	if err != nil {
		return nil, h.heldAncestor(pid) != nil, syscall.ESRCH
	}
	mode, filters := seccompState(pid)
	if mode == seccompStrict {
		return nil, false, errStrict
	}
	m := &member{pid: pid, start: start, group: group,
		need: h.withUring(h.deniedSet(group)), self: self, filters: filters, placed: placed}
	if m.filters == 0 {
		// Without a filter it carries no layer, of a held ancestor or
		// any other: the ancestors need not be looked at.
		return m, false, nil
	}
	// A process forked from one held by this daemon, after that hold,
	// carries its layer. But neither descent nor start time proves that a
	// process does: one forked after the hold by a child of the held
	// process that was forked before it carries none, nor does one forked
	// with CLONE_PARENT by such a child, or given to a held subreaper as
	// an orphan; taken as held, one with a filter of its own was left
	// unheld (helper-30, 4 of 4). Its chain says: the newest filter that
	// hands calls on must be one of this daemon's open layers. One that
	// started before the hold is injected straight away, and so is the
	// writer, which cannot stop before its write is answered: the chain
	// of either is read once it is stopped (install, recordNew).
	anc := h.heldAncestor(pid)
	m.underHeld = anc != nil
	switch {
	case anc != nil && self && !h.covered(anc, m.need):
		// The writer, whose chain is read only after its write, joins
		// the growth of its ancestor's layer for the new group: a member
		// of a growth gets a layer of its own by injection, proof enough
		// whatever it carried (helper-33: its chain read after its
		// write, the layer it carried did not cover the group, and it
		// was killed). One that carries another layer, whose listener
		// then refuses the new one, is killed (fail closed).
		m.anc = anc
		return nil, true, h.inherit(m)
	case anc != nil && !self && startNanos(start) > anc.heldAt()+tickNanos:
		lay, err := h.chainLayer(pid)
		if err != nil {
			// It could not stop for its chain: nor would it for a layer
			// (and each try waits up to inject.DefaultTimeout).
			return nil, true, exitedOr(pid, err)
		}
		if lay != nil {
			m.anc, m.adopted = newProc(0, lay, group), true
			return nil, true, h.inherit(m)
		}
	}
	return m, m.underHeld, nil
}

// inherit records member m as carrying the layer of its held ancestor,
// and grows that layer if it does not cover m's group. Placed (a move),
// it is anchored at m's group; found by a pass, where it was born
// (bornAt): a carrier moved behind the mount's back into the group a pass
// looks at was anchored there, and the set of the group it had left no
// longer judged it (helper-38, F3: a child of an exited holder made the
// calls that holder's group denied once a deny had grown the layer).
func (h *Holder) inherit(m *member) error {
	lay := m.anc.lay.Load()
	at, born := placedAt{}, false
	if !m.placed {
		at, born = h.bornAt(m.pid, m.start, lay)
	}
	if !born {
		at = placedAt{group: m.group}
		if m.placed && h.placerMayCarry(m) {
			// Placed by a writer that may carry a layer: itself, or a
			// parent judged by its layer's places, which placed its new
			// child in a group laxer than its birth (helper-49, 4 of 4).
			// Where it was born is known no better for that.
			at.wider = h.widerFor(m.pid, m.start, lay, h.heldAncestor(m.pid))
			if b, ok := h.bornAt(m.pid, m.start, lay); ok && b.anchorID != 0 &&
				h.identityOf(b.group) != b.anchorID {
				// Born to an anchor whose group was made again since: it
				// keeps that group's identity and pin (anchorRemade).
				at.pin, at.anchorID = b.pin, b.anchorID
			}
		}
	}
	p := newProc(m.start, lay, at.group)
	p.adopted.Store(m.adopted)
	switch {
	case !m.placed:
		// Recorded where a pass found it, from its line or its chain, as
		// anchorOf records one at its first call: as a writer it may have
		// been born wherever its layer was placed (confinement). Found so
		// by the scan before its first decided call, an orphan born in
		// S, away from its holder in A, was confined by A alone: it
		// allowed a call in S (aarch64 runs of
		// TestCarrierPlacedAwayFromItsHolder, 3 of 6; here 2 of 2 once
		// the test let a scan meet it first).
		p.inferred.Store(h.foundInferred(m.pid, m.start))
	case h.placerMayCarry(m):
		// Placed by itself, or by a writer that may carry a layer: where
		// it was born is known no better for that, as for a known process
		// that places itself (Move). A child of a held shell, born in S
		// and unknown, that placed itself in a group under its holder's
		// was recorded exact there, and then allowed a call in S or moved
		// S's members out (helper-64 F2, 12 of 12).
		p.inferred.Store(true)
	}
	if !at.wider.Empty() {
		p.wider.Store(&at.wider)
	}
	h.setProc(m.pid, p)
	h.placePinned(m.pid, p, at.group, at.pin, at.anchorID)
	if need := h.need(p, m.group); !h.covered(p, need) {
		_, err := h.grow([]growReq{{pid: m.pid, p: p, need: need}}, selfPid(m))
		if err != nil {
			// Not grown, not recorded: the writer's record was by descent
			// alone (planNew).
			h.forget(m.pid, p)
		}
		return err
	}
	return nil
}

// placerMayCarry tells whether the writer that places member m through the
// mount (Move, which sets Holder.writer) may carry a layer: m itself, or a
// thread with seccomp filters. A writer without any is trusted with where
// the process was born, as a move of a known process by one is (Move).
func (h *Holder) placerMayCarry(m *member) bool {
	return m.self || h.writer != 0 && seccompFilters(h.writer) > 0
}

// bornAt returns where process pid (started at start), found carrying
// layer lay by its chain, is to be anchored: where the last daemon placed
// it, else where its held ancestor that carries lay is anchored, else
// where lay's holder is (or, for a holder that exited before a restart,
// was placed); false when none is known. These are where anchorOf judges
// its calls through lay's listener.
func (h *Holder) bornAt(pid int, start uint64, lay *layer) (placedAt, bool) {
	if v, ok := h.keep.placedAt.Load(placement{pid, start}); ok {
		return v.(placedAt), true
	}
	line := h.heldAncestor(pid)
	if line != nil && line.lay.Load() == lay {
		return placedAt{group: *line.anchor.Load(), pin: *line.pinned.Load(),
			wider: h.widerFor(pid, start, lay, line), anchorID: line.anchorID.Load()}, true
	}
	if v, ok := h.holders.Load(lay.holderKey()); ok && v.(*proc).lay.Load() == lay {
		// Born where the holder is, or where another carrier of the layer
		// is placed (widerFor).
		hp := v.(*proc)
		return placedAt{group: *hp.anchor.Load(), pin: *hp.pinned.Load(),
			wider: h.widerFor(pid, start, lay, line), anchorID: hp.anchorID.Load()}, true
	}
	if lay.label != 0 {
		if v, ok := h.keep.placedAt.Load(lay.label); ok {
			return v.(placedAt), true
		}
	}
	return placedAt{}, false
}

// foundInferred tells whether process pid (started at start), recorded
// where a pass found it rather than placed, is to be marked inferred: yes,
// unless the last daemon placed it and its placement log line says not.
func (h *Holder) foundInferred(pid int, start uint64) bool {
	v, exact := h.keep.placedAt.Load(placement{pid, start})
	return !exact || v.(placedAt).inferred
}

func selfPid(m *member) int {
	if m.self {
		return m.pid
	}
	return 0
}

// recordNew records the outcome of a first hold.
func (h *Holder) recordNew(j *job) error {
	m := j.members[0]
	if err := m.err; err != nil {
		if inject.FilterKills(err) {
			h.refuse(m.pid, m.start, err)
		}
		shared, _ := sharing(err)
		busy := inject.ListenerRefused(err) && !m.self && tracerOf(m.pid) == 0
		if busy {
			// A listener in its chain: a child of a held process, or an
			// orphan of one (reparented when its parent exited), carries
			// that process's layer; or a listener of its own refused the
			// daemon's (helper-18), which its chain tells.
			if lay := h.orphanLayer(m.pid); lay != nil {
				m.anc, m.adopted = newProc(0, lay, m.group), true
				return h.inherit(m)
			}
		}
		h.logFailed(j, "could not hold a process")
		if shared != "" {
			return errShared
		}
		return err
	}
	p := newProc(m.start, m.lay, m.group)
	if m.self && m.filters > 0 {
		// The writer placing itself, with filters: its chain is read only
		// after its write returns (carried), and until then another of
		// its threads may write, judged by this record. Inferred from
		// the start: recorded exact meanwhile, an orphan born in S
		// allowed a call in S from its second thread, or moved S's
		// members out (helper-66 F1, 10 of 10).
		p.inferred.Store(true)
	}
	if m.was != nil {
		h.takeClosedPlaces(p, m.lay, m.was) // a carrier of a closed layer
	}
	h.setProc(m.pid, p)
	h.holders.Store(m.lay.holderKey(), p)
	h.place(m.pid, p, m.group)
	if !m.lay.static.Empty() {
		h.warnFixed(m.pid)
	}
	return nil
}

func (h *Holder) warnFixed(pid int) {
	h.log.WithField("pid", pid).Warn("denied seccomp to a running process with a fixed " +
		"filter; allowing it again will not reach this process, and no further layer can go in")
}

// growReq is a held process whose layer does not cover need.
type growReq struct {
	pid  int
	p    *proc
	need policy.Set
}

// grow gives every process carrying the layer of a request a new layer
// covering the request's need (see job). It returns how many processes
// got one. A family that could not be stopped whole changes nothing and
// fails the call with its errno (EBUSY for a traced member); a member
// that got no new layer after the old listener closed is killed, and the
// call fails. Called with h.mu held.
//
// A family refused at the check for a process sharing a member's memory
// (inject.MemoryBusy: nothing changed) is tried again, 1 ms later, up to
// memoryTries times in all, as a single hold is: a machine busy creating
// tasks (the test suite's packages side by side) failed a deny now and
// then with EAGAIN.
func (h *Holder) grow(reqs []growReq, self int) (int, error) {
	if self == 0 && h.writer != 0 {
		self = tgidOf(h.writer)
	}
	n := 0
	for try := 1; ; try++ {
		k, again, err := h.growOnce(reqs, self, try == memoryTries)
		n += k
		if err != nil || len(again) == 0 {
			return n, err
		}
		time.Sleep(time.Millisecond)
		reqs = again
	}
}

// memoryTries bounds the tries of a growth that the memory check refused.
const memoryTries = 10

// growOnce is one try of grow. Unless last, it returns the requests of the
// families that the memory check refused, unrecorded, for another try.
func (h *Holder) growOnce(reqs []growReq, self int, last bool) (int, []growReq, error) {
	families := map[*layer]*job{}
	var order []*layer
	for _, r := range reqs {
		lay := r.p.lay.Load()
		j := families[lay]
		if j == nil {
			if !lay.static.Empty() {
				h.log.WithField("pid", r.pid).Warn("refused: seccomp is denied to the process " +
					"in the kernel, so no further layer can go in")
				return 0, nil, syscall.EPERM
			}
			j = &job{old: lay, writer: self}
			families[lay] = j
			order = append(order, lay)
		}
		j.members = append(j.members, &member{pid: r.pid, start: r.p.start, p: r.p,
			need: r.need, self: r.pid == self, req: true, maybe: r.p.adopted.Load()})
	}
	// Every known process that carries one of these layers goes with it.
	for pid, p := range h.snapshot() {
		if j := families[p.lay.Load()]; j != nil && !j.has(pid) && h.known(pid) == p {
			// One adopted from its chain that does not carry
			// the layer after all shows it at the load (maybe).
			j.members = append(j.members, &member{pid: pid, start: p.start, p: p,
				need: h.need(p, *p.anchor.Load()), self: pid == self,
				maybe: p.adopted.Load()})
		}
	}
	n, failed := 0, error(nil)
	for _, lay := range order {
		j := families[lay]
		// Every member gets the same generous cover: the old one and
		// what any of them needs (without seccomp, each its own).
		var all policy.Set
		for _, m := range j.members {
			all = all.Union(m.need)
		}
		all.Remove(h.cov.seccomp)
		for _, m := range j.members {
			m.also = all
		}
	}
	jobs := make([]*job, len(order))
	for i, lay := range order {
		jobs[i] = families[lay]
	}
	if len(jobs) > 1 {
		all := map[int]*job{}
		for _, j := range jobs {
			for _, m := range j.members {
				all[m.pid] = j
			}
		}
		for _, j := range jobs {
			j.others = map[int]bool{}
			for pid, o := range all {
				if o != j {
					j.others[pid] = true
				}
			}
		}
	}
	// Families are disjoint (a process carries one live layer), so they
	// grow side by side.
	var again []growReq
	h.runAll(jobs, func(j *job) {
		if !last && inject.MemoryBusy(j.err) {
			for _, m := range j.members {
				if m.req {
					again = append(again, growReq{pid: m.pid, p: m.p, need: m.need})
				}
			}
			return
		}
		n += h.recordGrown(j)
		if failed == nil {
			failed = j.failure()
		}
	})
	return n, again, failed
}

// has tells whether pid is a member of j.
func (j *job) has(pid int) bool {
	for _, m := range j.members {
		if m.pid == pid {
			return true
		}
	}
	return false
}

// failure is the errno that j fails its write with.
func (j *job) failure() error {
	if j.err != nil {
		return errnoOf(j.err)
	}
	for _, m := range j.members {
		if m.err != nil && !errors.Is(m.err, syscall.ESRCH) {
			return errnoOf(m.err)
		}
		if m.spared && m.req {
			// Its adoption was wrong: what it needs did not reach it.
			return syscall.EBUSY
		}
	}
	return nil
}

// recordGrown records the new layers of a grown family and returns how
// many members got one. A member left without one after the old listener
// closed is killed: the new numbers would run unjudged in it.
func (h *Holder) recordGrown(j *job) int {
	if j.err != nil {
		h.logFailed(j, "could not grow the layer of a held process; nothing changed")
		return 0
	}
	n := 0
	for _, m := range j.members {
		if m.spared && m.p != nil && m.p.lay.Load() == j.old {
			// Adopted with a layer it does not carry: held afresh (and
			// adopted anew, among the layers still open) when next met.
			h.forget(m.pid, m.p)
		}
		if m.err != nil || m.lay == nil {
			if m.err != nil && !errors.Is(m.err, syscall.ESRCH) && !m.self {
				h.log.WithField("pid", m.pid).WithError(m.err).
					Error("could not grow the layer of a held process; killing it (fail closed)")
				unix.Kill(m.pid, unix.SIGKILL)
			}
			continue
		}
		h.inheritPlaces(m.lay, j.old)
		p := m.p
		if p == nil {
			// Found by the growth among its holders' children or in their
			// groups (an orphan), not placed: inferred, as inherit has it
			// (helper-64 F1: an orphan first met so allowed a call in the
			// group it was born in, 8 of 8).
			h.log.WithFields(logrus.Fields{"pid": m.pid, "group": "/" + m.group,
				"child": m.descent}).Debug("taken into a growth: it carried the old layer")
			p = newProc(m.start, m.lay, m.group)
			p.inferred.Store(h.foundInferred(m.pid, m.start))
			if !m.wider.Empty() {
				p.wider.Store(&m.wider)
			}
			h.setProc(m.pid, p)
			h.placePinned(m.pid, p, m.group, m.pin, m.anchorID)
		} else {
			p.lay.Store(m.lay)
			p.adopted.Store(false)
			h.relogTag(m.pid, p)
		}
		h.holders.Store(m.lay.holderKey(), p)
		n++
	}
	return n
}

// inheritPlaces gives lay, a layer that replaced old in a grown family,
// old's places, logged under lay's tag: its carriers were born where old's
// were. A process judged by its layer's places was judged, after a growth,
// by the new layer's alone: a deny in its birth group did not reach it, and
// after a restart its other places were lost (a deny of sysinfo in S in
// TestOrphanGivenToReaper, then a restart: its getppid ran).
func (h *Holder) inheritPlaces(lay, old *layer) {
	if old == nil || lay == old {
		return
	}
	if err := h.places.recordLine(progTag(lay.prog), progTag(old.prog)); err != nil {
		h.log.WithError(err).Warn("placement log")
	}
	for g, pin := range old.placed() {
		h.addPlace(lay, g, pin)
	}
}

// Scan holds every member of every restricted group that is not held yet,
// and grows every layer that does not cover what its process is judged by
// (after a move behind the mount's back, say).
func (h *Holder) Scan() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshUnion()
	h.restore.Do(h.holdPlaced)
	empty := h.emptyGroups()
	groups := h.tree.Paths()
	for i := 0; i < len(groups); i++ {
		g := groups[i]
		if empty(g) {
			continue
		}
		groups = append(groups, h.discover(g)...)
		if err := h.holdMembers(g, 0, true); err != nil {
			h.log.WithField("group", "/"+g).WithError(err).Warn("scan: members not held")
		}
	}
	if err := h.review("", 0); err != nil {
		h.log.WithError(err).Warn("scan: layers not grown")
	}
}

// emptyGroups returns a test for the scan: whether group g and its
// subtree have no process, by cgroup v2's cgroup.events ("populated 0"),
// read once a group and never below a group found empty. Most groups of a
// large tree are empty, and one read then spares the reads of their
// cgroup.procs and of their subtree's. The kernel sets "populated 1"
// before the write that moves a process in returns, so the scan misses
// no member it would have found in cgroup.procs. A group without the file
// (cgroup v1, the root of the hierarchy) counts as populated.
func (h *Holder) emptyGroups() func(g string) bool {
	seen := map[string]bool{}
	var empty func(g string) bool
	empty = func(g string) bool {
		if e, ok := seen[g]; ok {
			return e
		}
		e := false
		if p, _ := fs.ParentRel(g); g != "" && empty(p) {
			e = true
		} else {
			e = unpopulated(h.dirOf(g))
		}
		seen[g] = e
		return e
	}
	return empty
}

// unpopulated reports whether cgroup.events in dir says "populated 0".
func unpopulated(dir string) bool {
	dir, done, err := shortDir(dir)
	if err != nil {
		return false
	}
	defer done()
	fd, err := unix.Open(filepath.Join(dir, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var b [256]byte
	n, err := unix.Read(fd, b[:])
	if err != nil || n <= 0 {
		return false
	}
	for _, line := range strings.Split(string(b[:n]), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v == "0"
		}
	}
	return false
}

// holdPlaced holds again every process that a previous daemon of this
// mirror held, wherever it is now, anchored where it was placed: its old
// layer lost its listener with that daemon, so without a new one every
// call it hands over would fail for good, and it would be judged by
// whatever group it moved to behind the mount's back. Called with h.mu
// held, once, by the first Scan.
func (h *Holder) holdPlaced() {
	for p, at := range h.restored {
		group, in := at.group, at.group
		// A group removed behind the mount's back (or while no daemon
		// ran): it is held where the tree still has a group, its
		// nearest ancestor, and stays anchored to the old group with the
		// set pinned when it was placed there, so it gains nothing.
		for _, ok := h.tree.Denied(in); !ok && in != ""; _, ok = h.tree.Denied(in) {
			in, _ = fs.ParentRel(in)
		}
		err := h.holdNew(p.pid, in, false)
		if err == nil {
			err = h.repin(p.pid, in, group, at.pin, at.anchorID)
		}
		if q := h.known(p.pid); err == nil && q != nil {
			// How it was judged, as the log kept it (helper-41: after a
			// restart an orphan was judged where it was placed alone;
			// helper-42: a child older than its parent's move was not
			// told from a younger one, and one that was judged by its
			// place alone was judged by its layer's other places too).
			h.restoreFlags(p.pid, q, at)
			if q.inferred.Load() || q.wider.Load() != nil || at.movedNs != 0 {
				h.placePinned(p.pid, q, group, at.pin, at.anchorID)
			}
		}
		switch {
		case err == nil || errors.Is(err, syscall.ESRCH):
		case errors.Is(err, syscall.EBUSY) && h.keep.unsure.Load():
			// The keeper may have a copy of a listener in its chain
			// that this daemon did not take, or one whose holder
			// exited: not necessarily an escape. Its calls through such
			// a listener are judged where it was placed.
			h.keep.placedAt.Store(p, at)
			h.log.WithFields(logrus.Fields{"pid": p.pid, "placed": "/" + group}).
				Warn("could not hold again a process the last daemon held: its chain has " +
					"a listener, which may be one the keeper kept")
		case errors.Is(err, syscall.EBUSY) && !errors.Is(err, errShared) &&
			tracerOf(p.pid) == 0:
			// It was held, and while no daemon ran it loaded a listener
			// of its own, which now decides the calls ours would have:
			// an escape. Fail closed.
			h.log.WithFields(logrus.Fields{"pid": p.pid, "placed": "/" + group}).
				Error("a process held by the last daemon took a seccomp listener of its " +
					"own while no daemon ran; killing it")
			unix.Kill(p.pid, unix.SIGKILL)
		default:
			h.log.WithFields(logrus.Fields{"pid": p.pid, "placed": "/" + group}).
				WithError(err).Warn("could not hold again a process the last daemon held")
		}
	}
	h.restored = nil
}

// repin anchors process pid, just held in group in, to the group it was
// placed in before the restart (of identity id) with the numbers pinned
// then, and grows its layer to cover them.
func (h *Holder) repin(pid int, in, group string, pin policy.Set, id uint64) error {
	p := h.known(pid)
	if p == nil {
		return nil
	}
	h.placePinned(pid, p, group, pin, id)
	if need := h.need(p, in); !h.covered(p, need) {
		_, err := h.grow([]growReq{{pid: pid, p: p, need: need}}, 0)
		return err
	}
	return nil
}

// Run scans every ScanInterval until Close, and drops cached /proc files of
// threads that are gone.
func (h *Holder) Run() {
	h.stopped.Add(1)
	go func() {
		defer h.stopped.Done()
		t := time.NewTicker(ScanInterval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				// Moves behind the mount's back are seen from here on.
				h.tids.renew()
				h.Scan()
				h.reviewClosed()
				h.pruneFiles()
				h.pruneReapers()
			}
		}
	}()
}

// pruneReapers forgets the processes that may receive orphans once they
// no longer live (Holder.reapers): a PID that names another process now
// must not pass for one.
func (h *Holder) pruneReapers() {
	h.reapers.Range(func(k, _ any) bool {
		pl := k.(placement)
		if st, ok := liveStart(pl.pid); !ok || st != pl.start {
			h.reapers.Delete(k)
		}
		return true
	})
}

func (h *Holder) pruneFiles() {
	var b [1]byte
	h.cgfiles.Range(func(k, v any) bool {
		f := v.(*os.File)
		if _, err := f.ReadAt(b[:], 0); err != nil {
			if h.cgfiles.CompareAndDelete(k, f) {
				f.Close()
			}
			h.anchors.Delete(k)
		}
		return true
	})
	// Where threads cannot be watched, a thread's exit is seen only with
	// its process's.
	h.anchors.Range(func(k, v any) bool {
		if e := v.(*anchorEntry); e.r.tgid != 0 && !h.threadIs(k.(int), e) {
			h.anchors.CompareAndDelete(k, v)
		}
		return true
	})
	h.tids.prune()
}
