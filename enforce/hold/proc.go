package hold

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/procfs"
)

// errnoOf returns err's errno, for the file interface.
func errnoOf(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// maxDirLen bounds the paths of cgroup directories that are used as they
// are: the kernel takes no path of PATH_MAX (4096) bytes or more, and a
// file's name is added to them.
const maxDirLen = 3072

// shortDir returns a path to directory dir that the kernel takes: dir
// itself, or for a deeper cgroup (made behind the mount's back, a group
// of the mirror whose path is longer than PATH_MAX: helper-25, which held
// a member there unheld and made every write to its ancestors fail with
// ENAMETOOLONG) /proc/self/fd/N of a descriptor opened below its first
// part by fs.OpenBeneath (a part at a time, crossing no mount and following
// no symbolic link). done closes that descriptor.
func shortDir(dir string) (path string, done func(), err error) {
	if len(dir) <= maxDirLen {
		return dir, func() {}, nil
	}
	cut := strings.LastIndexByte(dir[:maxDirLen], '/')
	if cut <= 0 {
		return "", nil, syscall.ENAMETOOLONG
	}
	top, err := unix.Open(dir[:cut], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	fd, err := fs.OpenBeneath(top, dir[cut+1:], unix.O_PATH|unix.O_DIRECTORY)
	unix.Close(top)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), func() { unix.Close(fd) }, nil
}

// writeProcs moves pid into the real cgroup dir. It makes three system
// calls, where os.OpenFile and a write make seven: Go's poller takes
// cgroup files in (they can be polled), with two fcntl calls and an
// epoll_ctl each way.
func writeProcs(dir string, pid int) error {
	dir, done, err := shortDir(dir)
	if err != nil {
		return errnoOf(err)
	}
	defer done()
	fd, err := unix.Open(filepath.Join(dir, "cgroup.procs"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	b := strconv.AppendInt(nil, int64(pid), 10)
	for {
		_, err = unix.Write(fd, b)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return errnoOf(err)
	}
	return nil
}

// readProcs lists the PIDs of a real cgroup directory; for a threaded
// cgroup, whose cgroup.procs cannot be read, the processes of its threads.
func readProcs(dir string) ([]int, error) {
	dir, done, err := shortDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, errnoOf(err)
	}
	defer done()
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, syscall.EOPNOTSUPP) {
		b, err = os.ReadFile(filepath.Join(dir, "cgroup.threads"))
		if err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				if tid, err := strconv.Atoi(f); err == nil && tgidOf(tid) != 0 {
					pids = append(pids, tgidOf(tid))
				}
			}
			return pids, nil
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, errnoOf(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return append(pids, hiddenProcs(dir, pids)...), nil
}

// hiddenProcs returns the processes with threads in the real cgroup dir
// that its cgroup.procs, which listed listed, leaves out (fs.HiddenProcs).
func hiddenProcs(dir string, listed []int) []int {
	path := filepath.Join(dir, "cgroup.threads")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return fs.HiddenProcs(b, listed, func() []byte {
		b, _ := os.ReadFile(path)
		return b
	})
}

// readProc reads a small /proc file of a process (status, stat) with one
// read(2) into a buffer of 4 KiB, which holds either whole: three system
// calls, where os.ReadFile makes seven (it also tries the file with Go's
// poller, stats it and reads to the end), and Decide reads these for
// calls the guard looks at.
func readProc(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
}

// statusField reads one field of /proc/PID/status.
func statusField(pid int, key string) (string, error) {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// tgidOf maps a thread ID to its process; 0 when it is gone.
func tgidOf(tid int) int {
	n, err := procfs.TgidOf(tid)
	if err != nil {
		return 0
	}
	return n
}

// seccompFilters is Seccomp_filters of /proc/PID/status: how many filters
// process pid has; 0 when that cannot be read.
func seccompFilters(pid int) int {
	_, n := seccompState(pid)
	return n
}

// seccompStrict is the Seccomp line of /proc/PID/status for strict mode.
const seccompStrict = 1

// seccompState reads the seccomp mode of process pid (its main thread)
// and how many filters it has, from one read of /proc/PID/status; 0, 0
// when that cannot be read.
func seccompState(pid int) (mode, filters int) {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			mode, _ = strconv.Atoi(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(line, "Seccomp_filters:"); ok {
			filters, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return mode, filters
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := readProc("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("bad stat line")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// startTime is field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 20 {
		return 0, syscall.ESRCH
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// liveStart is startTime of a process that has not exited: a zombie, which
// keeps its start time until it is reaped, has no start here.
func liveStart(pid int) (uint64, bool) {
	f, err := statFields(pid)
	if err != nil || len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return st, err == nil
}

// parentOf is field 4 of /proc/PID/stat.
func parentOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 2 {
		return 0, syscall.ESRCH
	}
	return strconv.Atoi(f[1])
}

// threadCount is how many threads process pid has (its /proc task
// directory's entries), 0 when that cannot be read.
func threadCount(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return 0
	}
	return len(ents)
}
