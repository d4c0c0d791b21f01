package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/keeper"
)

// A running daemon claims its mirror with locks that every other daemon of
// the machine sees, whatever path or mount namespace it came by: one lock
// file for each directory from the cgroup file system's root down to the
// mirror, named by where the directory lies in that file system (fsSpot),
// taken shared for the ancestors and exclusive for the mirror. Two claims
// then meet on some file exactly when one mirror is the other or lies in
// it. The mounting command's look at mountinfo (mountOfMirror) says which
// mount is in the way, but two mounts started at once both pass it, and a
// mount made in another mount namespace is not in it (helper-60: two
// daemons mirrored the same groups, 3 of 6 races, and one namespace; a
// saved deny was lost).

// claim is the locks of one daemon's mirror, held until it exits.
type claim struct {
	files []*os.File
}

// claimMirror takes the locks of mirror, or fails with a message naming
// the daemon in the way where it can. It claims nothing, and succeeds,
// where mountinfo does not say where mirror lies.
func claimMirror(mirror, mountpoint string) (*claim, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return &claim{}, nil
	}
	dev, path, ok := fsSpot(parseMountinfo(string(data)), realPath(mirror))
	if !ok {
		return &claim{}, nil
	}
	if err := os.MkdirAll(keeper.Dir, 0o700); err != nil {
		return nil, err
	}
	c := &claim{}
	for p := path; ; p = filepath.Dir(p) {
		last := p == "/"
		name := claimFile(dev, p)
		f, err := lockFile(name, p == path)
		if err != nil {
			c.release()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s overlaps a directory that another daemon mirrors%s",
					mirror, holderOf(name))
			}
			return nil, fmt.Errorf("claiming %s: %w", mirror, err)
		}
		c.files = append(c.files, f)
		if p == path {
			// Which daemon holds it, for the message of the next one.
			fmt.Fprintf(f, "%d %s %s\n", os.Getpid(), mirror, mountpoint)
		}
		if last {
			return c, nil
		}
	}
}

// claimFile is the lock file of directory path of the file system dev.
func claimFile(dev, path string) string {
	h := fnv.New64a()
	h.Write([]byte(dev + "\x00" + path))
	return filepath.Join(keeper.Dir, fmt.Sprintf("claim-%016x.lock", h.Sum64()))
}

// lockFile opens name and locks it, exclusive or shared, without waiting.
// A file removed by its last holder between the open and the lock is
// opened again: a lock on it would claim nothing.
func lockFile(name string, exclusive bool) (*os.File, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for range 10 {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
			f.Close()
			return nil, err
		}
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(name, &now) == nil &&
			held.Ino == now.Ino {
			if exclusive {
				f.Truncate(0)
			}
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%s keeps being removed", name)
}

// holderOf describes the daemon whose claim is in name, when its file
// says: ", PID N at MOUNTPOINT".
func holderOf(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return "" // an ancestor of another mirror: several may hold it
	}
	if pid, err := strconv.Atoi(f[0]); err != nil || unix.Kill(pid, 0) == unix.ESRCH {
		return "" // written by a daemon that was killed; a sharer holds it now
	}
	return fmt.Sprintf(" (%s, daemon PID %s mounted at %s)", f[1], f[0], f[2])
}

// release drops every lock, and removes each lock file that no other
// daemon holds: lockFile opens a file again that was removed under it.
func (c *claim) release() {
	for _, f := range c.files {
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.Remove(f.Name())
		}
		f.Close()
	}
}
