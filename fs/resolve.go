package fs

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// resolveFlags keep every path the daemon resolves inside the mirrored
// directory and on its filesystem: a path that would cross a mount point
// (above all the daemon's own mount) fails with EXDEV instead of sending a
// request to ourselves.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV |
	unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// OpenPrivate opens directory dir (absolute, without symbolic links) as a
// private copy of its mount, taken apart from the mount table: open_tree
// with OPEN_TREE_CLONE, which copies no mount below it. Walked from there,
// no path meets a mount on a group, the daemon's own, another daemon's or
// any other (helper-60: a group of the mirror under another mirror's
// mount was read and saved through that mount, or not at all), and the
// walk never sends a request to the mount itself. Where the kernel
// refuses (before Linux 5.2, or without CAP_SYS_ADMIN), it opens dir
// itself with O_PATH, whose walks stop at mounts with EXDEV. The
// descriptor is O_PATH and close-on-exec.
func OpenPrivate(dir string) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		return fd, nil
	}
	return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// OpenBeneath opens rel (a slash path, "" for dfd itself) below the
// directory dfd with openat2 and [resolveFlags]: never through a symbolic
// link or a mount point, so never into a FUSE mount (the daemon's own
// above all). It returns a raw fd. Package persist walks the mirror with
// it too.
//
// A path longer than the kernel takes (PATH_MAX: a group made behind the
// mount's back can lie deeper; helper-25's lay 286 levels down) is walked
// a part at a time, each part opened below the last.
func OpenBeneath(dfd int, rel string, flags int) (int, error) {
	if len(rel) <= maxRel {
		return openBeneath(dfd, rel, flags)
	}
	cut := strings.LastIndexByte(rel[:maxRel], '/')
	if cut <= 0 {
		return -1, unix.ENAMETOOLONG
	}
	fd, err := openBeneath(dfd, rel[:cut], unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	return OpenBeneath(fd, rel[cut+1:], flags)
}

// maxRel is the longest relative path OpenBeneath hands the kernel at once.
const maxRel = 3072

func openBeneath(dfd int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: resolveFlags,
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(dfd, rel, &how)
		// EAGAIN: a rename or mount raced with the walk; EINTR: a signal.
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && try < 8 {
			continue
		}
		return fd, err
	}
}

// joinRel joins a relative slash path and a name.
func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// ParentRel returns the parent of a non-empty relative path, and its name.
func ParentRel(rel string) (string, string) {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[:i], rel[i+1:]
		}
	}
	return "", rel
}

// statBeneath stats rel below dfd without following anything and without
// opening the file for I/O (O_PATH runs no open handler of kernfs).
func statBeneath(dfd int, rel string) (syscall.Stat_t, error) {
	var st syscall.Stat_t
	fd, err := OpenBeneath(dfd, rel, unix.O_PATH)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = syscall.Fstat(fd, &st)
	return st, err
}

// procFD names fd by its /proc/self/fd link, for calls that have no form
// taking an O_PATH descriptor (chmod, truncate, xattrs). The link leads
// straight to the file, without any walk through the mount.
func procFD(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// dirent is one entry of getdents64.
type dirent struct {
	ino  uint64
	typ  uint8
	name string
}

// direntBufs holds getdents buffers: a find over the mirror lists every
// group, and a fresh buffer each time would be most of its garbage.
var direntBufs = sync.Pool{New: func() any { return new([16 << 10]byte) }}

// readDirents lists the directory open at fd, which was just opened.
func readDirents(fd int) ([]dirent, error) {
	b := direntBufs.Get().(*[16 << 10]byte)
	defer direntBufs.Put(b)
	buf := b[:]
	var out []dirent
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		out = parseDirents(buf[:n], out)
	}
}

// parseDirents decodes linux_dirent64 records: ino u64, off s64,
// reclen u16, type u8, then the NUL-terminated name.
func parseDirents(b []byte, out []dirent) []dirent {
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, dirent{
			ino:  binary.NativeEndian.Uint64(b[0:8]),
			typ:  b[18],
			name: string(name),
		})
		b = b[reclen:]
	}
	return out
}

// direntMode maps a d_type to the file-type bits of a mode.
func direntMode(t uint8) uint32 {
	switch t {
	case unix.DT_DIR:
		return syscall.S_IFDIR
	case unix.DT_LNK:
		return syscall.S_IFLNK
	case unix.DT_FIFO:
		return syscall.S_IFIFO
	case unix.DT_SOCK:
		return syscall.S_IFSOCK
	case unix.DT_CHR:
		return syscall.S_IFCHR
	case unix.DT_BLK:
		return syscall.S_IFBLK
	}
	return syscall.S_IFREG
}
