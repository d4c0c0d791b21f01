package hold

import (
	"maps"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/policy"
)

func TestPlacementLines(t *testing.T) {
	for _, w := range []placedAt{
		{group: "web/worker", pin: policy.NewSet(63, 110)},
		{group: "", pin: policy.Set{}},
		{group: "a b/\"c\"", pin: policy.NewSet(0)},
		{group: "web", pin: policy.NewSet(1), inferred: true},
		{group: "", inferred: true},
		{group: "a", pin: policy.NewSet(2, 3), inferred: true, widened: true},
		{group: "b", movedNs: 123456789, movedPid: 4321},
		{group: "c", inferred: true, widened: true, movedNs: 5, movedPid: 1},
		{group: "d", reaper: true},
		{group: "e", pin: policy.NewSet(4), reaper: true, inferred: true, movedNs: 9,
			movedPid: 2},
		{group: "f", reaper: true, inferred: true, widened: true},
	} {
		line := formatPlacement(placement{42, 7}, w)
		p, got, ok := parsePlacement(line)
		if !ok || p != (placement{42, 7}) || got != w {
			t.Errorf("%q read back as %v %+v %v", line, p, got, ok)
		}
	}
	// A line of an older daemon pins nothing; torn or garbled lines are
	// skipped.
	if _, w, ok := parsePlacement(`42 7 "web"`); !ok || w.group != "web" || !w.pin.Empty() {
		t.Errorf("old line: %+v %v", w, ok)
	}
	for _, bad := range []string{`42 7 "web`, `42 7 "web" 1,x`, `42 7 "web"x`, `0 7 "web" -`,
		`42 7 "web" 99999`, `42 7 "web" -@x.1`, `42 7 "web" -@5`, `42 7 "web" ~~~1`,
		`42 7 "web" ^^-`, `42 7 "web" ~^-`} {
		if _, _, ok := parsePlacement(bad); ok {
			t.Errorf("%q was taken", bad)
		}
	}
}

