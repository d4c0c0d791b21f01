package persist

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
)

// Attr is the extended attribute of a real cgroup directory that holds
// the group's saved deny set.
const Attr = "trusted.cgsyscall.deny"

// maxValue bounds a saved value: the longest set Format can write for a
// [policy.Capacity] of 1024 numbers is under 5 KiB.
const maxValue = 8 << 10

// Store saves and restores the policy of one mirror in the extended
// attributes of its real directories. Its methods are safe for concurrent
// use; the mirror serializes Save calls anyway.
type Store struct {
	fd     int // O_PATH descriptor of the mirror, opened once
	mirror string
	arch   *arch.Arch
	v1     bool // the mirror lies in a cgroup v1 hierarchy

	// skipDir/skipName name the daemon's mount point when it lies inside
	// the mirror; skip is false otherwise.
	skip     bool
	skipDir  string
	skipName string

	onStat func(group string, val []byte) // see RestoreStats
}

// Open opens the store of the cgroup directory mirror, on cgroup2 or in a
// cgroup v1 hierarchy. mountpoint is where the mirror will be mounted;
// when it lies inside the mirror, its directory is no group of the mirror
// and is never walked. Close the store when done.
//
// A v1 hierarchy must keep trusted.* attributes: Open tries a setxattr
// that changes nothing, and a hierarchy that answers EOPNOTSUPP fails the
// open with a message that says to remount it with -o xattr. The daemon
// never runs without saving.
func Open(mirror, mountpoint string, a *arch.Arch) (*Store, error) {
	dir, err := filepath.EvalSymlinks(mirror)
	if err != nil {
		return nil, fmt.Errorf("saved policy: mirror: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	fd, err := fs.OpenPrivate(dir)
	if err != nil {
		return nil, fmt.Errorf("saved policy: mirror %s: %w", dir, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("saved policy: mirror %s: %w", dir, err)
	}
	if sfs.Type != unix.CGROUP2_SUPER_MAGIC && sfs.Type != unix.CGROUP_SUPER_MAGIC {
		unix.Close(fd)
		return nil, fmt.Errorf("saved policy: mirror %s is not a cgroup directory", dir)
	}
	s := &Store{fd: fd, mirror: dir, arch: a, v1: sfs.Type == unix.CGROUP_SUPER_MAGIC}
	if s.v1 {
		if err := s.probe(); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	if rel, ok := fs.MountPointGroup(dir, mountpoint); ok {
		s.skip = true
		s.skipDir, s.skipName = fs.ParentRel(rel)
	}
	return s, nil
}

// probeAttr is the attribute the probe of a v1 hierarchy names; it is
// never created.
const probeAttr = "trusted.cgsyscall.probe"

// fsetxattr is unix.Fsetxattr; a variable, so that tests can play a
// hierarchy that keeps no attributes.
var fsetxattr = unix.Fsetxattr

// probe checks that the mirror's v1 hierarchy keeps trusted.* attributes:
// replacing an attribute that does not exist changes nothing and fails
// with ENODATA where attributes are kept, with EOPNOTSUPP where not.
func (s *Store) probe() error {
	fd, err := s.openDir("")
	if err != nil {
		return fmt.Errorf("saved policy: opening the mirror %s: %w", s.mirror, err)
	}
	defer unix.Close(fd)
	err = fsetxattr(fd, probeAttr, []byte{}, unix.XATTR_REPLACE)
	switch {
	case err == nil, errors.Is(err, unix.ENODATA):
		return nil
	case errors.Is(err, unix.EOPNOTSUPP):
		return s.noXattr(err)
	}
	return fmt.Errorf("saved policy: trying %s on %s: %w", probeAttr, s.mirror, err)
}

// noXattr is the error of a v1 hierarchy that keeps no attributes.
func (s *Store) noXattr(err error) error {
	return fmt.Errorf("saved policy: the cgroup v1 hierarchy of %s keeps no extended "+
		"attributes (%w); remount it with -o xattr", s.mirror, err)
}

// Close releases the store's descriptor.
func (s *Store) Close() error {
	return unix.Close(s.fd)
}

// Save records in the attributes what the tree holds now for group and
// its descendants, after a change there. deny tells a deny (numbers were
// added to group and every descendant) from an allow (numbers left
// group's own set). The order of the writes is what makes a kill -9 at
// any moment harmless; see the package documentation.
//
// A group whose directory has gone meanwhile is skipped: its policy went
// with it. Any other failure stops the save and is returned; the caller
// takes the change back and calls Save again with !deny to put the old
// sets back in place.
func (s *Store) Save(t *policy.Tree, group string, deny bool) error {
	paths := t.Subtree(group)
	if len(paths) == 0 {
		return nil
	}
	// paths[0] is group itself: Subtree sorts, and a path sorts before
	// every path it is a prefix of.
	if deny {
		for _, p := range paths {
			if err := s.write(t, p, false); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range paths[1:] {
		if err := s.write(t, p, true); err != nil {
			return err
		}
	}
	return s.write(t, paths[0], false)
}

// write stores D(p) in p's attribute. With onlyIfDiffers, an attribute
// that already holds the value is left alone.
func (s *Store) write(t *policy.Tree, p string, onlyIfDiffers bool) error {
	d, ok := t.Denied(p)
	if !ok {
		return nil // removed from the tree meanwhile
	}
	val := policy.Format(d)
	fd, err := s.openDir(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return s.saveError(p, err)
	}
	defer unix.Close(fd)
	if onlyIfDiffers {
		old, ok, err := readAttr(fd)
		if err == nil && ok && bytes.Equal(old, val) {
			return nil
		}
	}
	return s.set(fd, p, val)
}

// set writes val into the attribute of group p, open at fd.
func (s *Store) set(fd int, p string, val []byte) error {
	if beforeSet != nil {
		if err := beforeSet(p); err != nil {
			return s.saveError(p, err)
		}
	}
	if err := unix.Fsetxattr(fd, Attr, val, 0); err != nil {
		if s.v1 && errors.Is(err, unix.EOPNOTSUPP) {
			return s.noXattr(err)
		}
		return s.saveError(p, err)
	}
	return nil
}

// beforeSet, when not nil, is called before each attribute write and may
// fail it: tests use it to stop a save half way, as a kill -9 would.
var beforeSet func(group string) error

// saveError names the group and the attribute of a failed save. It wraps
// err, so the errno stays visible to errors.As.
func (s *Store) saveError(p string, err error) error {
	return fmt.Errorf("saving the policy of group /%s in %s of %s: %w", p, Attr,
		s.dirPath(p), err)
}

// dirPath is the real path of group p, for messages.
func (s *Store) dirPath(p string) string {
	if p == "" {
		return s.mirror
	}
	return s.mirror + "/" + p
}

// openDir opens group p's real directory for reading below the mirror.
func (s *Store) openDir(p string) (int, error) {
	return fs.OpenBeneath(s.fd, p, unix.O_RDONLY|unix.O_DIRECTORY)
}

// readAttr reads the attribute of the directory open at fd; ok is false
// when the directory has none.
func readAttr(fd int) (val []byte, ok bool, err error) {
	return readNamed(fd, Attr, maxValue)
}

// readNamed reads attribute name, of at most max bytes, of the directory
// open at fd.
func readNamed(fd int, name string, max int) (val []byte, ok bool, err error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Fgetxattr(fd, name, buf)
		switch {
		case errors.Is(err, unix.ENODATA):
			return nil, false, nil
		case errors.Is(err, unix.ERANGE) && len(buf) < max:
			buf = make([]byte, max)
			continue
		case err != nil:
			return nil, false, err
		}
		return buf[:n], true, nil
	}
}
