package hold

import (
	"os"
	"slices"
	"strconv"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/fs"
)

// The mount point may be a group of the mirror (the /sys/fs/cgroup/syscalls
// layout), which the mount then covers and hides. Its members, and those
// of the groups below it, are judged as members of its parent group: a
// deny on the parent or above holds them, and so does the scan, through a
// descriptor of the group opened in the private copy of the mirror's mount
// (Holder.real), or where there is none before the mount covers it (helper-58:
// a process placed there through a second cgroup2 mount was never held,
// and every deny on its parent reported success without it).

// mountPoint is the group under the mount point, when there is one.
type mountPoint struct {
	group  string // the group, "" when the mount point is not one
	parent string // its parent group, which judges its members
	fd     int    // the group's real directory (O_PATH)
}

// CoverMountPoint tells h where its mirror will be mounted, before the
// mount: where that is a group of the mirror, h keeps a descriptor of its
// real directory and judges its members as its parent's (mountPoint). A
// mount point that something covers already (a mount left over) is not
// looked below, and logged.
func (h *Holder) CoverMountPoint(mountpoint string) {
	rel, ok := fs.MountPointGroup(h.mirror, mountpoint)
	if !ok {
		return
	}
	// Through the private copy of the mount, nothing covers it, even a
	// dead mount left there; through the mirror itself, only this mount
	// will, once it is made.
	fd, err := unix.Open(h.dirOf(rel), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	var st, top unix.Stat_t
	if err == nil && (unix.Fstat(fd, &st) != nil || unix.Stat(h.real, &top) != nil ||
		st.Dev != top.Dev) {
		unix.Close(fd)
		err = unix.EBUSY
	}
	if err != nil {
		// A dead mount left there (ENOTCONN), or another mount.
		h.log.WithField("mountpoint", mountpoint).WithError(err).Warn("the mount point's " +
			"group cannot be reached under what covers it now: its members are not held")
		return
	}
	parent, _ := fs.ParentRel(rel)
	h.mp = mountPoint{group: rel, parent: parent, fd: fd}
	h.log.WithFields(logrus.Fields{"group": "/" + rel, "judged-as": "/" + parent}).
		Debug("the mount point is a group: its members are judged as its parent's")
}

// closeMountPoint closes the descriptor CoverMountPoint kept.
func (h *Holder) closeMountPoint() {
	if h.mp.group != "" {
		unix.Close(h.mp.fd)
	}
}

// mountPointMembers adds to pids, the members of group, the processes of
// the group under the mount point and of its whole subtree when group is
// its parent. Each level is opened from the one above it, so that no path
// grows with the depth (helper-60: a walk bounded at 32 levels left a
// member 33 levels below unheld).
func (h *Holder) mountPointMembers(group string, pids []int) []int {
	if h.mp.group == "" || group != h.mp.parent {
		return pids
	}
	var walk func(fd int)
	walk = func(fd int) {
		dir := "/proc/self/fd/" + strconv.Itoa(fd)
		more, _ := readProcs(dir)
		for _, pid := range more {
			if !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			sub, err := unix.Openat(fd, e.Name(),
				unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				walk(sub)
				unix.Close(sub)
			}
		}
	}
	walk(h.mp.fd)
	return pids
}
