package persist

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// StatAttr is the extended attribute that keeps a group's denial counts,
// its syscalls.stat as last flushed, so that they survive a restart. The
// daemon flushes changed counts once a second and when it stops: a
// kill -9 loses the counts of at most the last second. Counts are not
// policy: a value that cannot be read or parsed is reported in the log and
// the group's counts start again from zero; it never stops a mount.
const StatAttr = "trusted.cgsyscall.stat"

// maxStat bounds a saved syscalls.stat: a line for every syscall of the
// table with a 20-digit count stays under 16 KiB.
const maxStat = 64 << 10

// RestoreStats makes the next [Store.Load] hand restore the saved counts of
// every group that has them, as the walk reaches it. A value it cannot
// read goes to restore as nil, with the error in a log line of the caller's.
func (s *Store) RestoreStats(restore func(group string, val []byte)) {
	s.onStat = restore
}

// loadStat hands the saved counts of group rel, open at fd, to onStat.
func (s *Store) loadStat(fd int, rel string) {
	val, ok, err := readNamed(fd, StatAttr, maxStat)
	switch {
	case err != nil:
		s.onStat(rel, nil)
	case ok:
		s.onStat(rel, val)
	}
}

// SaveStat writes the counts of group into its attribute. A group whose
// directory has gone is skipped: its counts went with it.
func (s *Store) SaveStat(group string, val []byte) error {
	if len(val) > maxStat {
		return fmt.Errorf("denial counts of group /%s: %d bytes, more than %d", group,
			len(val), maxStat)
	}
	fd, err := s.openDir(group)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("saving the denial counts of group /%s: %w", group, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, StatAttr, val, 0); err != nil {
		return fmt.Errorf("saving the denial counts of group /%s in %s of %s: %w", group,
			StatAttr, s.dirPath(group), err)
	}
	return nil
}
