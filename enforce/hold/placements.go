package hold

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/policy"
)

// placementDir keeps one placement log per mirror. /run is memory: it
// outlives the daemon but not a reboot, as the processes it describes do.
var placementDir = "/run/cgsyscall"

// placement is one held process and its anchor group.
type placement struct {
	pid   int
	start uint64
}

// placedAt is where a held process was placed: its anchor group, and the set
// pinned when it was placed there, which outlives the group (an rmdir
// behind the mount's back does not lift it); and for the holder of a layer,
// that layer's tag (layerTag), by which a restarted daemon that takes the
// layer's listener back after the holder exited finds the layer in the
// chain of a process that carries it (takenBack).
type placedAt struct {
	group string
	pin   policy.Set
	tag   string
	// wider: sets that judge it wherever it is (proc.wider); never
	// logged, only passed from bornAt.
	wider policy.Set
	// inferred: its record was inferred from its ancestors (proc.inferred),
	// logged as a "~" before PIN; widened: it was judged by wider too, "~~".
	inferred, widened bool
	// movedNs and movedPid are proc.placedNs and placedPid, logged as
	// "@NS.PID" after PIN: when it was last placed in another group.
	movedNs, movedPid int64
	// reaper: it may receive orphans (Holder.reapers), a "^" first of
	// the markers before PIN.
	reaper bool
	// went is, for the holder of a layer (tag), when that layer went in
	// and when the first of its line did: logged once a tag, on a "went"
	// line (placements.went).
	went wentAt
	// anchorID is the identity of the real cgroup it was placed in
	// (proc.anchorID), logged on an "anchor PID START ID" line after its
	// line; 0 for none (an older daemon's line).
	anchorID uint64
}

// placements is an append-only log of where the daemon placed each held
// process (its anchor), so that a restarted daemon holds those processes
// again, wherever they are now, and keeps judging a process that left its
// anchor's subtree behind the mount's back by that anchor. A line is
// "PID START GROUP PIN" with GROUP quoted and PIN the pinned numbers,
// comma-separated ("-" for none; a line without it, of an older daemon,
// pins nothing); the last line of a process wins; a torn last line (the
// daemon killed mid-write) is skipped. A holder's line is followed by
// "layer PID START TAG", its layer's tag in hex, written in the same
// write(2) (a line that an older daemon skips); a "~" before PIN marks a
// record inferred from its ancestors (proc.inferred), "~~" one judged by
// wider too, a "^" before those one that may receive orphans as a
// subreaper, and "@NS.PID" after PIN when it was last placed in another
// group; an "anchor PID START ID" line after it (which an older daemon
// skips too) keeps the identity of the group it was placed in, so that a
// restarted daemon tells a group made again while none ran (anchorRemade);
// "place TAG GROUP PIN" lines keep where the carriers of each layer
// were anchored (spots), and "line NEW OLD" lines which layer a grown one
// replaced (prev), so that the places of a closed layer stay while a
// layer of its line is logged: a carrier of the closed layer that its
// family's growth missed is judged by them (closedPlaces); "went TAG NS
// FIRST" lines keep when each layer, and the first of its line, went in;
// "closed TAG DEPTH FIRST" lines the lines whose every layer is closed,
// while a process may carry one (closed.go). Its first
// line, "key HEX", is the key of the layers' tags (mark.go), made when the log is. The log is
// compacted to the live processes when a daemon starts, and whenever it
// has grown to twice its compacted length and 1,024 lines more: a service
// that forks short-lived children, each placed once, grew it without end
// in /run, which is memory (found by helper-21: 4,105 lines in a few
// seconds of a fork loop).
type placements struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	key   layerKey
	lines int // lines in the file
	limit int // lines that make record compact it
	// dead holds the last placements of processes that no longer lived
	// when the daemon started, until keepDead: the keeper may give back
	// their listeners. kept are the holders of layers whose listeners are
	// open, live or not: their lines stay while their children may call
	// through those listeners, judged where the holder was placed
	// (helper-37: the line of a holder that exited while the daemon ran
	// went at the next compaction, or with the log at a clean umount).
	dead map[placement]placedAt
	kept map[placement]bool
	// spots holds, by layer tag, the groups where processes carrying that
	// layer were anchored, with the numbers pinned there (layer.places),
	// from "place TAG GROUP PIN" lines: a restarted daemon gives them back
	// to the layer it takes back (helper-41: an orphan of a carrier placed
	// away from its holder, whose line was gone with it, was judged by
	// its holder's group alone after a restart).
	spots map[string]map[string]policy.Set
	// prev maps the tag of a grown layer to the tag of the layer it
	// replaced, from "line NEW OLD" lines (helper-67: the places of a
	// closed layer went at the compaction of a start, and after a second
	// restart an orphan carrying it was judged where it was held).
	prev map[string]string
	// went holds, by layer tag, when that layer went in and when the
	// first layer of its line did (0 for a layer that grew from none),
	// from "went TAG NS FIRST" lines: a restarted daemon gives them back
	// to the layer it takes back, so that a process born before the
	// layer's hold is not taken for one that may carry it (helper-69 F5),
	// and an orphan of an older layer of its line, born before its
	// holder, still is (helper-69 F2, F3).
	went map[string]wentAt
	// shared holds the maps of spots that spots shares (interned), by
	// their groups and pins.
	shared map[string]map[string]policy.Set
	// closed holds, by the tag of its last layer, each line whose every
	// layer is closed while a process may still carry one of them (closed.go),
	// from "closed TAG DEPTH FIRST" lines: its places are that tag's spots.
	closed map[string]closedAt
}

