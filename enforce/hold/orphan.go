package hold

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/policy"
)

// orphanLayer finds the layer that process pid carries: one of this
// daemon's live layers, whose program is the newest filter of its chain
// that hands calls on. That is a child of a held process that the daemon
// has not heard of (it made no call its layer hands over), or one
// reparented to init or a subreaper when its parent exited. The process
// is marked as adopted: the growth of any layer looks at it (orphans), and
// where its load is refused because another listener of its chain is still
// open, it is left as it was (maybe). nil when none fits, or when its
// chain could not be read.
func (h *Holder) orphanLayer(pid int) *layer {
	lay, _ := h.chainLayer(pid)
	return lay
}

// chainLayer is orphanLayer, with the error that kept the chain from
// being read (a process that cannot be stopped: traced by another, or
// waiting for a vfork child).
func (h *Holder) chainLayer(pid int) (*layer, error) {
	s, err := inject.Seize(pid)
	if err != nil {
		return nil, err
	}
	chain, err := s.Filters()
	s.Detach()
	if err != nil {
		return nil, err
	}
	return h.layerIn(chain), nil
}

// layerIn returns the open layer of this daemon's that filter chain
// carries, or nil. Its program holds a random word of its own (layer.prog):
// no other layer loads those bytes (helper-19: layers planned for the same
// set did, and the match named the wrong one), and a process without
// CAP_SYS_ADMIN cannot read them to copy. It must bear this daemon's tag
// too (mark.go): a layer taken back from the keeper has its bytes read
// from its holder's chain, where they are found by the tag, and should
// that ever find wrong bytes, a filter that another process can load is
// still not adopted.
//
// The layer need not be the newest filter that hands calls on. While its
// listener is open the kernel refuses a listener of the process's own
// (EBUSY), so a newer filter of the process's that hands calls on has
// none, and the calls it hands on fail with ENOSYS: the layer holds the
// process all the same. (Until 2026-12-05 the layer had to be that newest
// filter, and a child under such a filter of its own was left out of its
// parent's growth, after which it loaded a listener of its own and
// answered its own denied calls: helper-34.) A process with a listener of
// its own (helper-18) cannot carry an open layer, so none is found in it.
func (h *Holder) layerIn(chain [][]unix.SockFilter) *layer {
	for i := len(chain) - 1; i >= 0; i-- {
		if !h.key.authentic(chain[i]) {
			continue
		}
		// Those bytes say it all: only the daemon loads them, into one
		// process, whose children inherit them. When the layer went in
		// is not asked (a layer taken back from the keeper has the time
		// of the restart, after the orphan's birth).
		if lay := h.openLayer(chain[i]); lay != nil {
			return lay
		}
		if lay := h.takenBack(chain, i); lay != nil {
			return lay
		}
	}
	return nil
}

// closedPlaces returns the places of a closed layer of this daemon's that
// filter chain carries (the newest such filter), as the placement log has
// them by the layer's tag, or nil: a process that carried a layer whose
// family grew without it (moved, behind the mount's back, where the growth
// did not look), and whose listener was then closed. Its calls fail with
// ENOSYS, but the kernel takes a new listener in its chain, so a first
// hold goes in; it must still be judged by where that layer was placed
// (helper-66 F2: the scan held such an orphan, born in S, where it had
// moved, and recorded it placed there: it allowed a call in S, 4 of 4).
// The log keeps a closed layer's places in memory for the daemon's life,
// and across a restart while a process it names carries a layer of its
// line ("line NEW OLD").
func (h *Holder) closedPlaces(chain [][]unix.SockFilter) map[string]policy.Set {
	for i := len(chain) - 1; i >= 0; i-- {
		if !h.key.authentic(chain[i]) {
			continue
		}
		if h.openLayer(chain[i]) != nil {
			return nil
		}
		if spots := h.places.spotsOf(progTag(chain[i])); len(spots) > 0 {
			return spots
		}
	}
	return nil
}

// takenBack returns the layer of a listener taken back from the keeper
// whose holder had exited, if chain[i], authentic, is that layer's program
// (the tag that the placement log has for the holder), or nil. Its program,
// what it notifies and the chain's size are read from chain up to it, the
// filters that the holder had (a process may load filters of its own above
// its layer); the first chain that shows the layer makes it, and later
// ones find the same.
func (h *Holder) takenBack(chain [][]unix.SockFilter, i int) *layer {
	tag := progTag(chain[i])
	var found *layer
	h.keep.takenBack.Range(func(_, v any) bool {
		o := v.(*orphanListener)
		if o.tag == "" || o.tag != tag {
			return true
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.lay == nil {
			lay := &layer{holder: o.pid, start: o.start, label: o.label, prog: chain[i],
				depth: i + 1}
			lay.cover, lay.passed = h.cov.chainNotified(chain[:i+1])
			lay.cover.Remove(h.cov.seccomp)
			for _, f := range chain[:i+1] {
				lay.insns += len(f) + 4
				if h.cov.deniesSeccomp(f) {
					lay.static.Add(h.cov.seccomp)
				}
			}
			lay.setRemove(o.remove)
			lay.addPlaces(h.places.spotsOf(tag))
			// chain carries lay: the filters up to it are its holder's.
			h.restoreLine(lay, chain[:i+1], tag)
			o.lay = lay
			h.log.WithField("pid", o.pid).Info("found the layer of a listener taken back, " +
				"whose process exited, in a process that carries it; it can grow now")
		}
		if !o.lay.closed.Load() {
			found = o.lay
		}
		return false
	})
	return found
}

// openLayer returns the open layer whose program is prog, or nil.
func (h *Holder) openLayer(prog []unix.SockFilter) *layer {
	var found *layer
	consider := func(lay *layer) {
		if lay != nil && !lay.closed.Load() && slices.Equal(lay.prog, prog) {
			found = lay
		}
	}
	h.pmu.RLock()
	for _, p := range h.procs {
		consider(p.lay.Load())
	}
	h.pmu.RUnlock()
	h.holders.Range(func(_, v any) bool {
		consider(v.(*proc).lay.Load())
		return true
	})
	return found
}

// carries reports whether a filter chain may carry layer lay: it notifies
// every number lay does, and for every argument those lay does not pass.
func (c *covers) carries(chain [][]unix.SockFilter, lay *layer) bool {
	notified, partly := c.chainNotified(chain)
	return notified.Contains(lay.cover) &&
		notified.Minus(partly).Contains(lay.cover.Minus(lay.passed))
}
