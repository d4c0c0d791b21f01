package policy

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// checkInvariant fails t unless every group's parent exists and
// D(child) ⊇ D(parent), and no set holds a number beyond NRMax or one
// that can never be denied.
func checkInvariant(t *testing.T, tr *Tree) {
	t.Helper()
	snap := tr.Snapshot()
	if _, ok := snap[""]; !ok {
		t.Fatalf("tree lost its root")
	}
	for p, d := range snap {
		if d.Max() > 469 || !d.Intersect(NeverDeny(x86)).Empty() {
			t.Fatalf("D(%q) = %v holds an impossible number", p, d)
		}
		if p == "" {
			continue
		}
		parent, ok := snap[ParentPath(p)]
		if !ok {
			t.Fatalf("group %q has no parent %q", p, ParentPath(p))
		}
		if !d.Contains(parent) {
			t.Fatalf("invariant broken: D(%q) = %v lacks %v of D(%q)",
				p, d, parent.Minus(d), ParentPath(p))
		}
	}
}

// newTestTree returns a tree holding the given groups, checked after
// every step.
func newTestTree(t *testing.T, paths ...string) *Tree {
	t.Helper()
	tr := NewTree(x86)
	for _, p := range paths {
		if err := tr.Ensure(p); err != nil {
			t.Fatalf("Ensure(%q): %v", p, err)
		}
		checkInvariant(t, tr)
	}
	return tr
}

func mustDenied(t *testing.T, tr *Tree, path string) Set {
	t.Helper()
	d, ok := tr.Denied(path)
	if !ok {
		t.Fatalf("Denied(%q): no such group", path)
	}
	return d
}

// wantSets fails t unless each listed group has exactly its set.
func wantSets(t *testing.T, tr *Tree, want map[string]Set) {
	t.Helper()
	for p, w := range want {
		if got := mustDenied(t, tr, p); got != w {
			t.Errorf("D(%q) = %v, want %v", p, got, w)
		}
	}
	checkInvariant(t, tr)
}

func TestNewTree(t *testing.T) {
	tr := NewTree(x86)
	if got := tr.Paths(); !slices.Equal(got, []string{""}) {
		t.Fatalf("Paths() = %q, want only the root", got)
	}
	if d := mustDenied(t, tr, ""); !d.Empty() {
		t.Fatalf("root starts with %v, want {}", d)
	}
	if tr.Arch() != x86 {
		t.Fatalf("Arch() is not the tree's architecture")
	}
}

func TestEnsure(t *testing.T) {
	tr := newTestTree(t, "web/worker")
	if got, want := tr.Paths(), []string{"", "web", "web/worker"}; !slices.Equal(got, want) {
		t.Fatalf("Paths() = %q, want %q", got, want)
	}

	// A new group copies its parent, whatever the parent holds now.
	if err := tr.Deny("web", NewSet(59)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Allow("web/worker", NewSet(59)); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("allow under a denying parent: %v", err)
	}
	if err := tr.Ensure("web/new/deeper"); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web/new": NewSet(59), "web/new/deeper": NewSet(59)})

	// An existing group keeps its own set, and slashes at either end are
	// dropped.
	if err := tr.Deny("web/new", NewSet(1)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Ensure("/web/new/"); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web/new": NewSet(1, 59), "web": NewSet(59)})
}

func TestDenyReachesDescendants(t *testing.T) {
	tr := newTestTree(t, "web/worker/a", "web2", "db")
	if err := tr.Deny("web", NewSet(1, 2)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{
		"":             {},
		"web":          NewSet(1, 2),
		"web/worker":   NewSet(1, 2),
		"web/worker/a": NewSet(1, 2),
		"web2":         {}, // shares a prefix, not a parent
		"db":           {},
	})

	if err := tr.Deny("", NewSet(3)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"": NewSet(3), "web/worker/a": NewSet(1, 2, 3),
		"web2": NewSet(3), "db": NewSet(3)})
}

