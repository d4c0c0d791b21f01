package hold

import "github.com/cgsyscall/cgsyscall/enforce/inject"

// orphanLayer finds the layer that process pid (started at start), which
// has no held ancestor but a listener in its filter chain, carries: one of
// this daemon's live layers, loaded before pid started, whose numbers the
// chain notifies. That is a process forked from a held one that exited
// before the daemon heard of the child (it made no call its layer hands
// over), reparented to init or a subreaper. Where several layers would do,
// the one with the most numbers is taken; if it is the wrong one, growing
// it fails and the process is killed (fail closed). nil when none fits.
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
	strict := notified.Minus(partly)
	born := startNanos(start)
	var best *layer
	consider := func(lay *layer) {
		if lay == nil || lay.closed.Load() || lay.at.Load() > born+tickNanos ||
			!notified.Contains(lay.cover) || !strict.Contains(lay.cover.Minus(lay.passed)) {
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