// closedAt is what the log keeps of a closed line: how deep its first
// layer sat and when it went in (0: not known).
type closedAt struct {
	depth int
	first int64
}

// wentAt is when a layer went in and when the first layer of its line did
// (layer.at and firstAt), CLOCK_BOOTTIME nanoseconds.
type wentAt struct{ at, first int64 }

// compactSlack is how many lines beyond twice the compacted length the log
// may grow before it is compacted again.
const compactSlack = 1024

// newLineScanner reads the log's lines, which name groups: a group made
// behind the mount's back can lie deeper than bufio's 64 KiB a line, and
// a line too long for the scanner would end the reading there.
func newLineScanner(f *os.File) *bufio.Scanner {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 16<<20)
	return sc
}

// readPlacements reads the log at path: its key, if it has a good one, and
// the last placement of each process that still lives, and of those that
// do not (dead).
func readPlacements(path string) (live, dead map[placement]placedAt, key layerKey,
	haveKey bool) {

	live, dead = map[placement]placedAt{}, map[placement]placedAt{}
	if f, err := os.Open(path); err == nil {
		sc := newLineScanner(f)
		for sc.Scan() {
			if hexKey, ok := strings.CutPrefix(sc.Text(), "key "); ok {
				if k, err := parseLayerKey(hexKey); err == nil && !haveKey {
					key, haveKey = k, true
				}
			} else if p, tag, ok := parseLayerLine(sc.Text()); ok {
				if w, ok := live[p]; ok {
					w.tag = tag
					live[p] = w
				}
			} else if p, id, ok := parseAnchorLine(sc.Text()); ok {
				if w, ok := live[p]; ok {
					w.anchorID = id
					live[p] = w
				}
			} else if p, w, ok := parsePlacement(sc.Text()); ok {
				live[p] = w
			}
		}
		f.Close()
	}
	for p, w := range live {
		if st, ok := liveStart(p.pid); !ok || st != p.start {
			delete(live, p)
			dead[p] = w
		}
	}
	return live, dead, key, haveKey
}

