package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A running daemon claims its mirror with flock locks on the directories
// themselves, which every other daemon of the machine meets whatever path,
// mount namespace, cgroup namespace, /run or name (a v1 group renamed) it
// came by: exclusive on the mirror, shared on each directory above it up
// to the root of its file system. Two claims then meet on some directory
// exactly when one mirror is the other or lies in it. The mounting
// command's look at mountinfo (mountOfMirror) says which mount is in the
// way, but two mounts started at once both pass it, and a mount made in
// another mount namespace is not in it (helper-60: two daemons mirrored the
// same groups, 3 of 6 races, and one namespace; a saved deny was lost).
// Lock files named by path were tried first: a cgroup namespace shortens
// the paths, a rename changes them and a mount namespace may have a /run
// of its own (helper-62).

// claim is the locked directories of one daemon's mirror, held until it
// exits or its mount ends.
type claim struct {
	dirs []*os.File
}

// claimMirror locks the directories of mirror, or fails saying it overlaps
// another daemon's.
//
// Above the root of the mount mirror lies in (a bind mount of a group, a
// cgroup2 mount in a cgroup namespace) ".." leads out of the file system;
// the walk goes on through another mount of it whose root is the file
// system's, where mountinfo shows one (the cgroup2 mount itself). In a
// cgroup namespace there is none: the directories above its root are not
// locked, and a daemon outside that mirrors one of them is not met.
func claimMirror(mirror string) (*claim, error) {
	c := &claim{}
	top, err := c.lockUp(mirror, unix.LOCK_EX)
	if err == nil && top != "" {
		_, err = c.lockUp(top, unix.LOCK_SH)
	}
	if err != nil {
		c.release()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s overlaps a directory that another daemon mirrors "+
				"(its lock on the directory is held)", mirror)
		}
		return nil, fmt.Errorf("claiming %s: %w", mirror, err)
	}
	return c, nil
}

// lockUp locks dir (how: LOCK_EX or LOCK_SH) and, shared, each directory
// above it up to the root of the mount it lies in. Where that root is not
// the file system's, it returns the root's parent directory reached
// through another mount of the file system ("" where there is none, or at
// the file system's root).
func (c *claim) lockUp(dir string, how int) (string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	for {
		f := os.NewFile(uintptr(fd), dir)
		if err := unix.Flock(fd, how|unix.LOCK_NB); err != nil {
			f.Close()
			return "", err
		}
		c.dirs = append(c.dirs, f)
		how = unix.LOCK_SH
		up, err := unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", nil
		}
		var here, above unix.Stat_t
		if unix.Fstat(fd, &here) != nil || unix.Fstat(up, &above) != nil {
			unix.Close(up)
			return "", nil
		}
		if here.Dev == above.Dev && here.Ino != above.Ino {
			fd = up
			continue
		}
		unix.Close(up)
		// fd is the root of a mount, or of the file system.
		return aboveMountRoot(fd), nil
	}
}

// aboveMountRoot returns the parent of directory fd, the root of a mount,
// through a mount of the same file system whose root is the file system's
// own: "" where fd is that root, or no such mount is in mountinfo.
func aboveMountRoot(fd int) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	here, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return ""
	}
	mounts := parseMountinfo(string(data))
	dev, path, ok := fsSpot(mounts, here)
	if !ok || path == "/" {
		return ""
	}
	for _, m := range mounts {
		if m.dev == dev && m.root == "/" && !strings.HasPrefix(m.fstype, "fuse") {
			return filepath.Join(m.point, filepath.Dir(path))
		}
	}
	return ""
}

// release drops every lock. A second call does nothing.
func (c *claim) release() {
	for _, f := range c.dirs {
		f.Close()
	}
	c.dirs = nil
}
