package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// dirNode is a group: a real directory of the mirror, rel its slash path
// relative to the mirror ("" for the root).
type dirNode struct {
	gofs.Inode
	m   *mirror
	rel string
}

// newChild returns the node for the real entry rel that st describes and
// fills out's attributes and timeouts. The node parent already has for
// that name is reused when it has the same identity.
func (m *mirror) newChild(ctx context.Context, parent *gofs.Inode, rel string,
	st *syscall.Stat_t, out *fuse.EntryOut) *gofs.Inode {

	out.Attr.FromStat(st)
	mode := st.Mode & syscall.S_IFMT
	if mode == syscall.S_IFDIR {
		m.observe(rel, st.Ino)
		out.SetAttrTimeout(dirAttrTimeout)
	} else {
		out.SetEntryTimeout(fileEntryTimeout)
	}
	id := gofs.StableAttr{Mode: mode, Ino: st.Ino, Gen: genOf(rel, 0)}
	_, name := ParentRel(rel)
	if c := known(parent, name, id); c != nil {
		return c
	}
	var node gofs.InodeEmbedder
	if mode == syscall.S_IFDIR {
		node = &dirNode{m: m, rel: rel}
	} else {
		node = newFileNode(m, rel)
	}
	m.grew()
	return parent.NewInode(ctx, node, id)
}

// newCtl returns the node of control file kind in group rel, whose real
// directory st describes, reusing the one parent has.
func (m *mirror) newCtl(ctx context.Context, parent *gofs.Inode, rel string, kind ctlKind,
	st *syscall.Stat_t, out *fuse.EntryOut) *gofs.Inode {

	m.observe(rel, st.Ino)
	ctlAttr(&out.Attr, kind, st)
	out.SetEntryTimeout(fileEntryTimeout)
	id := gofs.StableAttr{
		Mode: syscall.S_IFREG, Ino: ctlIno(st.Ino, kind), Gen: genOf(rel, kind),
	}
	if c := known(parent, ctlName(kind), id); c != nil {
		return c
	}
	m.grew()
	return parent.NewInode(ctx, &ctlNode{m: m, group: rel, kind: kind}, id)
}

// known returns parent's child name if it has identity id, else nil. A
// lookup of a name the kernel asked for before (every lookup of a group:
// their names are never cached) then allocates nothing.
func known(parent *gofs.Inode, name string, id gofs.StableAttr) *gofs.Inode {
	if c := parent.GetChild(name); c != nil && c.StableAttr() == id {
		return c
	}
	return nil
}

var _ gofs.NodeLookuper = (*dirNode)(nil)

// Lookup finds name afresh in the real directory, or a control file. The
// mount point itself, where it lies inside the mirror, does not exist.
func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode,
	syscall.Errno) {

	if n.m.hidden(n.rel, name) {
		return nil, syscall.ENOENT
	}
	if kind, ok := ctlByName(name); ok {
		st, err := n.m.stat(n.rel)
		if err != nil {
			return nil, n.m.errnoOf(err, "lookup")
		}
		return n.m.newCtl(ctx, &n.Inode, n.rel, kind, &st, out), 0
	}
	rel := joinRel(n.rel, name)
	st, err := n.m.stat(rel)
	if err != nil {
		return nil, n.m.errnoOf(err, "lookup")
	}
	return n.m.newChild(ctx, &n.Inode, rel, &st, out), 0
}

var _ gofs.NodeReaddirer = (*dirNode)(nil)

// Readdir lists the real directory as it is now, without the mount point
// and with the control files added. A real entry named like a control
// file (the tasks file of a cgroup v1 group) is listed once, as ours: the
// control file replaces it, in lookups too.
func (n *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	list, errno := n.m.entries(n.rel)
	if errno != 0 {
		return nil, errno
	}
	return gofs.NewListDirStream(list), 0
}

// entries lists the real directory rel as it is now, as Readdir shows it.
func (m *mirror) entries(rel string) ([]fuse.DirEntry, syscall.Errno) {
	fd, err := m.open(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, m.errnoOf(err, "readdir")
	}
	defer unix.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, m.errnoOf(err, "readdir")
	}
	ents, err := readDirents(fd)
	if err != nil {
		return nil, m.errnoOf(err, "readdir")
	}
	m.observe(rel, st.Ino)

	list := make([]fuse.DirEntry, 0, len(ents)+len(ctlKinds))
	for _, e := range ents {
		if _, ctl := ctlByName(e.name); ctl || m.hidden(rel, e.name) {
			continue
		}
		list = append(list, fuse.DirEntry{Name: e.name, Ino: e.ino, Mode: direntMode(e.typ)})
	}
	for _, c := range ctlKinds {
		list = append(list, fuse.DirEntry{
			Name: c.name, Ino: ctlIno(st.Ino, c.kind), Mode: syscall.S_IFREG,
		})
	}
	return list, 0
}

var _ gofs.NodeMkdirer = (*dirNode)(nil)