// TestPlacementTags: a holder's layer tag, and the identity of the group
// a process was placed in, go into the log after its placement, in lines
// of their own, and come back with it for a process that no longer lives
// (the keeper may give its listener back); a later placement without them
// drops them, and the log keeps them across a compaction. Lines that are
// not whole layer or anchor lines are skipped.
func TestPlacementTags(t *testing.T) {
	tempPlacementDir(t)
	l, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	// PIDs above any pid_max, so that no process lives at them.
	a, b := placement{1 << 23, 5}, placement{1<<23 + 1, 6}
	for _, r := range []struct {
		p placement
		w placedAt
	}{
		{a, placedAt{group: "g", tag: "00112233445566ff", anchorID: 1 << 40}},
		{b, placedAt{group: "h", tag: "0123456789abcdef", anchorID: 77}},
		{b, placedAt{group: "h"}},
	} {
		if err := l.record(r.p.pid, r.p.start, r.w); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		_, dead, _, _ := readPlacements(l.path)
		if w := dead[a]; w.group != "g" || w.tag != "00112233445566ff" || w.anchorID != 1<<40 {
			t.Errorf("%s: a read back as %+v, want group g, its tag and identity", when, w)
		}
		if w := dead[b]; w.group != "h" || w.tag != "" || w.anchorID != 0 {
			t.Errorf("%s: b read back as %+v, want group h, no tag, no identity", when, w)
		}
	}
	check("appended")
	// A layer's places: in the same write as a placement, or alone; again
	// only with numbers the log does not have for it (a later deny).
	if err := l.recordSpotted(a.pid, a.start, placedAt{group: "g", tag: "00112233445566ff",
		anchorID: 1 << 40}, "00112233445566ff"); err != nil {
		t.Fatal(err)
	}
	if err := l.recordSpot("00112233445566ff", "g/sub", policy.NewSet(7)); err != nil {
		t.Fatal(err)
	}
	if err := l.recordSpot("00112233445566ff", "g/sub", policy.NewSet(8)); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		st, err := os.Stat(l.path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	if err := l.recordSpot("00112233445566ff", "g/sub", policy.NewSet(7, 8)); err != nil {
		t.Fatal(err)
	}
	if after := size(); after != before {
		t.Errorf("a spot with no new number wrote %d bytes", after-before)
	}
	// The layer that a's replaced (a growth) and the one before that keep
	// their places while a's is logged; a layer of no logged line does not
	// (helper-67: the places of a closed layer went at a start's
	// compaction).
	for _, r := range [][3]string{{"aabbccddeeff0011", "s", "00112233445566ff"},
		{"aabbccddeeff0022", "s/t", "aabbccddeeff0011"}, {"1111111111111111", "u", ""}} {
		if err := l.recordSpot(r[0], r[1], policy.Set{}); err != nil {
			t.Fatal(err)
		}
		if err := l.recordLine(r[2], r[0]); err != nil {
			t.Fatal(err)
		}
	}
	checkSpots := func(when string) {
		t.Helper()
		spots, lines, _, _ := readSpots(l.path)
		got := spots["00112233445566ff"]
		if len(got) != 2 || got["g/sub"] != policy.NewSet(7, 8) || !got["g"].Empty() {
			t.Errorf("%s: spots %v, want g and g/sub (7, 8)", when, got)
		}
		if _, ok := spots["aabbccddeeff0011"]["s"]; !ok {
			t.Errorf("%s: the replaced layer's spots %v, want s", when, spots["aabbccddeeff0011"])
		}
		if _, ok := spots["aabbccddeeff0022"]["s/t"]; !ok {
			t.Errorf("%s: the first layer's spots %v, want s/t", when, spots["aabbccddeeff0022"])
		}
		if lines["00112233445566ff"] != "aabbccddeeff0011" ||
			lines["aabbccddeeff0011"] != "aabbccddeeff0022" {
			t.Errorf("%s: lines %v, want a's layer's line back to its first", when, lines)
		}
		if _, ok := spots["1111111111111111"]; ok != (when == "appended") {
			t.Errorf("%s: a layer of no logged line: spots kept %v, want %v", when, ok,
				when == "appended")
		}
	}
	checkSpots("appended")
	l.mu.Lock()
	l.dead = map[placement]placedAt{}
	l.kept[a], l.kept[b] = true, true
	err = l.compact()
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	check("compacted")
	checkSpots("compacted")
	l.f.Close()
	for _, bad := range []string{"layer 42 7 0011", "layer 42 7 001122334455667g",
		"layer 0 7 0011223344556677", "layer 42 x 0011223344556677",
		"layer 42 7 0011223344556677 x"} {
		if _, _, ok := parseLayerLine(bad); ok {
			t.Errorf("%q was taken", bad)
		}
	}
	for _, bad := range []string{"anchor 42 7", "anchor 42 7 0", "anchor 42 7 -1",
		"anchor 0 7 5", "anchor 42 x 5", "anchor 42 7 5 x", "anchor 42 7 0x5"} {
		if _, _, ok := parseAnchorLine(bad); ok {
			t.Errorf("%q was taken", bad)
		}
	}
	if p, id, ok := parseAnchorLine("anchor 42 7 18446744073709551615"); !ok ||
		p != (placement{42, 7}) || id != 1<<64-1 {
		t.Errorf("a whole anchor line read as %v %d %v", p, id, ok)
	}
}

// TestPlacementKey: the log keeps the key of the layers' tags: a second
// open (a restarted daemon) gets the key the first made, and a log whose
// processes are all gone and that was removed gets a new one.
func TestPlacementKey(t *testing.T) {
	tempPlacementDir(t)
	l1, _, k1, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	if err := l1.record(1, 1, placedAt{group: "g"}); err != nil {
		t.Fatal(err)
	}
	l1.f.Close() // as a daemon killed with SIGKILL leaves it
	l2, _, k2, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	if k2 != k1 || k1 == (layerKey{}) {
		t.Errorf("key after a restart: %v, want the first %v", k2, k1)
	}
	l2.close() // no process of it lives: the log goes
	_, _, k3, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	if k3 == k1 {
		t.Error("a new log has the key of a removed one")
	}
}

// TestPlacementCompact: a log that placements of short-lived processes
// keep growing is compacted while the daemon runs, keeping the key and
// the live process's last placement.
func TestPlacementCompact(t *testing.T) {
	tempPlacementDir(t)
	l, _, key, err := openPlacements("/sys/fs/cgroup/y")
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	start, err := startTime(me)
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for i := 0; i < 10000; i++ {
		// Gone processes (start time 1 is nobody's), and now and then
		// this one, placed in a new group.
		pid, st, group := 1000000+i, uint64(1), "gone"
		if i%100 == 0 {
			pid, st, group = me, start, "g"+strconv.Itoa(i)
		}
		if err := l.record(pid, st, placedAt{group: group}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(l.path)
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, strings.Count(string(b), "\n"))
	}
	if most > 2*2+compactSlack+1 {
		t.Errorf("the log reached %d lines with one live process, want at most %d", most,
			2*2+compactSlack+1)
	}
	l.f.Close()
	_, live, k, err := openPlacements("/sys/fs/cgroup/y")
	if err != nil {
		t.Fatal(err)
	}
	want := map[placement]placedAt{{me, start}: {group: "g9900"}}
	if k != key || len(live) != 1 || live[placement{me, start}].group != "g9900" {
		t.Errorf("after compactions: key kept %v, live %v, want %v", k == key, live, want)
	}
}

// TestOtherDaemonsLayers: a layer tagged by another daemon of the machine
// (another mirror's placement log holds its key) is a daemon's, for the
// check of a process's own filters; one tagged with a key no log holds is
// not.
func TestOtherDaemonsLayers(t *testing.T) {
	tempPlacementDir(t)
	_, _, ka, err := openPlacements("/sys/fs/cgroup/a")
	if err != nil {
		t.Fatal(err)
	}
	_, _, kb, err := openPlacements("/sys/fs/cgroup/b")
	if err != nil {
		t.Fatal(err)
	}
	stranger := testLayerKey(t)
	others.Lock()
	others.at = time.Time{}
	others.Unlock()
	_, base := generousBase(t)
	if !anyDaemons(ka, ka.mark(base)) || !anyDaemons(ka, kb.mark(base)) {
		t.Error("a layer of this daemon's or of the other mirror's is not a daemon's")
	}
	if anyDaemons(ka, stranger.mark(base)) || anyDaemons(ka, base) {
		t.Error("a layer tagged with no log's key, or an untagged program, is a daemon's")
	}
}

// tempPlacementDir points the placement logs at a directory of the test's
// own until it ends.
func tempPlacementDir(t *testing.T) {
	saved := placementDir
	placementDir = t.TempDir()
	t.Cleanup(func() { placementDir = saved })
}

// TestPlacementLongGroup: a placement in a group whose path is longer than
// bufio's 64 KiB line (deep, made behind the mount's back) is read back,
// and does not end the reading of the log at it.
func TestPlacementLongGroup(t *testing.T) {
	tempPlacementDir(t)
	l, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	start, err := startTime(self)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat(strings.Repeat("d", 250)+"/", 400) + "end"
	for _, g := range []string{"before", long} {
		if err := l.record(self, start, placedAt{group: g}); err != nil {
			t.Fatal(err)
		}
	}
	l.f.Close() // as a daemon killed with SIGKILL leaves it
	_, live, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	if got := live[placement{self, start}].group; got != long {
		t.Errorf("placement read back: %.40q (%d bytes), want the %d-byte group", got, len(got),
			len(long))
	}
}

// TestPlacementZombieGone: a log whose only placed process is a zombie
// (killed, not reaped yet) is removed at a clean exit, as one whose
// processes are all gone (helper-26: a member killed just before the
// umount kept it); one with a live process stays.
func TestPlacementZombieGone(t *testing.T) {
	tempPlacementDir(t)
	for _, zombie := range []bool{false, true} {
		child := exec.Command("sleep", "100")
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		pid := child.Process.Pid
		start, err := startTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		l, _, _, err := openPlacements("/sys/fs/cgroup/x")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.record(pid, start, placedAt{group: "g"}); err != nil {
			t.Fatal(err)
		}
		if !zombie {
			l.close()
			if _, err := os.Stat(l.path); err != nil {
				t.Errorf("the log of a live process: %v, want it kept", err)
			}
		}
		child.Process.Kill()
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, ok := liveStart(pid); !ok {
				break // a zombie now, not reaped: the test's child
			}
			if time.Now().After(deadline) {
				t.Fatal("the killed child did not become a zombie in 5 s")
			}
			time.Sleep(time.Millisecond)
		}
		if zombie {
			l.close()
			if _, err := os.Stat(l.path); !os.IsNotExist(err) {
				t.Errorf("the log of a zombie: %v, want it removed", err)
			}
		}
		child.Wait()
	}
}

