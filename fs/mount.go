package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// Options configure one mount.
type Options struct {
	// Mirror is the real cgroup directory to mirror: a directory of a
	// cgroup2 filesystem, or of a cgroup v1 hierarchy (whose own tasks
	// file the mount's tasks control file replaces).
	Mirror string
	// Tree holds the policy of the mirror's groups; groups the mount sees
	// for the first time are added to it. Required.
	Tree *policy.Tree
	// Arch gives the native syscall table the control files speak.
	// Required.
	Arch *arch.Arch
	// Enforcer is told of every accepted change; nil means a
	// [CgroupEnforcer] of Mirror (moves only, no syscall enforcement).
	Enforcer Enforcer
	// Log receives one Info line per policy change and per task move;
	// nil means logrus's standard logger.
	Log *logrus.Logger
	// Debug adds a Debug line for other requests of note (mkdir, rmdir).
	Debug bool
	// Store saves every accepted policy change, so that a restarted
	// daemon finds it again; nil means nothing is saved.
	Store Store
	// Counts renders each group's syscalls.stat; nil means every group
	// reads "total 0".
	Counts Counts

	// knobs, when not nil, tunes the mount for a test and receives its
	// mirror.
	knobs *testKnobs
}

// testKnobs are what a test of this package may change in a mount.
type testKnobs struct {
	pruneEvery int           // replaces the const pruneEvery when above 0
	inval      bool          // sweep as on a kernel without FUSE_NOTIFY_PRUNE
	swept      chan struct{} // a sweep that ends sends on it if it can
	opendir    bool          // keep OPENDIR even where the kernel can do without
	m          *mirror       // set by Mount
	d          *dirFS        // set by Mount
}

// Counts keeps the denied calls of each group's members.
type Counts interface {
	// Stat renders what group's syscalls.stat reads: "NAME COUNT" lines
	// and a last "total COUNT" line.
	Stat(group string) []byte
	// Forget drops the counts of group, which was removed.
	Forget(group string)
}

// Store keeps the policy tree where a restarted daemon finds it again.
type Store interface {
	// Save records what the tree holds now for group and its
	// descendants, after a change there that the tree took and the
	// enforcer applied. deny tells a deny (numbers added to group and
	// every descendant) from an allow (numbers removed from group only).
	// An error fails the write with EIO: the mirror takes the change back
	// and calls Save again with !deny, to put the old sets back.
	Save(t *policy.Tree, group string, deny bool) error
}

// What the kernel may keep of a reply, and for how long. Nothing else is
// cached: negative entries, the names of directories and the attributes
// of files are asked for again at every use, so groups made or removed
// behind the mount's back show up at the next lookup (SPEC 6), and a
// file's mode, owner and existence are the kernel's at every stat and
// open. Contents are never cached either (direct I/O, SPEC 3).
const (
	// dirAttrTimeout bounds how long the attributes of a group directory
	// stay in the kernel: one or two clock ticks, long enough that the
	// permission checks and stat calls which follow a lookup within the
	// same path walk or find step ask nothing again. Every lookup of a
	// group by name fetches them afresh, so a chmod or chown made behind
	// the mount's back shows at once to every path, and within this bound
	// to a descriptor or working directory already open there.
	dirAttrTimeout = 10 * time.Millisecond
	// fileEntryTimeout bounds how long the kernel keeps the name of a file
	// of a group (a real one or a control file) without asking. Only the
	// name is kept: a stat or open still asks for the attributes, and a
	// file that is gone fails with ENOENT at once. Real files come and go
	// only with the controllers in the parent's cgroup.subtree_control;
	// control files live as long as their group.
	fileEntryTimeout = time.Second
)

