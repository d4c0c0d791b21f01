package fs

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// Names of the control files, and their slots in derived inode numbers.
const (
	denyName  = "syscalls.deny"
	allowName = "syscalls.allow"
	tasksName = "tasks"
	statName  = "syscalls.stat"
)

// ctlKind is the kind of a control file; its value is the file's slot.
type ctlKind uint64

const (
	ctlDeny  ctlKind = 1
	ctlAllow ctlKind = 2
	ctlTasks ctlKind = 3
	ctlStat  ctlKind = 4
)

// ctlKinds lists the control files every directory shows, in listing order.
var ctlKinds = []struct {
	name string
	kind ctlKind
}{{denyName, ctlDeny}, {allowName, ctlAllow}, {tasksName, ctlTasks}, {statName, ctlStat}}

// ctlName returns the name of control file kind.
func ctlName(kind ctlKind) string {
	for _, c := range ctlKinds {
		if c.kind == kind {
			return c.name
		}
	}
	return ""
}

// ctlByName returns the kind of a control-file name.
func ctlByName(name string) (ctlKind, bool) {
	for _, c := range ctlKinds {
		if c.name == name {
			return c.kind, true
		}
	}
	return 0, false
}

// mirror is the state one mount shares among its nodes.
type mirror struct {
	fd       int // O_PATH descriptor of the mirrored directory, opened before mounting
	tree     *policy.Tree
	arch     *arch.Arch
	full     policy.Set // 0..NRMax
	enforcer Enforcer
	store    Store  // nil: nothing is saved
	counts   Counts // nil: no denials are counted
	log      *logrus.Logger
	debug    bool

	// hideDir/hideName name the mount point when it lies inside the
	// mirror; hide is false otherwise.
	hide     bool
	hideDir  string
	hideName string

	// gmu serializes observe and forget: the tree keeps the real inode
	// number each group was last seen with (policy.Tree.Identity), so a
	// group removed and made again outside the mount starts afresh from
	// its parent instead of keeping the old group's set.
	gmu sync.Mutex

	// wmu serializes control-file writes: policy changes and moves reach
	// the enforcer one at a time and in the order the tree took them.
	wmu sync.Mutex

	pruner // drops the nodes the kernel no longer uses (prune.go)
}

// hidden reports whether name in directory rel is the mount point itself.
func (m *mirror) hidden(rel, name string) bool {
	return m.hide && rel == m.hideDir && name == m.hideName
}

// observe records that group rel exists with real inode ino, and brings
// the policy tree along: a new group copies its parent's set.
func (m *mirror) observe(rel string, ino uint64) {
	m.gmu.Lock()
	defer m.gmu.Unlock()

	old := m.tree.Identity(rel) // 0: not seen yet
	if old == ino {
		return
	}
	if old != 0 && rel != "" {
		// The directory was replaced behind our back, and with it every
		// group below it: the tree drops them all, and each is seen
		// afresh (helper-55: a group below, whose last inode this mirror
		// kept apart from the tree, was never taken in again, and its
		// files answered ENOENT).
		m.dropGroup(rel)
	}
	if err := m.tree.Ensure(rel); err != nil {
		m.log.WithError(err).WithField("group", groupName(rel)).
			Warn("group not taken into the policy tree")
	}
	m.tree.Identify(rel, ino)
}

// forget drops group rel and its subtree after an rmdir.
func (m *mirror) forget(rel string) {
	m.gmu.Lock()
	defer m.gmu.Unlock()
	m.dropGroup(rel)
}

// dropGroup drops group rel and its subtree from the tree, with their
// denial counts; m.gmu is held.
func (m *mirror) dropGroup(rel string) {
	m.forgetCounts(rel)
	for _, q := range m.tree.Subtree(rel) {
		m.forgetCounts(q)
	}
	m.tree.Remove(rel)
}

// forgetCounts drops the denial counts of group rel, which is gone.
func (m *mirror) forgetCounts(rel string) {
	if m.counts != nil {
		m.counts.Forget(rel)
	}
}

// stat stats rel below the mirror ("" is the mirror itself).
func (m *mirror) stat(rel string) (syscall.Stat_t, error) {
	if rel == "" {
		var st syscall.Stat_t
		err := syscall.Fstat(m.fd, &st)
		return st, err
	}
	return statBeneath(m.fd, rel)
}

// open opens rel below the mirror.
func (m *mirror) open(rel string, flags int) (int, error) {
	return OpenBeneath(m.fd, rel, flags)
}

// debugf logs request detail, only when the mount runs with Debug.
func (m *mirror) debugf(f logrus.Fields, msg string) {
	if m.debug {
		m.log.WithFields(f).Debug(msg)
	}
}

// errnoOf turns an error into what a FUSE caller sees: an errno found
// anywhere in err's chain as it is, anything else as EIO (and logged).
func (m *mirror) errnoOf(err error, what string) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	m.log.WithError(err).Error(what + ": unexpected error, answering EIO")
	return syscall.EIO
}

// callerOf returns the caller of a request; false when the request
// carries none.
func callerOf(ctx context.Context) (Caller, bool) {
	c, ok := fuse.FromContext(ctx)
	if !ok || c == nil {
		return Caller{}, false
	}
	return Caller{Uid: c.Uid, Gid: c.Gid, Pid: int(c.Pid)}, true
}

// groupName spells group rel for logs: "/" for the root, "/a/b" below.
func groupName(rel string) string {
	return "/" + rel
}

// errName spells an errno for logs ("ESRCH"), "ok" for success.
func errName(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}

// genOf is the generation of the node at rel: a hash of the path, never 0.
func genOf(rel string, kind ctlKind) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rel))
	h.Write([]byte{0, byte(kind)})
	if g := h.Sum64(); g != 0 {
		return g
	}
	return 1
}

// ctlIno derives the inode number of control file kind in the directory
// whose real inode number is dirIno. Real kernfs numbers stay far below
// bit 63, so the two never meet.
func ctlIno(dirIno uint64, kind ctlKind) uint64 {
	return 1<<63 | dirIno<<3 | uint64(kind)
}
