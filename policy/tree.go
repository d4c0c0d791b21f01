package policy

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Tree is the policy of one mirror: the deny set D(g) of every group g it
// knows. Groups are named by slash paths relative to the mount's root: ""
// is the root, then "web", "web/worker". A leading or trailing slash is
// dropped; empty, "." and ".." components fail with EINVAL.
//
// Every method keeps the invariant D(child) ⊇ D(parent), and every change
// is all or nothing. A Tree is safe for concurrent use; one mutex guards
// it, and no method calls out while holding it.
type Tree struct {
	arch  *arch.Arch
	never Set
	max   int

	mu     sync.Mutex
	groups map[string]Set
	// made counts the groups made (Ensure), and born gives each group
	// made since the tree began or was restored its count, so that Undo
	// tells a group made during a change from one that was there.
	made uint64
	born map[string]uint64
	// ids holds the identity of the real directory each group was last
	// seen with through the mount (Identify): a group whose directory now
	// has another was removed and made again, whatever the tree has seen.
	ids map[string]uint64
	// shape counts the changes of which groups there are (made, removed,
	// restored, undone), read without the mutex (Shape); sets counts
	// every change, of a set too (Changes).
	shape, sets atomic.Uint64
}

// NewTree returns a tree that holds only the root, with D = {}. It panics
// when a's native table does not fit a [Set].
func NewTree(a *arch.Arch) *Tree {
	return &Tree{
		arch:   a,
		never:  NeverDeny(a),
		max:    nrMax(a),
		groups: map[string]Set{"": {}},
		born:   map[string]uint64{},
		ids:    map[string]uint64{},
	}
}

// Identify records that group path, which the tree has, was seen with the
// real directory of identity id (its inode number, the cgroup's ID). It
// does nothing for a group the tree does not have.
func (t *Tree) Identify(path string, id uint64) {
	p, err := cleanPath(path)
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.groups[p]; ok {
		t.ids[p] = id
	}
}

// Identity returns the identity group path was last seen with (Identify),
// 0 when none was recorded: the group whose set the tree holds for it.
func (t *Tree) Identity(path string) uint64 {
	p, err := cleanPath(path)
	if err != nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ids[p]
}

// Arch returns the architecture whose native numbers the tree holds.
func (t *Tree) Arch() *arch.Arch { return t.arch }

// Ensure makes every missing group along path, each with a copy of its
// parent's set, as a new group (or one made outside the mount and seen
// for the first time) starts. Groups that exist keep their sets. It fails
// only for a malformed path (EINVAL).
func (t *Tree) Ensure(path string) error {
	p, err := cleanPath(path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	parent := t.groups[""]
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		q := p[:i]
		if d, ok := t.groups[q]; ok {
			parent = d
			continue
		}
		t.groups[q] = parent
		t.made++
		t.born[q] = t.made
		t.shape.Add(1)
	}
	return nil
}

// Shape is a count that changes whenever a group is made or removed (or
// the tree restored or a change undone): a cache of which group a process
// is in may be stale once it has.
func (t *Tree) Shape() uint64 { return t.shape.Load() }

// Changes is a count that changes whenever Shape does or a deny or an allow
// changes a set: what a list of groups denies may differ once it has.
func (t *Tree) Changes() uint64 { return t.sets.Load() + t.shape.Load() }

// Remove forgets group path and its whole subtree, as rmdir does. Unknown
// path: ENOENT. The root cannot be removed: EBUSY.
func (t *Tree) Remove(path string) error {
	p, err := cleanPath(path)
	if err != nil {
		return err
	}
	if p == "" {
		return groupError(p, syscall.EBUSY, "remove the root")
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	if _, ok := t.groups[p]; !ok {
		return groupError(p, syscall.ENOENT, "remove")
	}
	for q := range t.groups {
		if within(q, p) {
			delete(t.groups, q)
			delete(t.born, q)
			delete(t.ids, q)
		}
	}
	t.shape.Add(1)
	return nil
}

// Deny adds s to D(path) and to D of every descendant. Unknown path:
// ENOENT; a number beyond NRMax: ERANGE; a number of [NeverDeny]: EPERM.
// On error nothing changes.
func (t *Tree) Deny(path string, s Set) error {
	p, err := cleanPath(path)
	if err != nil {
		return err
	}
	if s.Max() > t.max {
		return groupError(p, syscall.ERANGE, "deny")
	}
	if !s.Intersect(t.never).Empty() {
		return groupError(p, syscall.EPERM, "deny a never-deniable syscall")
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	if _, ok := t.groups[p]; !ok {
		return groupError(p, syscall.ENOENT, "deny")
	}
	for q, d := range t.groups {
		if within(q, p) {
			t.groups[q] = d.Union(s)
		}
	}
	t.sets.Add(1)
	return nil
}

// Allow removes s from D(path) only; descendants keep their own denials.
// Outside the root it fails with EPERM, as an [*InheritanceError], when the
// parent denies any number of s. Unknown path: ENOENT; a number beyond
// NRMax: ERANGE. On error nothing changes.
func (t *Tree) Allow(path string, s Set) error {
	p, err := cleanPath(path)
	if err != nil {
		return err
	}
	if s.Max() > t.max {
		return groupError(p, syscall.ERANGE, "allow")
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	d, ok := t.groups[p]
	if !ok {
		return groupError(p, syscall.ENOENT, "allow")
	}
	if p != "" {
		parent := parentOf(p)
		if wider := s.Intersect(t.groups[parent]); !wider.Empty() {
			return &InheritanceError{Group: p, Parent: parent, Numbers: wider.Numbers()}
		}
	}
	t.groups[p] = d.Minus(s)
	t.sets.Add(1)
	return nil
}

// Denied returns a copy of D(path), and false for an unknown or malformed
// path.
func (t *Tree) Denied(path string) (Set, bool) {
	p, err := cleanPath(path)
	if err != nil {
		return Set{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	d, ok := t.groups[p]
	return d, ok
}

// Subtree returns path and the paths of all its descendants, sorted, so
// that every parent comes before its children. It returns nil for an
// unknown or malformed path.
func (t *Tree) Subtree(path string) []string {
	p, err := cleanPath(path)
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	if _, ok := t.groups[p]; !ok {
		return nil
	}
	var out []string
	for q := range t.groups {
		if within(q, p) {
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}

// Paths returns the paths of every group, sorted, the root ("") first.
func (t *Tree) Paths() []string {
	return t.Subtree("")
}

// ParentPath returns the path of the parent of group path: "web" for
// "web/worker", "" for "web". The root's parent is the root itself.
func ParentPath(path string) string {
	p, err := cleanPath(path)
	if err != nil {
		return ""
	}
	return parentOf(p)
}

// parentOf is ParentPath for a path that is already clean.
func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// within reports whether clean path q is p or one of its descendants.
func within(q, p string) bool {
	return p == "" || q == p || (len(q) > len(p) && q[len(p)] == '/' && q[:len(p)] == p)
}

// cleanPath drops a leading and a trailing slash and refuses paths that
// could name a group two ways: empty, "." and ".." components, and NUL.
func cleanPath(path string) (string, error) {
	p := strings.TrimPrefix(path, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "", nil
	}
	for c := range strings.SplitSeq(p, "/") {
		if c == "" || c == "." || c == ".." || strings.IndexByte(c, 0) >= 0 {
			return "", groupError(path, syscall.EINVAL, "malformed path")
		}
	}
	return p, nil
}
