// Package procfs reads the few facts about processes and threads that the
// daemon takes from /proc, each in as few system calls as the kernel
// allows: these reads sit on the path of every task move and of calls the
// daemon decides.
package procfs

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ThreadCount returns how many threads process pid has, a zombie leader
// included, or -1 when that cannot be told: the kernel gives /proc/PID/task
// a link count of two plus the thread count, one stat where a listing
// costs tens of microseconds.
func ThreadCount(pid int) int {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/task", &st); err != nil || st.Nlink < 3 {
		return -1
	}
	return int(st.Nlink) - 2
}

// ThreadOf reports whether tid is a thread of process pid: whether
// /proc/PID/task/TID exists, one stat where reading the thread's status
// for its Tgid costs tens of microseconds.
func ThreadOf(pid, tid int) bool {
	if pid <= 0 || tid <= 0 {
		return false
	}
	if pid == tid {
		return true
	}
	var st unix.Stat_t
	return unix.Stat("/proc/"+strconv.Itoa(pid)+"/task/"+strconv.Itoa(tid), &st) == nil
}

// TgidOf returns the process (thread group) of thread tid. A process ID,
// the usual case, is told by pidfd_open, which accepts only a thread group
// leader: one call, where /proc/TID/status costs 20-30 µs to render and
// read on a 2-vCPU VM (a tasks write made two such reads before the hold
// began). Any other thread ID is looked up in /proc/TID/status. A thread
// that does not exist: ESRCH.
func TgidOf(tid int) (int, error) {
	if tid <= 0 {
		return 0, syscall.ESRCH
	}
	fd, err := unix.PidfdOpen(tid, 0)
	if err == nil {
		unix.Close(fd)
		return tid, nil
	}
	if err == unix.ESRCH {
		return 0, syscall.ESRCH
	}
	// EINVAL (ENOENT since Linux 6.18): not a leader; ENOSYS before 5.3.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return 0, syscall.ESRCH
	}
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		v, ok := bytes.CutPrefix(line, []byte("Tgid:"))
		if !ok {
			continue
		}
		p, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil || p <= 0 {
			return 0, syscall.ESRCH
		}
		return p, nil
	}
	return 0, syscall.ESRCH
}

// NamespaceInit tells whether process pid is the init of a pid namespace
// below the caller's (the last ID of NSpid in /proc/PID/status is 1, and it
// has more than one): the kernel gives it the orphans of that namespace.
func NamespaceInit(pid int) (bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, err
	}
	for line := range bytes.Lines(b) {
		v, ok := bytes.CutPrefix(line, []byte("NSpid:"))
		if !ok {
			continue
		}
		ids := bytes.Fields(v)
		return len(ids) > 1 && string(ids[len(ids)-1]) == "1", nil
	}
	return false, syscall.EINVAL
}

// CommOf is the command name of thread tid, for log lines; "?" once the
// thread is gone.
func CommOf(tid int) string {
	// One read: a command name is at most 16 bytes. os.ReadFile makes
	// eight system calls for it.
	fd, err := unix.Open("/proc/"+strconv.Itoa(tid)+"/comm", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "?"
	}
	defer unix.Close(fd)
	var b [64]byte
	n, err := unix.Read(fd, b[:])
	if err != nil || n <= 0 {
		return "?"
	}
	return strings.TrimSpace(string(b[:n]))
}

// PidMax returns /proc/sys/kernel/pid_max, where task IDs wrap; 1<<22,
// the largest it can be, when that cannot be read.
func PidMax() int {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
			return v
		}
	}
	return 1 << 22
}

// LastPid returns the last task ID the kernel gave out in this process's
// PID namespace (the last field of /proc/loadavg), or 0.
func LastPid() int {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}
