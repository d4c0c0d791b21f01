// Package persist keeps the policy tree of a mirror where a restarted
// daemon finds it again: each group's deny set D(g) lives in the extended
// attribute trusted.cgsyscall.deny ([Attr]) of the group's real cgroup
// directory, written in the control files' format ([policy.Format]: the
// numbers in ascending order, each followed by a space, then a newline).
//
// Why there: the policy of a group lives exactly as long as the group.
// cgroup2 keeps trusted.* attributes on its directories in kernel memory;
// they survive the daemon (a kill -9 included) and vanish with the
// directory, so an rmdir, behind the mount's back or not, forgets the
// group's policy with nothing left over, and a group made again under the
// same name starts afresh. A setxattr replaces a value whole: a reader
// never sees half of one.
//
// # Saving
//
// A deny in g writes g first, then every descendant. An allow in g first
// writes each descendant whose attribute is missing or differs from the
// tree (a group that never had one inherits at the next start, and must
// not inherit the narrower set), then g. So after a kill -9 at any moment:
//
//   - an interrupted deny has reached g at least, or nothing at all; the
//     repair at the next start (below) completes it in every descendant;
//   - an interrupted allow has either reached g or not; the descendants
//     hold what they held before.
//
// The restored policy is therefore the state after the last acknowledged
// write, or after the write that was under way, whole; never a mix.
//
// # Restoring
//
// [Store.Load] walks every directory of the mirror below a descriptor
// opened once, with openat2 and RESOLVE_BENEATH|RESOLVE_NO_XDEV, never
// through a mount point (the daemon's own mount may lie inside the
// mirror; it is skipped by name as well). A group with the attribute gets
// its saved set united with its parent's, which restores the invariant
// D(child) ⊇ D(parent) and completes an interrupted deny; a group without
// it (made while no daemon ran, or never written) gets its parent's set,
// as a new group does. Sets that the repair widened are written back, so
// that a later allow in the parent cannot undo the repair.
//
// An attribute that cannot be read, or whose value is not exactly what
// Format writes for a valid deny set, fails the whole load with a
// [*CorruptError] naming the group, the attribute and how to clear it: a
// saved policy is never replaced silently by an empty one.
//
// # What the attributes cannot keep
//
// The attributes live in kernel memory: a reboot forgets them, as it
// forgets the groups. Only the tree is saved; the daemon's knowledge of
// which processes it holds and where it placed them is rebuilt by the
// holder's scan at start.
package persist
