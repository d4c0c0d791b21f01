package hold

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
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
// process may carry one of its layers. The scan checks that, after the line
// closed and at each scan while it stays: a process with at least as many
// seccomp filters as the line's first layer had, born after that layer went
// in, and not known to the daemon with an open layer (whose children carry
// that layer too) may carry it; one inside the mirror, or one that wrote to
// the mount meanwhile, is stopped once, for a moment, to read its filter
// chain, which says whether it carries a layer of the line (by the layers'
// tags); another outside the mirror is not stopped (a process the daemon
// has no business with), and counts as carrying every closed line it may
// carry. A line that no process carries is dropped. A writer with filters
// that may carry a closed line (mayCarry) is judged by the line's places
// where its chain showed a layer of the line, where its chain was not read
// (outside the mirror, or born since the last scan), and before the line's
// first check. The placement log keeps the line
// ("closed TAG DEPTH FIRST"), across restarts. helper-73 F3: counted by
// time and depth alone, a line no process carried stayed while any process
// with filters started after its first hold lived, the refused writer
// among them.
type closedLines struct {
	mu sync.Mutex
	// lines holds what the last check found of each closed line, by the
	// tag of its last layer: how many processes carry it or may; a line
	// not checked yet is not there.
	lines map[string]int
	// chains holds the processes the last check looked at, with what it
	// found in their chains.
	chains map[placement]chainSeen
	// writers holds the writers judged as ones that may carry a closed
	// line whose chains were not read: the next check reads them.
	writers map[placement]bool
}

// chainSeen is what a check found of a process: its filter count, and the
// tags of the daemon's layers in its chain, nil where the chain was not
// read.
type chainSeen struct {
	filters int
	tags    map[string]bool
	tries   int // reads that failed: given up after readTries
}

// readTries bounds the reads of a process's chain that fail (traced by
// another process, or not stopping within checkStop, as a writer waiting
// for the daemon's answer does); after that it counts as a carrier.
const readTries = 3

// checkStop bounds the wait for a process's stop when a check reads its
// chain, under the holds' lock, and checkReads the time a check spends
// reading chains: the rest wait for the next scan, counted as carriers
// meanwhile. The lock is taken for each read alone, so a hold through the
// mount waits one read at most (helper-74 F1: processes that never stop,
// read one after another under the lock, stalled holds for seconds).
const (
	checkStop  = 50 * time.Millisecond
	checkReads = 200 * time.Millisecond
)

// lineGone records that lay, the last open layer of its line (tag), is
// gone, where it is a grown layer (an older layer of its line, closed
// under its carriers, may still be carried); first and depth are those of
// the line's first layer (layer.firstAt, firstDepth). The next scan checks
// whether a process carries it (reviewClosed).
func (h *Holder) lineGone(tag string, first int64, depth int) {
	if tag == "" || depth == 0 {
		return
	}
	if err := h.places.recordClosed(tag, closedAt{depth, first}); err != nil {
		h.log.WithError(err).Warn("placement log")
	}
	h.closed.mu.Lock()
	delete(h.closed.lines, tag) // not checked since it closed
	h.closed.mu.Unlock()
	h.log.WithFields(logrus.Fields{"layer": tag, "depth": depth, "first": first}).Debug(
		"the last layer of a grown line is gone: the scan checks who may carry the line")
}

// mayCarryClosed reports whether process pid, started at start, with
// filters filters, may carry the closed line c (tagged tag), as the last
// check found.
func (h *Holder) mayCarryClosed(tag string, c closedAt, pid int, start uint64,
	filters int) bool {
	if !c.fits(start, filters) {
		return false
	}
	h.closed.mu.Lock()
	_, checked := h.closed.lines[tag]
	seen, ok := h.closed.chains[placement{pid, start}]
	read := checked && ok && seen.tags != nil
	if !read {
		if h.closed.writers == nil {
			h.closed.writers = map[placement]bool{}
		}
		h.closed.writers[placement{pid, start}] = true
	}
	h.closed.mu.Unlock()
	return !read || h.carriesLine(seen.tags, tag)
}

// fits tells whether a process started at start (clock ticks), with
// filters filters, may carry a layer of the closed line c: it has at least
// as many filters as the line's first layer had, and was born after that
// layer went in.
func (c closedAt) fits(start uint64, filters int) bool {
	return !(c.depth < maxDepth && c.depth > filters) &&
		(c.first == 0 || startNanos(start)+tickNanos >= c.first)
}