func TestAllowIsNotPushed(t *testing.T) {
	tr := newTestTree(t, "web/worker")
	if err := tr.Deny("", NewSet(59, 322)); err != nil {
		t.Fatal(err)
	}

	// At the root allowing always succeeds; descendants keep the denial.
	if err := tr.Allow("", NewSet(59, 322, 400)); err != nil {
		t.Fatalf("Allow at the root: %v", err)
	}
	wantSets(t, tr, map[string]Set{"": {}, "web": NewSet(59, 322),
		"web/worker": NewSet(59, 322)})

	// Allowed in web, still denied in web/worker until allowed there.
	if err := tr.Allow("web", NewSet(59)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web": NewSet(322), "web/worker": NewSet(59, 322)})
	if err := tr.Allow("web/worker", NewSet(59)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web/worker": NewSet(322)})

	// Allowing what is not denied is a no-op that succeeds.
	if err := tr.Allow("web/worker", NewSet(0, 1)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web/worker": NewSet(322)})
}

func TestAllowRefusedWhenParentDenies(t *testing.T) {
	tr := newTestTree(t, "web/worker")
	if err := tr.Deny("web", NewSet(59)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Deny("web/worker", NewSet(1, 2)); err != nil {
		t.Fatal(err)
	}

	// 1 alone could be allowed, but 59 makes the whole write fail.
	err := tr.Allow("web/worker", NewSet(1, 59))
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("Allow: %v, want EPERM", err)
	}
	var ie *InheritanceError
	if !errors.As(err, &ie) || ie.Group != "web/worker" || ie.Parent != "web" ||
		!slices.Equal(ie.Numbers, []int{59}) {
		t.Fatalf("Allow: %#v, want an InheritanceError naming web/worker, web, 59", err)
	}
	if want := `group "web/worker": allow 59: denied by parent "web"`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	wantSets(t, tr, map[string]Set{"web/worker": NewSet(1, 2, 59)})

	// Only the parent counts: web itself may allow 59, the root allows it.
	if err := tr.Allow("web", NewSet(59)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web": {}, "web/worker": NewSet(1, 2, 59)})
	if err := tr.Allow("web/worker", NewSet(1, 59)); err != nil {
		t.Fatal(err)
	}
	wantSets(t, tr, map[string]Set{"web/worker": NewSet(2)})
}

func TestTreeErrors(t *testing.T) {
	tr := newTestTree(t, "web")
	tests := []struct {
		name  string
		err   error
		errno syscall.Errno
	}{
		{"deny unknown", tr.Deny("nope", NewSet(1)), syscall.ENOENT},
		{"allow unknown", tr.Allow("web/nope", NewSet(1)), syscall.ENOENT},
		{"remove unknown", tr.Remove("nope"), syscall.ENOENT},
		{"remove root", tr.Remove(""), syscall.EBUSY},
		{"deny above NRMax", tr.Deny("web", NewSet(470)), syscall.ERANGE},
		{"allow above NRMax", tr.Allow("web", NewSet(470)), syscall.ERANGE},
		{"deny never", tr.Deny("web", NewSet(1, 231)), syscall.EPERM},
		{"empty component", tr.Ensure("web//x"), syscall.EINVAL},
		{"dot", tr.Deny("web/.", NewSet(1)), syscall.EINVAL},
		{"dot dot", tr.Ensure("web/../x"), syscall.EINVAL},
		{"NUL", tr.Ensure("a\x00b"), syscall.EINVAL},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.errno) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.errno)
		}
	}
	if _, ok := tr.Denied("nope"); ok {
		t.Errorf("Denied(nope) found a group")
	}
	if got := tr.Subtree("nope"); got != nil {
		t.Errorf("Subtree(nope) = %q, want nil", got)
	}
	wantSets(t, tr, map[string]Set{"": {}, "web": {}})
	if got, want := tr.Paths(), []string{"", "web"}; !slices.Equal(got, want) {
		t.Errorf("failed calls changed the groups: %q", got)
	}
}

func TestRemoveAndSubtree(t *testing.T) {
	tr := newTestTree(t, "web/worker/a", "web/b", "web-x", "web2/c", "db")
	if got, want := tr.Subtree("web"), []string{"web", "web/b", "web/worker",
		"web/worker/a"}; !slices.Equal(got, want) {
		t.Fatalf("Subtree(web) = %q, want %q", got, want)
	}
	if err := tr.Remove("web/"); err != nil {
		t.Fatal(err)
	}
	want := []string{"", "db", "web-x", "web2", "web2/c"}
	if got := tr.Paths(); !slices.Equal(got, want) {
		t.Fatalf("Paths() after Remove(web) = %q, want %q", got, want)
	}
	checkInvariant(t, tr)
}

func TestParentPath(t *testing.T) {
	for in, want := range map[string]string{"": "", "web": "", "/web": "",
		"web/worker": "web", "a/b/c/": "a/b"} {
		if got := ParentPath(in); got != want {
			t.Errorf("ParentPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	tr := newTestTree(t, "web/worker", "db")
	if err := tr.Deny("web", NewSet(59, 100)); err != nil {
		t.Fatal(err)
	}
	snap := tr.Snapshot()
	snap["web"] = NewSet(1) // the copy is the caller's own
	if d := mustDenied(t, tr, "web"); d != NewSet(59, 100) {
		t.Fatalf("changing a snapshot changed the tree: %v", d)
	}

	saved := tr.Snapshot()
	other := NewTree(x86)
	if err := other.Restore(saved); err != nil {
		t.Fatal(err)
	}
	saved["db"] = NewSet(7) // Restore copied the map
	checkInvariant(t, other)
	if got, want := other.Snapshot(), tr.Snapshot(); !maps.Equal(got, want) {
		t.Fatalf("restored %v, want %v", got, want)
	}

	bad := []struct {
		name  string
		m     map[string]Set
		errno syscall.Errno
	}{
		{"no root", map[string]Set{"web": {}}, syscall.EINVAL},
		{"no parent", map[string]Set{"": {}, "a/b": {}}, syscall.EINVAL},
		{"narrower child", map[string]Set{"": NewSet(1), "a": {}}, syscall.EINVAL},
		{"unclean path", map[string]Set{"": {}, "/a": {}}, syscall.EINVAL},
		{"bad path", map[string]Set{"": {}, "..": {}}, syscall.EINVAL},
		{"above NRMax", map[string]Set{"": NewSet(600)}, syscall.ERANGE},
		{"never", map[string]Set{"": NewSet(15)}, syscall.EPERM},
	}
	for _, tc := range bad {
		if err := other.Restore(tc.m); !errors.Is(err, tc.errno) {
			t.Errorf("Restore %s: %v, want %v", tc.name, err, tc.errno)
		}
	}
	if got, want := other.Snapshot(), tr.Snapshot(); !maps.Equal(got, want) {
		t.Fatalf("a failed Restore changed the tree: %v", got)
	}
}

// model is the tree's rules written the slow, obvious way.
type model map[string]map[int]bool

func (m model) set(p string) Set {
	var s Set
	for n := range m[p] {
		s.Add(n)
	}
	return s
}

// TestTreeRandom runs random operations against the tree and a model and
// checks the invariant and the model after each one.
func TestTreeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "a/x", "a/y", "b/x", "a/x/deep", "ab", "a/x/deep/er"}
	deniable := Deniable(x86).Numbers()
	randSet := func() Set {
		var s Set
		for range r.IntN(4) {
			s.Add(deniable[r.IntN(20)]) // a few small numbers collide often
		}
		return s
	}
	for round := range 50 {
		tr := NewTree(x86)
		m := model{"": {}}
		for step := range 200 {
			p := names[r.IntN(len(names))]
			if r.IntN(8) == 0 {
				p = ""
			}
			s := randSet()
			_, known := m[p]
			var err error
			switch op := r.IntN(10); {
			case op < 3:
				err = tr.Ensure(p)
				for i := 0; i <= len(p); i++ {
					if i == len(p) || p[i] == '/' {
						if _, ok := m[p[:i]]; !ok {
							m[p[:i]] = maps.Clone(m[ParentPath(p[:i])])
						}
					}
				}
			case op < 6:
				err = tr.Deny(p, s)
				if known {
					for q := range m {
						if within(q, p) {
							for _, n := range s.Numbers() {
								m[q][n] = true
							}
						}
					}
				}
			case op < 9:
				err = tr.Allow(p, s)
				if known && (p == "" || m.set(ParentPath(p)).Intersect(s).Empty()) {
					for _, n := range s.Numbers() {
						delete(m[p], n)
					}
				} else if known && !errors.Is(err, syscall.EPERM) {
					t.Fatalf("round %d step %d: Allow(%q, %v) = %v, want EPERM",
						round, step, p, s, err)
				}
			default:
				if p == "" {
					continue
				}
				err = tr.Remove(p)
				for q := range m {
					if within(q, p) {
						delete(m, q)
					}
				}
			}
			if !known && errors.Is(err, syscall.ENOENT) {
				err = nil
			}
			if err != nil && !errors.Is(err, syscall.EPERM) {
				t.Fatalf("round %d step %d: %v", round, step, err)
			}

			checkInvariant(t, tr)
			snap := tr.Snapshot()
			if len(snap) != len(m) {
				t.Fatalf("round %d step %d: tree %v, model %v", round, step, snap, m)
			}
			for q := range m {
				if snap[q] != m.set(q) {
					t.Fatalf("round %d step %d: D(%q) = %v, model %v",
						round, step, q, snap[q], m.set(q))
				}
			}
		}
	}
}

// TestTreeConcurrent hammers one tree from several goroutines; run it with
// -race. The invariant must hold at the end and in every snapshot taken
// meanwhile.
func TestTreeConcurrent(t *testing.T) {
	tr := newTestTree(t, "a/b/c", "a/d", "e")
	paths := []string{"", "a", "a/b", "a/b/c", "a/d", "e", "e/f"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 2000 {
				p := paths[r.IntN(len(paths))]
				s := NewSet(r.IntN(10) + 20)
				switch r.IntN(5) {
				case 0:
					_ = tr.Ensure(p)
				case 1:
					_ = tr.Deny(p, s)
				case 2:
					_ = tr.Allow(p, s)
				case 3:
					if p == "e/f" {
						_ = tr.Remove(p)
					}
				default:
					snap := tr.Snapshot()
					for q, d := range snap {
						if q != "" && !d.Contains(snap[ParentPath(q)]) {
							t.Errorf("snapshot breaks the invariant at %q", q)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	checkInvariant(t, tr)
}

// TestUndo: a change taken back keeps the groups made and removed while it
// was being enforced; one made meanwhile copies its parent's set again.
func TestUndo(t *testing.T) {
	tr := newTestTree(t, "web/worker", "db")
	if err := tr.Deny("web", NewSet(59)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Deny("web/worker", NewSet(100)); err != nil {
		t.Fatal(err)
	}
	before := tr.Mark()
	if err := tr.Deny("web", NewSet(63)); err != nil {
		t.Fatal(err)
	}
	// Meanwhile: a group made below the changed one, one removed, and one
	// removed and made again (helper-32: it got the old one's set back).
	for _, p := range []string{"web/new/deeper", "db/x"} {
		if err := tr.Ensure(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Remove("db"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Remove("web/worker"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Ensure("web/worker"); err != nil {
		t.Fatal(err)
	}
	tr.Undo(before)
	checkInvariant(t, tr)
	want := map[string]Set{"": {}, "web": NewSet(59), "web/worker": NewSet(59),
		"web/new": NewSet(59), "web/new/deeper": NewSet(59)}
	if got := tr.Snapshot(); !maps.Equal(got, want) {
		t.Errorf("after Undo: %v, want %v", got, want)
	}
}

// TestTreeChanges: Shape moves when a group is made or removed, Changes
// also when a deny or an allow changes a set; a refused change moves
// neither, and a group already there is not made again.
func TestTreeChanges(t *testing.T) {
	tr := NewTree(x86)
	step := func(what string, f func() error, shape, changes bool) {
		t.Helper()
		s0, c0 := tr.Shape(), tr.Changes()
		f()
		if got := tr.Shape() != s0; got != shape {
			t.Errorf("%s: Shape moved %v, want %v", what, got, shape)
		}
		if got := tr.Changes() != c0; got != changes {
			t.Errorf("%s: Changes moved %v, want %v", what, got, changes)
		}
	}
	step("mkdir", func() error { return tr.Ensure("a/b") }, true, true)
	step("mkdir again", func() error { return tr.Ensure("a/b") }, false, false)
	step("deny", func() error { return tr.Deny("a", NewSet(110)) }, false, true)
	step("allow", func() error { return tr.Allow("a/b", NewSet(110)) }, false, false)
	step("allow", func() error { return tr.Allow("a", NewSet(110)) }, false, true)
	step("deny of a group not there", func() error { return tr.Deny("x", NewSet(1)) },
		false, false)
	step("rmdir", func() error { return tr.Remove("a") }, true, true)
}

// TestTreeIdentity: the tree keeps the identity a group was seen with
// until the group goes (Remove, of it or an ancestor, or a Restore without
// it); a group it does not have gets none.
func TestTreeIdentity(t *testing.T) {
	tr := NewTree(x86)
	if err := tr.Ensure("a/b"); err != nil {
		t.Fatal(err)
	}
	tr.Identify("a", 7)
	tr.Identify("a/b", 8)
	tr.Identify("c", 9) // not in the tree
	if got := [3]uint64{tr.Identity("a"), tr.Identity("a/b"), tr.Identity("c")}; got !=
		[3]uint64{7, 8, 0} {
		t.Fatalf("identities of a, a/b, c: %v, want [7 8 0]", got)
	}
	if err := tr.Remove("a"); err != nil {
		t.Fatal(err)
	}
	tr.Ensure("a/b")
	if got := [2]uint64{tr.Identity("a"), tr.Identity("a/b")}; got != [2]uint64{0, 0} {
		t.Errorf("identities after a was removed and made again: %v, want none", got)
	}
	tr.Identify("a", 10)
	tr.Identify("a/b", 11)
	if err := tr.Restore(map[string]Set{"": {}, "a": {}}); err != nil {
		t.Fatal(err)
	}
	if got := [2]uint64{tr.Identity("a"), tr.Identity("a/b")}; got != [2]uint64{10, 0} {
		t.Errorf("identities of a and a/b after a restore with a alone: %v, want [10 0]", got)
	}
}
