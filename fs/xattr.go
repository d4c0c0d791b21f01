package fs

import (
	"context"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// Extended attributes of real groups and files pass through to the
// kernel, which keeps trusted.* and user.* on cgroup2 nodes. The kernel
// checks the caller's right to each namespace before the request comes.

// xattrDo runs f on the /proc/self/fd path of rel.
func (m *mirror) xattrDo(rel string, f func(p string) error) syscall.Errno {
	fd, err := m.open(rel, unix.O_PATH)
	if err != nil {
		return m.errnoOf(err, "xattr")
	}
	defer unix.Close(fd)
	return m.errnoOf(f(procFD(fd)), "xattr")
}

func (m *mirror) getxattr(rel, attr string, dest []byte) (uint32, syscall.Errno) {
	var n int
	e := m.xattrDo(rel, func(p string) (err error) {
		n, err = unix.Getxattr(p, attr, dest)
		if err == unix.ERANGE {
			n, err = unix.Getxattr(p, attr, nil)
			if err == nil {
				err = unix.ERANGE
			}
		}
		return err
	})
	return uint32(n), e
}

func (m *mirror) listxattr(rel string, dest []byte) (uint32, syscall.Errno) {
	var n int
	e := m.xattrDo(rel, func(p string) (err error) {
		n, err = unix.Listxattr(p, dest)
		if err == unix.ERANGE {
			n, err = unix.Listxattr(p, nil)
			if err == nil {
				err = unix.ERANGE
			}
		}
		return err
	})
	return uint32(n), e
}

// ownXattrPrefix names the attributes that keep the daemon's state on the
// real directories (package persist): the policy and the denial counts.
// Through the mount nobody may change them (EPERM): the daemon writes
// them, through the real directories.
const ownXattrPrefix = "trusted.cgsyscall."

func (m *mirror) setxattr(rel, attr string, data []byte, flags uint32) syscall.Errno {
	if strings.HasPrefix(attr, ownXattrPrefix) {
		return syscall.EPERM
	}
	return m.xattrDo(rel, func(p string) error {
		return unix.Setxattr(p, attr, data, int(flags))
	})
}

func (m *mirror) removexattr(rel, attr string) syscall.Errno {
	if strings.HasPrefix(attr, ownXattrPrefix) {
		return syscall.EPERM
	}
	return m.xattrDo(rel, func(p string) error {
		return unix.Removexattr(p, attr)
	})
}

var (
	_ gofs.NodeGetxattrer    = (*dirNode)(nil)
	_ gofs.NodeListxattrer   = (*dirNode)(nil)
	_ gofs.NodeSetxattrer    = (*dirNode)(nil)
	_ gofs.NodeRemovexattrer = (*dirNode)(nil)
)

// Getxattr reads an attribute of the real directory.
func (n *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.m.getxattr(n.rel, attr, dest)
}

// Listxattr lists the attributes of the real directory.
func (n *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.m.listxattr(n.rel, dest)
}

// Setxattr sets an attribute of the real directory.
func (n *dirNode) Setxattr(ctx context.Context, attr string, data []byte,
	flags uint32) syscall.Errno {

	return n.m.setxattr(n.rel, attr, data, flags)
}

// Removexattr removes an attribute of the real directory.
func (n *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.m.removexattr(n.rel, attr)
}

var (
	_ gofs.NodeGetxattrer    = (*fileNode)(nil)
	_ gofs.NodeListxattrer   = (*fileNode)(nil)
	_ gofs.NodeSetxattrer    = (*fileNode)(nil)
	_ gofs.NodeRemovexattrer = (*fileNode)(nil)
)

// Getxattr reads an attribute of the real file.
func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.m.getxattr(n.rel, attr, dest)
}

// Listxattr lists the attributes of the real file.
func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.m.listxattr(n.rel, dest)
}

// Setxattr sets an attribute of the real file.
func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte,
	flags uint32) syscall.Errno {

	return n.m.setxattr(n.rel, attr, data, flags)
}

// Removexattr removes an attribute of the real file.
func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.m.removexattr(n.rel, attr)
}