// carriesLine reports whether tags, of a process's chain, hold a layer of
// the line whose last layer is tagged tag.
func (h *Holder) carriesLine(tags map[string]bool, tag string) bool {
	if tags[tag] {
		return true
	}
	for t := range h.places.lineOf(tag) {
		if tags[t] {
			return true
		}
	}
	return false
}

// reviewClosed checks the closed lines (see closedLines) and drops those
// that no process carries.
func (h *Holder) reviewClosed() {
	lines := h.places.closedLines()
	if len(lines) == 0 {
		h.closed.mu.Lock()
		h.closed.lines, h.closed.chains, h.closed.writers = nil, nil, nil
		h.closed.mu.Unlock()
		return
	}
	h.closed.mu.Lock()
	old, writers := h.closed.chains, h.closed.writers
	h.closed.writers = nil
	h.closed.mu.Unlock()
	chains := map[placement]chainSeen{}
	until := time.Now().Add(checkReads)
	for _, p := range h.filtered() {
		seen, ok := old[p.placement]
		if !ok {
			seen = chainSeen{filters: p.filters}
		}
		if seen.tags == nil && seen.tries < readTries && time.Now().Before(until) &&
			(writers[p.placement] || h.insideMirror(p.pid)) {
			// Under the holds' lock, as the scan's reads of chains: a
			// hold must not find the process stopped by this check (two
			// tracers).
			h.mu.Lock()
			seen.tags = h.chainTags(p.pid)
			h.mu.Unlock()
			if seen.tags == nil {
				seen.tries++
			}
		}
		chains[p.placement] = seen
	}
	// The processes that carry each line or may; a line none carries is
	// not in found.
	found := map[string]int{}
	carriers := map[string][]int{}
	for tag, c := range lines {
		for p, seen := range chains {
			if c.fits(p.start, seen.filters) &&
				(seen.tags == nil || h.carriesLine(seen.tags, tag)) {
				carriers[tag] = append(carriers[tag], p.pid)
			}
		}
		if n := len(carriers[tag]); n > 0 {
			found[tag] = n
		}
	}
	h.closed.mu.Lock()
	had := h.closed.lines
	h.closed.lines, h.closed.chains = found, chains
	h.closed.mu.Unlock()
	for tag := range lines {
		n, before := found[tag], had[tag]
		if n == 0 {
			h.places.dropClosed(tag)
		}
		// A line found carried, and one dropped after that: rare (an
		// orphan that a growth missed, or a process with filters of its
		// own outside the mirror), and why a writer with filters is
		// refused in the line's groups meanwhile. A line no process
		// carries at its first check goes without a line.
		if (n == 0) == (before == 0) {
			h.log.WithFields(logrus.Fields{"layer": tag, "processes": n}).Debug(
				"closed line checked")
			continue
		}
		var groups []string
		for g := range h.places.spotsOf(tag) {
			groups = append(groups, "/"+g)
		}
		slices.Sort(groups)
		f := logrus.Fields{"layer": tag, "groups": strings.Join(groups, " ")}
		if n == 0 {
			h.log.WithFields(f).Info("no process may carry a closed line of layers any more; " +
				"writers with filters are no longer confined by its groups")
			continue
		}
		pids := carriers[tag]
		slices.Sort(pids)
		var list []string
		for _, pid := range pids[:min(len(pids), 8)] {
			list = append(list, strconv.Itoa(pid))
		}
		f["pids"], f["processes"] = strings.Join(list, " "), n
		h.log.WithFields(f).Info("processes with filters may carry a closed line of layers: " +
			"writers with filters that may carry it too are confined by its groups")
	}
}

// chainTags returns the tags of the daemon's layers in the filter chain of
// process pid, read in one stop, or nil when it cannot be read.
func (h *Holder) chainTags(pid int) map[string]bool {
	s, err := inject.Seize(pid)
	if err != nil {
		return nil
	}
	s.Timeout = checkStop
	chain, err := s.Filters()
	s.Detach()
	if err != nil {
		return nil
	}
	tags := map[string]bool{}
	for _, f := range chain {
		if h.key.authentic(f) {
			tags[progTag(f)] = true
		}
	}
	return tags
}

// insideMirror tells whether process pid is in the mirrored subtree.
func (h *Holder) insideMirror(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	path, ok := pathOf(b, h.where.line)
	if !ok {
		return false
	}
	_, inside := h.relative(path)
	return inside
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