// writePlacements replaces the log at path with key, live, the closed
// lines, and the lines, times and spots of the layers whose tags live or
// closed has (and of the layers those replaced), and opens it for
// appending.
func writePlacements(path string, key layerKey, live map[placement]placedAt,
	spots map[string]map[string]policy.Set, lines map[string]string,
	went map[string]wentAt, closed map[string]closedAt) (*os.File, error) {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("placement log: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "key", key.String())
	for p, at := range live {
		fmt.Fprint(w, formatLines(p, at))
	}
	tags := keptTags(live, lines)
	for tag, c := range closed {
		tags[tag] = true
		addLine(tags, lines, tag)
		fmt.Fprint(w, formatClosed(tag, c))
	}
	for tag := range tags {
		if old := lines[tag]; old != "" {
			fmt.Fprintf(w, "line %s %s\n", tag, old)
		}
	}
	for tag := range tags {
		if at, ok := went[tag]; ok {
			fmt.Fprint(w, formatWent(tag, at))
		}
	}
	for tag, groups := range spots {
		if tags[tag] {
			for g, pin := range groups {
				fmt.Fprint(w, formatSpot(tag, g, pin))
			}
		}
	}
	if err := w.Flush(); err == nil {
		err = os.Rename(tmp, path)
	}
	f.Close()
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("placement log: %w", err)
	}
	if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("placement log: %w", err)
	}
	return f, nil
}

// openPlacements reads the log of mirror, keeps the entries of processes
// that still live, rewrites it compacted and opens it for appending.
func openPlacements(mirror string) (*placements, map[placement]placedAt, layerKey, error) {
	if err := os.MkdirAll(placementDir, 0o700); err != nil {
		return nil, nil, layerKey{}, fmt.Errorf("placement log: %w", err)
	}
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(mirror), "/"), "/", "_")
	path := filepath.Join(placementDir, "placements-"+name)
	live, dead, key, haveKey := readPlacements(path)
	spots, lines, went, closed := readSpots(path)
	if !haveKey {
		// A new key: the layers of the processes listed, if any, were
		// tagged with one that is lost, and are not found by their tags.
		var err error
		if key, err = newLayerKey(); err != nil {
			return nil, nil, key, fmt.Errorf("placement log: %w", err)
		}
	}
	// The dead stay until keepDead: an exited holder's children, served
	// by its listener, are judged where it was placed.
	f, err := writePlacements(path, key, union(live, dead), spots, lines, went, closed)
	if err != nil {
		return nil, nil, key, err
	}
	l := &placements{f: f, path: path, key: key, dead: dead, kept: map[placement]bool{},
		spots: spots, prev: lines, went: went, closed: closed}
	for tag, m := range spots {
		spots[tag] = l.interned(m)
	}
	l.setLines(len(live) + len(dead) + 1)
	return l, live, key, nil
}

// union returns a map of the entries of a and b.
func union(a, b map[placement]placedAt) map[placement]placedAt {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// deadAt returns the last placement of process p, which no longer lived
// when the daemon started, and keeps it in the log until unkeep.
func (l *placements) deadAt(p placement) (placedAt, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.dead[p]
	l.kept[p] = true
	return w, ok
}

// keep keeps p's placement in the log, once p has exited too, until
// unkeep: p holds a layer whose listener is open.
func (l *placements) keep(p placement) {
	l.mu.Lock()
	l.kept[p] = true
	l.mu.Unlock()
}

// unkeep lets p's placement go at the next compaction once p is gone.
func (l *placements) unkeep(p placement) {
	l.mu.Lock()
	delete(l.kept, p)
	l.mu.Unlock()
}

// keepDead drops the placements of dead processes that deadAt did not
// ask for, compacting the log now.
func (l *placements) keepDead() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dead = nil
	l.compact()
}

// setLines records that the file has n lines, just compacted.
func (l *placements) setLines(n int) {
	l.lines, l.limit = n, 2*n+compactSlack
}