// Mount mounts the mirror on mountpoint and returns once the mount
// answers. It mounts with mount(2) itself (DirectMountStrict: root only,
// no fusermount), as type fuse.cgsyscall with allow_other and
// default_permissions, so the kernel checks every caller against the
// modes and owners the mount reports. The timeouts are those above.
//
// READDIRPLUS is off: go-fuse would look up every entry of a listing
// (an fstatat and a node each, about 20 a group) and the kernel would
// throw the result away at once, as the attributes of files and the names
// of directories are not cached. A listing is one getdents of the real
// directory; find over 10,000 groups then looks up only the groups.
//
// mountpoint may lie inside Mirror; the mount then hides its own
// directory. It may not be Mirror or lie above it: the mirror would then
// be reachable only through the mount. Unmount with the returned server's Unmount or umount(8).
func Mount(mountpoint string, o Options) (*fuse.Server, error) {
	if o.Tree == nil || o.Arch == nil {
		return nil, errors.New("mount: Options.Tree and Options.Arch are required")
	}
	mirrorDir, err := realDir(o.Mirror)
	if err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	mnt, err := realDir(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("mount point: %w", err)
	}

	if mirrorDir == mnt || strings.HasPrefix(mirrorDir, mnt+"/") {
		// Every path to the mirror would lead through the mount itself.
		return nil, fmt.Errorf("mount point %s covers the mirror %s", mnt, mirrorDir)
	}

	fd, err := OpenPrivate(mirrorDir)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", mirrorDir, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mirror %s: %w", mirrorDir, err)
	}
	if sfs.Type != unix.CGROUP2_SUPER_MAGIC && sfs.Type != unix.CGROUP_SUPER_MAGIC {
		unix.Close(fd)
		return nil, fmt.Errorf("mirror %s: not a cgroup v2 directory (nor a v1 one)",
			mirrorDir)
	}

	m := &mirror{
		fd:       fd,
		tree:     o.Tree,
		arch:     o.Arch,
		full:     policy.Full(o.Arch),
		enforcer: o.Enforcer,
		store:    o.Store,
		counts:   o.Counts,
		log:      o.Log,
		debug:    o.Debug,
	}
	if m.enforcer == nil {
		m.enforcer = &CgroupEnforcer{Mirror: mirrorDir}
	}
	if m.log == nil {
		m.log = logrus.StandardLogger()
	}
	if rel, ok := MountPointGroup(mirrorDir, mnt); ok {
		m.hide = true
		m.hideDir, m.hideName = ParentRel(rel)
	}

	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mirror %s: %w", mirrorDir, err)
	}
	m.observe("", st.Ino)

	zero := time.Duration(0)
	opts := &gofs.Options{
		MountOptions: fuse.MountOptions{
			FsName:            mirrorDir, // the source column of mount(8), as fstab names it
			Name:              "cgsyscall",
			DirectMountStrict: true,
			MaxWrite:          mountMaxWrite,
			AllowOther:        true,
			Options:           []string{"default_permissions"},
			// See above: a READDIRPLUS would cost a lookup per entry.
			DisableReadDirPlus: true,
		},
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		NullPermissions: true,
		RootStableAttr:  &gofs.StableAttr{Ino: st.Ino, Gen: genOf("", 0)},
	}
	root := &dirNode{m: m, rel: ""}
	m.root, m.every = &root.Inode, pruneEvery
	if k := o.knobs; k != nil {
		k.m, m.inval, m.swept = m, k.inval, k.swept
		if k.pruneEvery > 0 {
			m.every = int64(k.pruneEvery)
		}
	}
	raw := newDirFS(gofs.NewNodeFS(root, opts), m, o.knobs != nil && o.knobs.opendir)
	srv, err := fuse.NewServer(raw, mnt, &opts.MountOptions)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount %s: %w", mnt, err)
	}
	fuseCloseOnExec()
	if o.knobs != nil {
		o.knobs.d = raw
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		// As go-fuse's own Mount: the serve loop ends with the mount.
		unix.Close(fd)
		return nil, fmt.Errorf("mount %s: %w", mnt, err)
	}
	m.srv.Store(srv)
	go func() {
		srv.Wait()
		unix.Close(fd)
	}()
	m.debugf(logrus.Fields{"mirror": mirrorDir, "fd": fd}, "FUSE connection open")
	return srv, nil
}

// fuseCloseOnExec marks every descriptor of this process open on
// /dev/fuse close-on-exec. go-fuse's direct mount opens it without the flag,
// so every program the daemon started afterwards (a listener keeper it
// starts again) kept the connection open: once the daemon died, every
// access to the mount hung, where it must fail with ENOTCONN.
func fuseCloseOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if t, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && t == "/dev/fuse" {
			unix.CloseOnExec(fd)
		}
	}
}

// MountPointGroup returns the group of mirror that directory mountpoint
// is, as a path relative to mirror, or false when it is no group of
// mirror (it lies outside it, or is mirror itself). Both paths are made
// absolute with every symbolic link resolved; where the mount point itself
// cannot be resolved (a dead mount left on it answers ENOTCONN), its
// directory is, and its name kept. The mount, the store of saved policy
// and the holder each ask it, and must agree: the mount hides that group,
// the store never walks it, the holder judges its members as its parent's.
func MountPointGroup(mirror, mountpoint string) (string, bool) {
	dir, err := realDir(mirror)
	if err != nil || mountpoint == "" {
		return "", false
	}
	mp, err := realDir(mountpoint)
	if err != nil {
		abs, aerr := filepath.Abs(mountpoint)
		if aerr != nil {
			return "", false
		}
		if mp, err = realDir(filepath.Dir(abs)); err != nil {
			return "", false
		}
		mp = filepath.Join(mp, filepath.Base(abs))
	}
	if rel, ok := strings.CutPrefix(mp, dir+"/"); ok {
		return rel, true
	}
	return "", false
}

// realDir returns the absolute path of directory p with every symbolic
// link resolved, so that a mount point inside the mirror is recognised.
func realDir(p string) (string, error) {
	if p == "" {
		return "", errors.New("no directory given")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
