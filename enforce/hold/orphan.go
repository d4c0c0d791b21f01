package hold

import (
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/policy"
)

// orphanLayer finds the layer that process pid (started at start), which
// has no held ancestor but a listener in its filter chain, carries: one of
// this daemon's live layers, loaded before pid started, whose numbers the
// chain notifies. That is a process forked from a held one that exited
// before the daemon heard of the child (it made no call its layer hands
// over), reparented to init or a subreaper. Where several layers would do,
// the one with the most numbers is taken, and the process is marked as
// guessed: the growth of any layer looks at it (orphans), and where its
// load is refused because another listener of its chain is still open, it
// is left as it was (maybe). nil when none fits.
func (h *Holder) orphanLayer(pid int, start uint64) *layer {
	s, err := inject.Seize(pid)
	if err != nil {
		return nil
	}
	chain, err := s.Filters()
	s.Detach()
	if err != nil {
		return nil
	}
	notified, partly := h.cov.chainNotified(chain)
	born := startNanos(start)
	var best *layer
	consider := func(lay *layer) {
		if lay == nil || lay.closed.Load() || lay.at.Load() > born+tickNanos ||
			!fits(notified, partly, lay) {
			return
		}
		if best == nil || lay.cover.Len() > best.cover.Len() {
			best = lay
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
	return best
}

// carries reports whether a filter chain may carry layer lay: it notifies
// every number lay does, and for every argument those lay does not pass.
func (c *covers) carries(chain [][]unix.SockFilter, lay *layer) bool {
	notified, partly := c.chainNotified(chain)
	return fits(notified, partly, lay)
}

// fits is carries for a chain's notified numbers (partly: those only for
// some arguments).
func fits(notified, partly policy.Set, lay *layer) bool {
	return notified.Contains(lay.cover) && notified.Minus(partly).Contains(lay.cover.Minus(lay.passed))
}