// compact rewrites the log with the live processes' last placements;
// l.mu is held. On failure the log goes on as it was.
func (l *placements) compact() error {
	live, dead, _, _ := readPlacements(l.path)
	keep := union(live, l.dead)
	for p, w := range dead {
		if l.kept[p] {
			keep[p] = w
		}
	}
	f, err := writePlacements(l.path, l.key, keep, l.spots, l.prev, l.went, l.closed)
	if err != nil {
		l.limit *= 2 // not again at the next line
		return err
	}
	// Memory keeps the places and lines of every layer for the daemon's
	// life, those the file drops too: an orphan that carries a closed
	// layer is never logged, and is judged by them when it is held afresh
	// (helper-69: dropped from memory at the second compaction that left
	// them out of the file, they let such an orphan allow a call in its
	// birth group, 3 of 3). What that costs: docs/LIMITATIONS.md.
	l.f.Close()
	l.f = f
	l.setLines(len(keep) + 1)
	return nil
}

func formatPlacement(p placement, w placedAt) string {
	pin := "-"
	if !w.pin.Empty() {
		nums := w.pin.Numbers()
		parts := make([]string, len(nums))
		for i, n := range nums {
			parts[i] = strconv.Itoa(n)
		}
		pin = strings.Join(parts, ",")
	}
	switch {
	case w.inferred && w.widened:
		pin = "~~" + pin
	case w.inferred:
		pin = "~" + pin
	}
	if w.reaper {
		pin = "^" + pin
	}
	if w.movedNs != 0 {
		pin += fmt.Sprintf("@%d.%d", w.movedNs, w.movedPid)
	}
	return fmt.Sprintf("%d %d %s %s", p.pid, p.start, strconv.Quote(w.group), pin)
}

// formatLines is p's placement line, its layer line where w has a tag,
// and its anchor line where w has an identity.
func formatLines(p placement, w placedAt) string {
	s := formatPlacement(p, w) + "\n"
	if w.tag != "" {
		s += fmt.Sprintf("layer %d %d %s\n", p.pid, p.start, w.tag)
	}
	if w.anchorID != 0 {
		s += fmt.Sprintf("anchor %d %d %d\n", p.pid, p.start, w.anchorID)
	}
	return s
}

// lineCount is how many lines formatLines makes of w.
func lineCount(w placedAt) int {
	n := 1
	if w.tag != "" {
		n++
	}
	if w.anchorID != 0 {
		n++
	}
	return n
}

// formatSpot is the line of one spot of a layer: "place TAG GROUP PIN".
func formatSpot(tag, group string, pin policy.Set) string {
	return fmt.Sprintf("place %s %s\n", tag, strings.TrimPrefix(
		formatPlacement(placement{}, placedAt{group: group, pin: pin}), "0 0 "))
}

// readSpots reads the "place", "line", "went" and "closed" lines of the
// log at path.
func readSpots(path string) (spots map[string]map[string]policy.Set, lines map[string]string,
	went map[string]wentAt, closed map[string]closedAt) {
	spots, lines, went = map[string]map[string]policy.Set{}, map[string]string{},
		map[string]wentAt{}
	closed = map[string]closedAt{}
	f, err := os.Open(path)
	if err != nil {
		return spots, lines, went, closed
	}
	defer f.Close()
	sc := newLineScanner(f)
	for sc.Scan() {
		if w := strings.Fields(sc.Text()); len(w) == 3 && w[0] == "line" && isTag(w[1]) &&
			isTag(w[2]) {
			lines[w[1]] = w[2]
			continue
		}
		if tag, at, ok := parseWent(sc.Text()); ok {
			went[tag] = at
			continue
		}
		if tag, c, ok := parseClosed(sc.Text()); ok {
			closed[tag] = c
			continue
		}
		rest, ok := strings.CutPrefix(sc.Text(), "place ")
		if !ok {
			continue
		}
		tag, rest, ok := strings.Cut(rest, " ")
		if !ok || !isTag(tag) {
			continue
		}
		if _, w, ok := parsePlacement("1 0 " + rest); ok {
			if spots[tag] == nil {
				spots[tag] = map[string]policy.Set{}
			}
			spots[tag][w.group] = spots[tag][w.group].Union(w.pin)
		}
	}
	return spots, lines, went, closed
}

