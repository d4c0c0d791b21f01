package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fileNode is a real file of a group, passed through to the kernel. For
// cgroup.procs and cgroup.threads, writes take the path of tasks.
type fileNode struct {
	gofs.Inode
	m     *mirror
	rel   string
	tasks bool // writes move processes through the enforcer
}

func newFileNode(m *mirror, rel string) *fileNode {
	_, name := ParentRel(rel)
	return &fileNode{m: m, rel: rel, tasks: name == "cgroup.procs" || name == "cgroup.threads"}
}

var _ gofs.NodeOpener = (*fileNode)(nil)

// Open opens the real file with the caller's access mode. The kernel
// already checked the caller against the real mode and owner
// (default_permissions); O_TRUNC arrives as a Setattr before.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32,
	syscall.Errno) {

	keep := int(flags) & (unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK)
	fd, err := n.m.open(n.rel, keep)
	if err != nil {
		return nil, 0, n.m.errnoOf(err, "open")
	}
	return &realHandle{n: n, fd: fd}, fuse.FOPEN_DIRECT_IO, 0
}

var _ gofs.NodeGetattrer = (*fileNode)(nil)

// Getattr reports the real file's attributes.
func (n *fileNode) Getattr(ctx context.Context, f gofs.FileHandle,
	out *fuse.AttrOut) syscall.Errno {

	return n.m.realGetattr(n.rel, out)
}

var _ gofs.NodeSetattrer = (*fileNode)(nil)

// Setattr changes the real file's mode, owner, size or times.
func (n *fileNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn,
	out *fuse.AttrOut) syscall.Errno {

	return n.m.realSetattr(n.rel, in, out)
}

// realHandle is an open real file.
type realHandle struct {
	n  *fileNode
	fd int
}

var _ gofs.FileReader = (*realHandle)(nil)

// Read reads the real file at off.
func (h *realHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult,
	syscall.Errno) {

	for {
		k, err := unix.Pread(h.fd, dest, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, h.n.m.errnoOf(err, "read")
		}
		return fuse.ReadResultData(dest[:k]), 0
	}
}

var _ gofs.FileWriter = (*realHandle)(nil)

// Write writes the real file, except that cgroup.procs and cgroup.threads
// move processes the way tasks does.
func (h *realHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if h.n.tasks {
		group, _ := ParentRel(h.n.rel)
		if e := h.n.m.writeTasks(ctx, group, data); e != 0 {
			return 0, e
		}
		return uint32(len(data)), 0
	}
	for {
		k, err := unix.Pwrite(h.fd, data, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, h.n.m.errnoOf(err, "write")
		}
		return uint32(k), 0
	}
}

var _ gofs.FileFlusher = (*realHandle)(nil)

// Flush has nothing to do: every write went to the kernel at once.
func (h *realHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

var _ gofs.FileFsyncer = (*realHandle)(nil)

// Fsync has nothing to do either.
func (h *realHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return 0 }

var _ gofs.FileReleaser = (*realHandle)(nil)

// Release closes the real file.
func (h *realHandle) Release(ctx context.Context) syscall.Errno {
	unix.Close(h.fd)
	return 0
}

// realGetattr fills out from a fresh stat of rel.
func (m *mirror) realGetattr(rel string, out *fuse.AttrOut) syscall.Errno {
	st, err := m.stat(rel)
	if err != nil {
		return m.errnoOf(err, "getattr")
	}
	out.Attr.FromStat(&st)
	return 0
}

// realSetattr applies in to the real entry rel, then reports its fresh
// attributes. Each change is the kernel's to refuse.
func (m *mirror) realSetattr(rel string, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	fd, err := m.open(rel, unix.O_PATH)
	if err != nil {
		return m.errnoOf(err, "setattr")
	}
	defer unix.Close(fd)
	p := procFD(fd)

	if mode, ok := in.GetMode(); ok {
		if err := unix.Chmod(p, mode); err != nil {
			return m.errnoOf(err, "chmod")
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := unix.Fchownat(fd, "", u, g, unix.AT_EMPTY_PATH); err != nil {
			return m.errnoOf(err, "chown")
		}
	}
	if size, ok := in.GetSize(); ok {
		if err := unix.Truncate(p, int64(size)); err != nil {
			return m.errnoOf(err, "truncate")
		}
	}
	if ts, ok := setattrTimes(in); ok {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
			return m.errnoOf(err, "utimens")
		}
	}

	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return m.errnoOf(err, "setattr")
	}
	out.Attr.FromStat(&st)
	return 0
}

// setattrTimes returns the atime and mtime that in sets, UTIME_OMIT for
// the one it leaves alone; false when it sets neither.
func setattrTimes(in *fuse.SetAttrIn) ([]unix.Timespec, bool) {
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	ts := []unix.Timespec{omit, omit}
	set := false
	if in.Valid&fuse.FATTR_ATIME != 0 {
		set = true
		ts[0] = unix.Timespec{Sec: int64(in.Atime), Nsec: int64(in.Atimensec)}
		if in.Valid&fuse.FATTR_ATIME_NOW != 0 {
			ts[0] = now
		}
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		set = true
		ts[1] = unix.Timespec{Sec: int64(in.Mtime), Nsec: int64(in.Mtimensec)}
		if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
			ts[1] = now
		}
	}
	return ts, set
}
