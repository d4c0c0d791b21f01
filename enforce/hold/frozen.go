package hold

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The cgroup v2 freezer stops a group's processes in the kernel. A ptrace
// stop still comes (the freezer gives way to it), so a frozen process is
// seized and stopped as any other; but the code a hold injects runs only
// when the process returns to user space, which a frozen one does not
// until it is thawed. A hold then ran out of time with the process's
// registers set for the injected call, and the process died of SIGTRAP
// or SIGSEGV once thawed; a growth killed it (fail closed); and each scan
// spent 2 s on it with the holds' lock taken, every write to the mount
// waiting (helper-75 F3). So a frozen process is not seized for a hold:
// a deny or a move that would hold one fails with EBUSY (errFrozen) and
// changes nothing, and the scan leaves it until it is thawed. A group
// frozen between this look and the injection is not covered.

// errFrozen is the error of a hold refused because the process is frozen.
var errFrozen = fmt.Errorf("%w: the process is frozen (cgroup.freeze): code that a hold "+
	"runs in it cannot run until it is thawed; thaw it, then write again", syscall.EBUSY)

// frozen reports whether process pid sits in a cgroup v2 group that is
// frozen or being frozen: the cgroup.freeze of its group or of an
// ancestor says 1 (helper-76 F2: a group with a task that cannot freeze
// never says "frozen 1" in cgroup.events, and an ancestor's freeze shows
// in no file of the group below). A process whose group cannot be read
// is taken as not frozen: the hold finds out.
func (h *Holder) frozen(pid int) bool {
	path, ok := h.v2PathOf(pid)
	if !ok {
		return false
	}
	for ; path != "/" && path != "" && path != "."; path = filepath.Dir(path) {
		dir, ok := h.v2.dir(path)
		if !ok {
			return false // above the mount's root
		}
		if bytes.HasPrefix(readSmall(dir+"/cgroup.freeze"), []byte("1")) {
			return true
		}
	}
	return false
}

// v2PathOf returns the path of process pid's group in the cgroup v2
// hierarchy; false where there is none.
func (h *Holder) v2PathOf(pid int) (string, bool) {
	h.v2once.Do(func() {
		if !h.where.v1() {
			h.v2, h.v2ok = h.where, true
			return
		}
		h.v2, h.v2ok = locateV2()
	})
	if !h.v2ok {
		return "", false
	}
	if !h.where.v1() {
		// The common case, from groupOf's open /proc/PID/cgroup.
		if group, inside, err := h.groupOf(pid); err == nil && inside {
			return path.Join("/", h.where.prefix, group), true
		}
	}
	return pathOf(readSmall("/proc/"+strconv.Itoa(pid)+"/cgroup"), []byte("0::"))
}

// locateV2 finds a cgroup2 mount for a mirror of a v1 hierarchy.
func locateV2() (where, bool) {
	for _, line := range bytes.Split(readSmall("/proc/self/mountinfo"), []byte("\n")) {
		f := bytes.Fields(line)
		for i := 6; i+1 < len(f); i++ {
			if string(f[i]) == "-" && string(f[i+1]) == "cgroup2" {
				return where{line: []byte("0::"), mount: string(f[4]), root: string(f[3])}, true
			}
		}
	}
	return where{}, false
}

// readSmall reads a small file whole (up to 64 KiB), without Go's poller;
// nil on an error.
func readSmall(path string) []byte {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n := 0
	for n < 64<<10 {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		k, err := unix.Read(fd, buf[n:])
		if err != nil || k <= 0 {
			break
		}
		n += k
	}
	return buf[:n]
}

// noteFrozen logs once for each process that a scan leaves because it
// is frozen. Called with h.mu held.
func (h *Holder) noteFrozen(pid int, group string) {
	start, err := startTime(pid)
	if err != nil {
		return
	}
	key := placement{pid, start}
	if h.frozenSeen[key] {
		return
	}
	if h.frozenSeen == nil || len(h.frozenSeen) >= 4096 {
		h.frozenSeen = map[placement]bool{}
	}
	h.frozenSeen[key] = true
	h.log.WithFields(logrus.Fields{"pid": pid, "group": "/" + group}).
		Info("not held while its group is frozen: the scan holds it once it is thawed")
}