// keptTags returns the tags of the layers of live and of every layer
// those replaced, back to the first of each line: the layers whose places
// the log keeps. Every line is followed, also where several grown layers
// replaced one (the members of a family: helper-68 found the second
// member's line dropped, and with its holder gone the places were lost).
func keptTags(live map[placement]placedAt, lines map[string]string) map[string]bool {
	tags := map[string]bool{}
	for _, at := range live {
		if at.tag != "" {
			tags[at.tag] = true
			addLine(tags, lines, at.tag)
		}
	}
	return tags
}

// addLine adds to tags the tags of the layers that the layer tagged tag
// replaced (lines), back to the first of its line or to one tags has, whose
// line is there already.
func addLine(tags map[string]bool, lines map[string]string, tag string) {
	for old := lines[tag]; old != "" && !tags[old]; old = lines[old] {
		tags[old] = true
	}
}

// lineOf returns the tags of the layers that the layer tagged tag replaced,
// back to the first of its line.
func (l *placements) lineOf(tag string) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	addLine(out, l.prev, tag)
	return out
}

// isTag tells whether s is a layer's tag: 16 hex digits.
func isTag(s string) bool {
	_, err := strconv.ParseUint(s, 16, 64)
	return err == nil && len(s) == 16
}

// recordLine appends that the layer tagged tag replaced the one tagged old
// (a growth), if the log does not have it yet.
func (l *placements) recordLine(tag, old string) error {
	if tag == "" || old == "" || tag == old {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prev[tag] == old {
		return nil
	}
	l.prev[tag] = old
	l.lines++
	return l.append(fmt.Sprintf("line %s %s\n", tag, old))
}

// append writes line, already counted in l.lines, and compacts the log
// once it has grown past its limit; l.mu is held.
func (l *placements) append(line string) error {
	if _, err := l.f.WriteString(line); err != nil {
		return err
	}
	if l.lines > l.limit {
		return l.compact()
	}
	return nil
}

// recordSpot appends the spot group (with pin) of the layer tagged tag,
// if the log does not have it yet.
func (l *placements) recordSpot(tag, group string, pin policy.Set) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := l.newSpot(tag, group, pin)
	if line == "" {
		return nil
	}
	return l.append(line)
}

// newSpot records the spot group (with pin) of the layer tagged tag and
// returns its line, counted, or "" when tag is "" or the log has it with
// every number of pin (a later line adds to an earlier one's, readSpots);
// l.mu is held.
func (l *placements) newSpot(tag, group string, pin policy.Set) string {
	old, ok := l.spots[tag][group]
	if tag == "" || ok && old.Union(pin).Equal(old) {
		return ""
	}
	next := maps.Clone(l.spots[tag])
	if next == nil {
		next = map[string]policy.Set{}
	}
	next[group] = old.Union(pin)
	l.spots[tag] = l.interned(next)
	l.lines++
	return formatSpot(tag, group, old.Union(pin))
}

// interned returns the map of spots equal to m that l shares among the
// tags that have those spots, m itself where it is the first; l.mu is held
// or l not shared yet. Most layers of a daemon share a few sets of places
// (a group or two each), and the log keeps them for the daemon's life: a
// map of its own for each layer cost about 1.2 KB (a policy.Set is 128
// bytes, and a map keeps room for 8), 3.4 KB of resident memory for each
// process held and grown (helper-68 F3). The maps shared are never
// changed: newSpot makes a new one.
func (l *placements) interned(m map[string]policy.Set) map[string]policy.Set {
	groups := slices.Sorted(maps.Keys(m))
	var key strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&key, "%q %v\n", g, m[g].Numbers())
	}
	if shared, ok := l.shared[key.String()]; ok {
		return shared
	}
	if l.shared == nil {
		l.shared = map[string]map[string]policy.Set{}
	}
	l.shared[key.String()] = m
	return m
}

