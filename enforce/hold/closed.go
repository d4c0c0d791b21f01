package hold

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// Closed lines.
//
// A layer that grows is replaced by a new one, and the old layer's
// listener is closed: a process that carries the old layer and that the
// growth did not find (an orphan moved, behind the mount's back, where the
// growth did not look) fails the old layer's calls with ENOSYS, and as a
// writer it is judged by the places of the layer that replaced its own
// (mayCarry: the open layer stands for its line). Once that last layer of
// the line is gone too (the kernel tells the supervisor that no process
// uses it: gone), nothing stood for the line: such an orphan, which the
// daemon does not know and whose filter chain cannot be read while it
// writes, passed for a writer that carries nothing, and allowed calls in
// the group it was born in and moved that group's members out (helper-69
// F1, 3 of 3).
//
// So a line whose last layer is gone stays, as a closed line, while a
// process may carry one of its layers: one with at least as many filters as
// the line's first layer had, born after that layer went in, and not known
// to carry an open layer (whose children carry that layer too). The check
// reads /proc/PID/status of every process, and /proc/PID/stat of those with
// enough filters; it runs at the scan after the line closed, and again once
// a process it found has exited (its orphans may be new). A writer that may
// carry a closed line (mayCarry) is judged by its places, which the
// placement log keeps with the line ("closed TAG DEPTH FIRST"), across
// restarts. The cost, as for open layers: a process with filters of its
// own, started after such a line's first hold, is refused allows and moves
// in the line's groups while it lives.
type closedLines struct {
	mu sync.Mutex
	// cands holds, by the tag of a closed line's last layer, the processes
	// that may carry it as the last check found them; a line not checked
	// yet has none (nil).
	cands map[string][]placement
}

// lineGone records that lay, the last open layer of its line (tag), is
// gone, where it is a grown layer (an older layer of its line, closed
// under its carriers, may still be carried); first and depth are those of
// the line's first layer (layer.firstAt, firstDepth). The next scan checks
// whether a process may carry it (reviewClosed).
func (h *Holder) lineGone(tag string, first int64, depth int) {
	if tag == "" || depth == 0 {
		return
	}
	if err := h.places.recordClosed(tag, closedAt{depth, first}); err != nil {
		h.log.WithError(err).Warn("placement log")
	}
	h.closed.mu.Lock()
	if h.closed.cands == nil {
		h.closed.cands = map[string][]placement{}
	}
	h.closed.cands[tag] = nil
	h.closed.mu.Unlock()
}

// reviewClosed drops the closed lines that no process can carry any more:
// it checks each line not checked yet, and each line one of whose
// processes has exited.
func (h *Holder) reviewClosed() {
	lines := h.places.closedLines()
	if len(lines) == 0 {
		return
	}
	h.closed.mu.Lock()
	if h.closed.cands == nil {
		h.closed.cands = map[string][]placement{}
	}
	var check []string
	for tag := range lines {
		cands, ok := h.closed.cands[tag]
		if !ok || cands == nil || !allLive(cands) {
			check = append(check, tag)
		}
	}
	h.closed.mu.Unlock()
	if len(check) == 0 {
		return
	}
	procs := h.filtered()
	for _, tag := range check {
		c := lines[tag]
		var cands []placement
		for _, p := range procs {
			if p.filters >= c.depth && (c.first == 0 || startNanos(p.start)+tickNanos >= c.first) {
				cands = append(cands, p.placement)
			}
		}
		h.closed.mu.Lock()
		had := h.closed.cands[tag] != nil
		if len(cands) == 0 {
			delete(h.closed.cands, tag)
		} else {
			h.closed.cands[tag] = cands
		}
		h.closed.mu.Unlock()
		if len(cands) == 0 {
			h.places.dropClosed(tag)
		}
		// A line found carried, and one dropped after that: rare (an
		// orphan that a growth missed, or a process with filters of its
		// own started after the line's first hold), and why a writer with
		// filters is refused in the line's groups meanwhile. A line no
		// process may carry at its first check goes without a line.
		var groups []string
		for g := range h.places.spotsOf(tag) {
			groups = append(groups, "/"+g)
		}
		slices.Sort(groups)
		f := logrus.Fields{"layer": tag, "groups": strings.Join(groups, " ")}
		switch {
		case len(cands) == 0 && had:
			h.log.WithFields(f).Info("no process may carry a closed line of layers any more; " +
				"writers with filters are no longer confined by its groups")
		case len(cands) > 0 && !had:
			pids := make([]string, 0, min(len(cands), 8))
			for _, p := range cands[:cap(pids)] {
				pids = append(pids, strconv.Itoa(p.pid))
			}
			f["pids"], f["processes"] = strings.Join(pids, " "), len(cands)
			h.log.WithFields(f).Info("processes with filters may carry a closed line of " +
				"layers: writers with filters started after its first hold are confined by " +
				"its groups while they live")
		}
	}
}

// allLive reports whether every process of ps still lives.
func allLive(ps []placement) bool {
	for _, p := range ps {
		if st, ok := liveStart(p.pid); !ok || st != p.start {
			return false
		}
	}
	return true
}

// filteredProc is a process with seccomp filters, as filtered lists it.
type filteredProc struct {
	placement
	filters int
}

// filtered lists the processes that have seccomp filters and are not known
// to carry an open layer of the daemon's: those that may carry a closed
// line.
func (h *Holder) filtered() []filteredProc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []filteredProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || h.self(pid) {
			continue
		}
		n := seccompFilters(pid)
		if n == 0 {
			continue
		}
		start, ok := liveStart(pid)
		if !ok {
			continue
		}
		if p := h.known(pid); p != nil {
			if lay := p.lay.Load(); lay != nil && !lay.closed.Load() {
				continue
			}
		}
		out = append(out, filteredProc{placement{pid, start}, n})
	}
	return out
}
