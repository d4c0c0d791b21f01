package policy

import (
	"maps"
	"slices"
	"syscall"
)

// Snapshot returns a copy of every group's deny set, keyed by path, for
// saving the policy. Changing the map changes nothing in the tree.
func (t *Tree) Snapshot() map[string]Set {
	t.mu.Lock()
	defer t.mu.Unlock()

	out := make(map[string]Set, len(t.groups))
	for p, d := range t.groups {
		out[p] = d
	}
	return out
}

// Restore replaces the whole tree with groups, as a saved [Tree.Snapshot]
// gave them. The map must hold the root and the parent of every group,
// only clean paths, only numbers 0..NRMax outside [NeverDeny], and keep
// D(child) ⊇ D(parent); otherwise Restore fails with EINVAL (ERANGE or
// EPERM for a bad number) and the tree stays as it was.
func (t *Tree) Restore(groups map[string]Set) error {
	if _, ok := groups[""]; !ok {
		return groupError("", syscall.EINVAL, "restore without a root")
	}
	for p, d := range groups {
		c, err := cleanPath(p)
		if err != nil {
			return err
		}
		if c != p {
			return groupError(p, syscall.EINVAL, "restore an unclean path")
		}
		if d.Max() > t.max {
			return groupError(p, syscall.ERANGE, "restore")
		}
		if !d.Intersect(t.never).Empty() {
			return groupError(p, syscall.EPERM, "restore a never-deniable syscall")
		}
		if p == "" {
			continue
		}
		parent, ok := groups[parentOf(p)]
		if !ok {
			return groupError(p, syscall.EINVAL, "restore without its parent")
		}
		if !d.Contains(parent) {
			return groupError(p, syscall.EINVAL, "restore a set narrower than its parent's")
		}
	}

	copied := make(map[string]Set, len(groups))
	for p, d := range groups {
		copied[p] = d
	}
	t.mu.Lock()
	t.groups = copied
	t.born = map[string]uint64{}
	// The identities of groups it still has stay: they are what the mount
	// saw there, which it does not look at again while they hold
	// (helper-55: a restore after a failed save dropped them all).
	for p := range t.ids {
		if _, ok := copied[p]; !ok {
			delete(t.ids, p)
		}
	}
	t.shape.Add(1)
	t.mu.Unlock()
	return nil
}

// Mark is a [Tree.Snapshot] with the moment it was taken, for [Tree.Undo].
type Mark struct {
	Sets map[string]Set
	made uint64
}

// Mark takes a snapshot for Undo.
func (t *Tree) Mark() Mark {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Mark{Sets: maps.Clone(t.groups), made: t.made}
}

// Undo takes back a change made since before: each group that was there
// then gets its set from before again, and a group made since (a mkdir or
// lookup while the change was being enforced, which copied the changed
// set; one removed and made again too) gets a copy of its parent's, as if
// made after the undo; a group removed since stays removed. Unlike
// Restore, it keeps the groups that came meanwhile (adversary helper-30: a
// group made during a write that failed was dropped from the tree for
// good; helper-32: one removed and made again got the old one's set).
func (t *Tree) Undo(before Mark) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shape.Add(1)
	paths := make([]string, 0, len(t.groups))
	for p := range t.groups {
		paths = append(paths, p)
	}
	slices.Sort(paths) // a parent before its children
	for _, p := range paths {
		if d, ok := before.Sets[p]; ok && t.born[p] <= before.made {
			t.groups[p] = d
		} else if p != "" {
			t.groups[p] = t.groups[parentOf(p)]
		}
	}
}