// spotsOf returns the spots the log has for the layer tagged tag.
func (l *placements) spotsOf(tag string) map[string]policy.Set {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.spots[tag])
}

// formatWent is the line of when the layer tagged tag went in:
// "went TAG NS FIRST".
func formatWent(tag string, at wentAt) string {
	return fmt.Sprintf("went %s %d %d\n", tag, at.at, at.first)
}

// parseWent parses a "went TAG NS FIRST" line.
func parseWent(line string) (string, wentAt, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "went" || !isTag(f[1]) {
		return "", wentAt{}, false
	}
	at, err1 := strconv.ParseInt(f[2], 10, 64)
	first, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || at <= 0 || first < 0 || first > at {
		return "", wentAt{}, false
	}
	return f[1], wentAt{at, first}, true
}

// newWent records when the layer tagged tag went in and returns its line,
// counted, or "" when tag is "", the time is not known yet, or the log
// has it; l.mu is held.
func (l *placements) newWent(tag string, at wentAt) string {
	if _, ok := l.went[tag]; ok || tag == "" || at.at == 0 {
		return ""
	}
	l.went[tag] = at
	l.lines++
	return formatWent(tag, at)
}

// wentOf returns when the layer tagged tag went in, and the first layer of
// its line, as the log has them (zeros where it does not).
func (l *placements) wentOf(tag string) wentAt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.went[tag]
}

// formatClosed is the line of a closed line: "closed TAG DEPTH FIRST".
func formatClosed(tag string, c closedAt) string {
	return fmt.Sprintf("closed %s %d %d\n", tag, c.depth, c.first)
}

// parseClosed parses a "closed TAG DEPTH FIRST" line.
func parseClosed(line string) (string, closedAt, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "closed" || !isTag(f[1]) {
		return "", closedAt{}, false
	}
	depth, err1 := strconv.Atoi(f[2])
	first, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || depth < 1 || first < 0 {
		return "", closedAt{}, false
	}
	return f[1], closedAt{depth, first}, true
}

// recordClosed appends the closed line whose last layer is tagged tag,
// if the log does not have it: its places stay in the log until
// dropClosed.
func (l *placements) recordClosed(tag string, c closedAt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.closed[tag]; ok || tag == "" {
		return nil
	}
	l.closed[tag] = c
	l.lines++
	return l.append(formatClosed(tag, c))
}

// dropClosed forgets the closed line tagged tag: no process can carry it.
// The file drops it at its next compaction.
func (l *placements) dropClosed(tag string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.closed, tag)
}

// deadTags returns the layer tags of the placements of processes that no
// longer lived when the daemon started, until keepDead.
func (l *placements) deadTags() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var tags []string
	for _, w := range l.dead {
		if w.tag != "" {
			tags = append(tags, w.tag)
		}
	}
	return tags
}

// grown tells whether the layer tagged tag grew from another, as the log
// has it: it has the layer it replaced ("line"), or when the first layer
// of its line went in.
func (l *placements) grown(tag string) bool {
	return l.wentOf(tag).first != 0 || len(l.lineOf(tag)) > 0
}

// closedLines returns the closed lines the log has.
func (l *placements) closedLines() map[string]closedAt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.closed)
}

// parseAnchorLine parses an "anchor PID START ID" line.
func parseAnchorLine(line string) (placement, uint64, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "anchor" {
		return placement{}, 0, false
	}
	pid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[2], 10, 64)
	id, err3 := strconv.ParseUint(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 || id == 0 {
		return placement{}, 0, false
	}
	return placement{pid, start}, id, true
}

// parseLayerLine parses a "layer PID START TAG" line.
func parseLayerLine(line string) (placement, string, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "layer" || len(f[3]) != 16 {
		return placement{}, "", false
	}
	pid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[2], 10, 64)
	_, err3 := strconv.ParseUint(f[3], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 {
		return placement{}, "", false
	}
	return placement{pid, start}, f[3], true
}