// TestPlacementLinesKept: two grown layers that replaced one (two members
// of a family) each keep their line through a compaction, so the first
// layer's places stay while either is logged (helper-68: the second
// member's line was dropped). A layer of no logged line leaves the file at
// a compaction, but not memory: an orphan that carries it is never logged
// (helper-69: dropped from memory, its places let such an orphan go).
func TestPlacementLinesKept(t *testing.T) {
	tempPlacementDir(t)
	l, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	defer l.f.Close()
	const first, q, p, other = "aaaaaaaaaaaaaaaa", "1111111111111111", "2222222222222222",
		"3333333333333333"
	for _, r := range [][2]string{{first, "s"}, {q, "a"}, {p, "s"}, {other, "u"}} {
		if err := l.recordSpot(r[0], r[1], policy.Set{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tag := range []string{q, p} {
		if err := l.recordLine(tag, first); err != nil {
			t.Fatal(err)
		}
	}
	compact := func(dead map[placement]placedAt) {
		t.Helper()
		l.mu.Lock()
		l.dead = dead
		err := l.compact()
		l.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Both holders logged (PIDs above any pid_max: kept as dead), then p's
	// alone.
	hq, hp := placement{1 << 23, 5}, placement{1<<23 + 1, 6}
	compact(map[placement]placedAt{hq: {group: "a", tag: q}, hp: {group: "s", tag: p}})
	if _, lines, _, _ := readSpots(l.path); lines[q] != first || lines[p] != first {
		t.Errorf("after a compaction with both holders logged: lines %v, want q's and p's", lines)
	}
	compact(map[placement]placedAt{hp: {group: "s", tag: p}})
	spots, lines, _, _ := readSpots(l.path)
	if lines[p] != first || len(spots[first]) != 1 {
		t.Errorf("after a compaction: lines %v, spots of the first layer %v; want p's line to "+
			"it and its place s", lines, spots[first])
	}
	if _, ok := spots[other]; ok {
		t.Errorf("after a compaction: the file keeps the places of a layer of no logged line")
	}
	compact(map[placement]placedAt{hp: {group: "s", tag: p}})
	if l.spotsOf(other) == nil || l.spotsOf(first) == nil || l.prev[p] != first {
		t.Errorf("after three compactions: memory has %v for the other layer, %v for the "+
			"first, p's line %q; want u, s and the first", l.spotsOf(other), l.spotsOf(first),
			l.prev[p])
	}
}

// TestPlacementWentKept: a holder's record logs when its layer, and the
// first layer of its line, went in, once a tag, and only once the time is
// known; the log keeps it while the holder is logged, and a daemon that
// opens the log again reads it back (helper-69 F2, F3, F5: after a restart
// a layer counted from its holder's start). A line that cannot be a time
// is left out.
func TestPlacementWentKept(t *testing.T) {
	tempPlacementDir(t)
	l, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	const tag, other = "4444444444444444", "5555555555555555"
	h := placement{1 << 23, 9}
	for _, w := range []placedAt{
		{group: "a", tag: tag},                                // time not known yet
		{group: "a", tag: tag, went: wentAt{700, 300}},        // logged
		{group: "b", tag: tag, went: wentAt{700, 300}},        // not again
		{group: "b", tag: other, went: wentAt{900, 0}},        // a grown layer's own
		{group: "b", tag: "6666666666666666", went: wentAt{}}, // none
	} {
		if err := l.record(h.pid, h.start, w); err != nil {
			t.Fatal(err)
		}
	}
	bad := "went 7777777777777777 5 9\nwent 8888888888888888 x 0\n"
	if _, err := l.f.WriteString(bad); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "went "+tag+" "); n != 1 {
		t.Errorf("the log has %d went lines of the layer, want 1:\n%s", n, b)
	}
	_, _, went, _ := readSpots(l.path)
	want := map[string]wentAt{tag: {700, 300}, other: {900, 0}}
	if !maps.Equal(went, want) {
		t.Errorf("went read back: %v, want %v", went, want)
	}
	// Compacted with only the holder's last record (other's) logged, and
	// read by a daemon that opens the log again.
	l.mu.Lock()
	l.dead = map[placement]placedAt{h: {group: "b", tag: other, went: wentAt{900, 0}}}
	err = l.compact()
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, went, _ := readSpots(l.path); !maps.Equal(went, map[string]wentAt{other: {900, 0}}) {
		t.Errorf("after a compaction the file has %v, want other's alone", went)
	}
	if got := l.wentOf(tag); got != (wentAt{700, 300}) {
		t.Errorf("after a compaction memory has %v for the layer, want {700 300}", got)
	}
	l.f.Close()
	l2, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.f.Close()
	if got := l2.wentOf(other); got != (wentAt{900, 0}) {
		t.Errorf("opened again: %v, want {900 0}", got)
	}
}

// TestPlacementSpotsShared: layers with the same places share one map of
// them (helper-68 F3: a map each cost the daemon about 3.4 KB for each
// process held and grown, for its life); a new place of one of them
// leaves the others' as they were, also after the log is read again.
func TestPlacementSpotsShared(t *testing.T) {
	tempPlacementDir(t)
	l, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"1111111111111111", "2222222222222222", "3333333333333333"}
	for _, tag := range tags {
		for _, g := range []string{"a", "a/sub"} {
			if err := l.recordSpot(tag, g, policy.NewSet(5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	same := func(a, b string) bool {
		return reflect.ValueOf(l.spots[a]).Pointer() == reflect.ValueOf(l.spots[b]).Pointer()
	}
	if !same(tags[0], tags[1]) || !same(tags[1], tags[2]) {
		t.Errorf("three layers placed alike keep maps of their own")
	}
	if err := l.recordSpot(tags[2], "b", policy.NewSet(6)); err != nil {
		t.Fatal(err)
	}
	want := map[string]policy.Set{"a": policy.NewSet(5), "a/sub": policy.NewSet(5)}
	if got := l.spotsOf(tags[0]); !maps.Equal(got, want) || len(l.spotsOf(tags[2])) != 3 {
		t.Errorf("after a new place of the third: the first's %v, want %v; the third's %v",
			got, want, l.spotsOf(tags[2]))
	}
	if !same(tags[0], tags[1]) || same(tags[0], tags[2]) {
		t.Errorf("after a new place of the third: the first two should share, not the third")
	}
	l.f.Close()
	l2, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.f.Close()
	if reflect.ValueOf(l2.spots[tags[0]]).Pointer() !=
		reflect.ValueOf(l2.spots[tags[1]]).Pointer() {
		t.Errorf("read again: the first two layers keep maps of their own")
	}
}

// TestPlacementClosedKept: a closed line ("closed TAG DEPTH FIRST") keeps
// its last layer's places, line and time through a compaction with no
// process logged, and a daemon that opens the log again reads it back;
// once dropped, the next compaction leaves it and its places out.
func TestPlacementClosedKept(t *testing.T) {
	tempPlacementDir(t)
	l, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	const first, last = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
	for _, tag := range []string{first, last} {
		if err := l.recordSpot(tag, "s", policy.NewSet(110)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.recordLine(last, first); err != nil {
		t.Fatal(err)
	}
	if err := l.recordClosed(last, closedAt{2, 300}); err != nil {
		t.Fatal(err)
	}
	bad := "closed cccccccccccccccc 0 5\nclosed dddddddddddddddd 1 -2\n"
	if _, err := l.f.WriteString(bad); err != nil {
		t.Fatal(err)
	}
	compact := func() {
		t.Helper()
		l.mu.Lock()
		l.dead = nil
		err := l.compact()
		l.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	compact()
	spots, lines, _, closed := readSpots(l.path)
	if !maps.Equal(closed, map[string]closedAt{last: {2, 300}}) || lines[last] != first ||
		len(spots[last]) != 1 || len(spots[first]) != 1 {
		t.Errorf("after a compaction: closed %v, lines %v, spots %v; want the line, its "+
			"first layer and both places", closed, lines, spots)
	}
	l.f.Close()
	l2, _, _, err := openPlacements("/sys/fs/cgroup/x")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.f.Close()
	if got := l2.closedLines(); !maps.Equal(got, map[string]closedAt{last: {2, 300}}) {
		t.Errorf("opened again: %v", got)
	}
	l2.dropClosed(last)
	l = l2
	compact()
	if spots, _, _, closed := readSpots(l.path); len(closed) != 0 || len(spots) != 0 {
		t.Errorf("dropped, then compacted: closed %v, spots %v; want none", closed, spots)
	}
}