// Mkdir makes the real cgroup, owned by the caller as the kernel's cgroupfs
// does it, and a policy that copies the parent's.
func (n *dirNode) Mkdir(ctx context.Context, name string, mode uint32,
	out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {

	if _, ctl := ctlByName(name); ctl || n.m.hidden(n.rel, name) {
		return nil, syscall.EEXIST
	}
	dfd, err := n.m.open(n.rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, n.m.errnoOf(err, "mkdir")
	}
	defer unix.Close(dfd)
	if err := unix.Mkdirat(dfd, name, mode); err != nil {
		return nil, n.m.errnoOf(err, "mkdir")
	}
	rel := joinRel(n.rel, name)
	if c, ok := callerOf(ctx); ok && (c.Uid != 0 || c.Gid != 0) {
		if err := chownGroup(dfd, name, c.Uid, c.Gid); err != nil {
			unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
			return nil, n.m.errnoOf(err, "mkdir")
		}
	}
	st, err := statBeneath(dfd, name)
	if err != nil {
		return nil, n.m.errnoOf(err, "mkdir")
	}
	n.m.debugf(logrus.Fields{"group": groupName(rel)}, "mkdir")
	return n.m.newChild(ctx, &n.Inode, rel, &st, out), 0
}

// chownGroup gives the new group directory name below dfd, and every file
// in it, to uid and gid: what the kernel does for a cgroup made by a user
// other than root.
func chownGroup(dfd int, name string, uid, gid uint32) error {
	fd, err := OpenBeneath(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	ents, err := readDirents(fd)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.typ != unix.DT_REG {
			continue
		}
		err := unix.Fchownat(fd, e.name, int(uid), int(gid), unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			return err
		}
	}
	return nil
}

var _ gofs.NodeRmdirer = (*dirNode)(nil)

// Rmdir removes the real cgroup (the kernel's EBUSY while it has members
// or children) and forgets its policy. A saved policy needs no forgetting:
// it is an attribute of the real directory and went with it.
func (n *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if n.m.hidden(n.rel, name) {
		return syscall.EBUSY
	}
	if _, ctl := ctlByName(name); ctl {
		return syscall.ENOTDIR
	}
	dfd, err := n.m.open(n.rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return n.m.errnoOf(err, "rmdir")
	}
	defer unix.Close(dfd)
	if err := unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR); err != nil {
		return n.m.errnoOf(err, "rmdir")
	}
	rel := joinRel(n.rel, name)
	n.m.forget(rel)
	n.m.debugf(logrus.Fields{"group": groupName(rel)}, "rmdir")
	return 0
}

var _ gofs.NodeUnlinker = (*dirNode)(nil)

// Unlink fails as the kernel's cgroupfs makes it fail: EPERM for a file,
// EISDIR for a directory, ENOENT for nothing. Control files are files.
func (n *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if n.m.hidden(n.rel, name) {
		return syscall.EISDIR
	}
	if _, ctl := ctlByName(name); ctl {
		return syscall.EPERM
	}
	dfd, err := n.m.open(n.rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return n.m.errnoOf(err, "unlink")
	}
	defer unix.Close(dfd)
	return n.m.errnoOf(unix.Unlinkat(dfd, name, 0), "unlink")
}

var _ gofs.NodeCreater = (*dirNode)(nil)

// Create is refused with EACCES, as creat(2) in a cgroup directory is.
// (Opening an existing file with O_CREAT never gets here: the kernel
// looks the name up first and opens it.)
func (n *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32,
	out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {

	return nil, nil, 0, syscall.EACCES
}

var _ gofs.NodeMknoder = (*dirNode)(nil)

// Mknod is refused with EPERM, as in cgroupfs.
func (n *dirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32,
	out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {

	return nil, syscall.EPERM
}

var _ gofs.NodeSymlinker = (*dirNode)(nil)

// Symlink is refused with EPERM, as in cgroupfs.
func (n *dirNode) Symlink(ctx context.Context, target, name string,
	out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {

	return nil, syscall.EPERM
}

var _ gofs.NodeLinker = (*dirNode)(nil)

// Link is refused with EPERM, as in cgroupfs.
func (n *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string,
	out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {

	return nil, syscall.EPERM
}

var _ gofs.NodeRenamer = (*dirNode)(nil)

// Rename is refused with EPERM: cgroup v2 renames nothing, neither a group
// nor a file, within a parent or across.
func (n *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder,
	newName string, flags uint32) syscall.Errno {

	return syscall.EPERM
}

var _ gofs.NodeGetattrer = (*dirNode)(nil)

// Getattr reports the real directory's attributes.
func (n *dirNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.SetTimeout(dirAttrTimeout)
	return n.m.realGetattr(n.rel, out)
}

var _ gofs.NodeSetattrer = (*dirNode)(nil)

// Setattr changes the real directory's mode, owner or times.
func (n *dirNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn,
	out *fuse.AttrOut) syscall.Errno {

	out.SetTimeout(dirAttrTimeout)
	return n.m.realSetattr(n.rel, in, out)
}

var _ gofs.NodeStatfser = (*dirNode)(nil)

// Statfs reports the mirrored filesystem's statistics.
func (n *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var s syscall.Statfs_t
	if err := syscall.Fstatfs(n.m.fd, &s); err != nil {
		return n.m.errnoOf(err, "statfs")
	}
	out.FromStatfsT(&s)
	return 0
}