func parsePlacement(line string) (placement, placedAt, bool) {
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 {
		return placement{}, placedAt{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	quoted, err3 := strconv.QuotedPrefix(f[2])
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 {
		return placement{}, placedAt{}, false
	}
	group, _ := strconv.Unquote(quoted)
	w := placedAt{group: group}
	rest := f[2][len(quoted):]
	if r, ok := strings.CutPrefix(rest, " ^"); ok {
		w.reaper, rest = true, " "+r
	}
	if r, ok := strings.CutPrefix(rest, " ~~"); ok {
		w.inferred, w.widened, rest = true, true, " "+r
	} else if r, ok := strings.CutPrefix(rest, " ~"); ok {
		w.inferred, rest = true, " "+r
	}
	if r, moved, ok := strings.Cut(rest, "@"); ok {
		ns, pid, ok := strings.Cut(moved, ".")
		var err1, err2 error
		w.movedNs, err1 = strconv.ParseInt(ns, 10, 64)
		w.movedPid, err2 = strconv.ParseInt(pid, 10, 64)
		if !ok || err1 != nil || err2 != nil || w.movedNs <= 0 {
			return placement{}, placedAt{}, false
		}
		rest = r
	}
	switch {
	case rest == "" || rest == " -":
	case strings.HasPrefix(rest, " "):
		for _, x := range strings.Split(rest[1:], ",") {
			n, err := strconv.Atoi(x)
			if err != nil || n < 0 || n >= policy.Capacity {
				return placement{}, placedAt{}, false
			}
			w.pin.Add(n)
		}
	default:
		return placement{}, placedAt{}, false
	}
	return placement{pid, start}, w, true
}

// record appends one placement. A single write(2) of one short line with
// O_APPEND: a kill -9 leaves the line whole or not at all.
func (l *placements) record(pid int, start uint64, w placedAt) error {
	return l.recordSpotted(pid, start, w, "")
}

// recordSpotted is record, with the spot of w's group and pin for the layer
// tagged spot in the same write(2) where the log does not have it ("" for
// none).
func (l *placements) recordSpotted(pid int, start uint64, w placedAt, spot string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := formatLines(placement{pid, start}, w) + l.newSpot(spot, w.group, w.pin) +
		l.newWent(w.tag, w.went)
	l.lines += lineCount(w)
	return l.append(line)
}

// close closes the log, and removes it when none of its processes lives.
func (l *placements) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.f.Close()
	if len(l.kept) > 0 {
		return err // an exited holder whose listener the keeper keeps
	}
	f, oerr := os.Open(l.path)
	if oerr != nil {
		return err
	}
	defer f.Close()
	sc := newLineScanner(f)
	for sc.Scan() {
		if p, _, ok := parsePlacement(sc.Text()); ok {
			// A zombie counts as gone (helper-26: a member killed just
			// before the umount kept the log).
			if st, ok := liveStart(p.pid); ok && st == p.start {
				return err
			}
		}
	}
	os.Remove(l.path)
	return err
}

// tickNanos is one clock tick (USER_HZ, 100 on Linux) in nanoseconds: the
// resolution of a process's start time in /proc/PID/stat.
const tickNanos = int64(1e9 / 100)

// startNanos turns a start time in clock ticks into boot-time nanoseconds.
func startNanos(ticks uint64) int64 { return int64(ticks) * tickNanos }

// bootNanos is CLOCK_BOOTTIME now, the clock of process start times.
func bootNanos() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// tracedHere tells whether process pid is traced by a thread of this
// daemon.
func tracedHere(pid int) bool {
	t := tracerOf(pid)
	return t != 0 && tgidOf(t) == os.Getpid()
}

// tracerOf is the TracerPid of process pid (0 when untraced).
func tracerOf(pid int) int {
	v, err := statusField(pid, "TracerPid")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}
