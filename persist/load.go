package persist

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
)

// Summary says what a [Store.Load] found.
type Summary struct {
	Groups   int      // groups of the mirror, the root included
	Saved    int      // groups that had a saved set
	Repaired []string // groups whose saved set lacked part of the parent's, completed
}

// String is one line for the log.
func (s Summary) String() string {
	groups := "groups"
	if s.Groups == 1 {
		groups = "group"
	}
	msg := fmt.Sprintf("%d %s, %d with a saved policy", s.Groups, groups, s.Saved)
	if len(s.Repaired) == 0 {
		return msg
	}
	list := s.Repaired
	more := ""
	if len(list) > 10 {
		list, more = list[:10], fmt.Sprintf(" and %d more", len(s.Repaired)-10)
	}
	return fmt.Sprintf("%s; completed an interrupted deny in %s%s", msg,
		"/"+strings.Join(list, ", /"), more)
}

// Load walks every group of the mirror, reads the saved sets and replaces
// the whole of t with them, as the package documentation describes. On
// any error t stays as it was: a [*CorruptError] for an attribute that
// cannot be read or holds no valid saved set, another error when a
// directory cannot be walked.
func (s *Store) Load(t *policy.Tree) (Summary, error) {
	w := walker{s: s, groups: map[string]policy.Set{}}
	root, err := fs.OpenBeneath(s.fd, "", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return Summary{}, fmt.Errorf("saved policy: opening the mirror %s: %w", s.mirror, err)
	}
	err = w.walk(root, "", policy.Set{})
	unix.Close(root)
	if err != nil {
		return Summary{}, err
	}
	// A repaired set goes back to its attribute, parents first (the order
	// of a deny), so that a later allow in a parent cannot undo the repair.
	for _, p := range w.sum.Repaired {
		if err := s.store(p, w.groups[p]); err != nil {
			return Summary{}, err
		}
	}
	if err := t.Restore(w.groups); err != nil {
		return Summary{}, fmt.Errorf("saved policy: %w", err)
	}
	w.sum.Groups = len(w.groups)
	return w.sum, nil
}

// store writes set into group p's attribute.
func (s *Store) store(p string, set policy.Set) error {
	fd, err := s.openDir(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return s.saveError(p, err)
	}
	defer unix.Close(fd)
	return s.set(fd, p, policy.Format(set))
}

// walker collects the sets of one Load.
type walker struct {
	s      *Store
	groups map[string]policy.Set
	sum    Summary
}

// walk takes group rel, whose directory is open at fd and whose parent's
// set is parent, then every group below it, depth first.
func (w *walker) walk(fd int, rel string, parent policy.Set) error {
	val, ok, err := readAttr(fd)
	if err != nil {
		return w.s.corrupt(rel, nil, err)
	}
	d := parent
	if ok {
		saved, err := w.s.parse(rel, val)
		if err != nil {
			return err
		}
		w.sum.Saved++
		d = saved.Union(parent)
		if d != saved {
			w.sum.Repaired = append(w.sum.Repaired, rel)
		}
	}
	w.groups[rel] = d
	if w.s.onStat != nil {
		w.s.loadStat(fd, rel)
	}

	names, err := subdirs(fd)
	if err != nil {
		return fmt.Errorf("saved policy: listing group /%s in %s: %w", rel, w.s.dirPath(rel),
			err)
	}
	for _, name := range names {
		if w.s.skip && rel == w.s.skipDir && name == w.s.skipName {
			continue // the daemon's own mount point
		}
		child := name
		if rel != "" {
			child = rel + "/" + name
		}
		cfd, err := fs.OpenBeneath(fd, name, unix.O_RDONLY|unix.O_DIRECTORY)
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
			continue // removed, or replaced, meanwhile
		case errors.Is(err, unix.EXDEV):
			continue // a mount point: not a group of this hierarchy
		case err != nil:
			return fmt.Errorf("saved policy: opening group /%s in %s: %w", child,
				w.s.dirPath(child), err)
		}
		err = w.walk(cfd, child, d)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// subdirs lists the names of the directories in the directory open at fd.
// fd stays open.
func subdirs(fd int) ([]string, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "group")
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// parse reads one saved value. It must be exactly what policy.Format
// writes for a valid deny set: anything else is damage, not a policy.
func (s *Store) parse(rel string, val []byte) (policy.Set, error) {
	set, err := policy.Parse(s.arch, val)
	if err != nil {
		return policy.Set{}, s.corrupt(rel, val, err)
	}
	if want := policy.Format(set); !bytes.Equal(want, val) {
		return policy.Set{}, s.corrupt(rel, val,
			fmt.Errorf("not in the saved form (%q)", shorten(want)))
	}
	return set, nil
}

// CorruptError reports a saved policy that cannot be used: an attribute
// that cannot be read, or one that holds no valid saved set.
type CorruptError struct {
	Group string // the group, "/" for the root, "/a/b" below it
	Dir   string // its real directory
	Value []byte // what the attribute holds; nil when it could not be read
	Err   error  // why it cannot be used
	// Clear is the command that removes the attribute, or "" when
	// setfattr is not installed.
	Clear string
}

// Error is one line: the group, the attribute and its value, why it
// cannot be used, and how to clear it.
func (e *CorruptError) Error() string {
	var what string
	if e.Value != nil {
		what = fmt.Sprintf("is corrupt: %s of %s holds %q (%v)", Attr, e.Dir,
			shorten(e.Value), e.Err)
	} else {
		what = fmt.Sprintf("cannot be read: %s of %s: %v", Attr, e.Dir, e.Err)
	}
	how := "remove the extended attribute " + Attr + " of " + e.Dir
	if e.Clear != "" {
		how = "run: " + e.Clear
	}
	return fmt.Sprintf("saved policy of group %s %s; not mounting without it. "+
		"To give the group its parent's policy instead, %s", e.Group, what, how)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// corrupt makes the CorruptError of group rel.
func (s *Store) corrupt(rel string, val []byte, err error) error {
	e := &CorruptError{Group: "/" + rel, Dir: s.dirPath(rel), Value: val, Err: err}
	if path, lerr := lookPath("setfattr"); lerr == nil && path != "" {
		e.Clear = "setfattr -x " + Attr + " " + e.Dir
	}
	return e
}

// lookPath finds a program; a variable for tests.
var lookPath = exec.LookPath

// shorten cuts a value for a message.
func shorten(b []byte) []byte {
	if len(b) > 64 {
		return append(append([]byte{}, b[:64]...), "..."...)
	}
	return b
}
