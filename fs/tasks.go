package fs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// readTasks renders tasks of group: the PIDs of the real cgroup.procs,
// one a line, ascending, without duplicates. A threaded cgroup refuses to
// list cgroup.procs (EOPNOTSUPP): its cgroup.threads is read instead and
// each thread is named by its process.
func (m *mirror) readTasks(group string) ([]byte, syscall.Errno) {
	raw, err := m.readAll(joinRel(group, "cgroup.procs"))
	threads := false
	if errors.Is(err, unix.EOPNOTSUPP) {
		raw, err = m.readAll(joinRel(group, "cgroup.threads"))
		threads = true
	}
	if err != nil {
		return nil, m.errnoOf(err, "read tasks")
	}
	var pids []int
	for _, f := range bytes.Fields(raw) {
		p, err := strconv.Atoi(string(f))
		if err == nil && threads {
			p, err = TgidOf(p)
		}
		if err == nil {
			pids = append(pids, p)
		}
	}
	if !threads {
		rel := joinRel(group, "cgroup.threads")
		if raw, err := m.readAll(rel); err == nil {
			pids = append(pids, HiddenProcs(raw, pids, func() []byte {
				b, _ := m.readAll(rel)
				return b
			})...)
		}
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	out := make([]byte, 0, len(pids)*8)
	for _, p := range pids {
		out = strconv.AppendInt(out, int64(p), 10)
		out = append(out, '\n')
	}
	return out, 0
}

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

// HiddenProcs returns the processes that have threads in a cgroup whose
// cgroup.threads reads threads, but that its cgroup.procs, which listed
// listed, leaves out: a process whose leader exited before the process
// entered the cgroup (the leader stays a zombie in the cgroup it left
// until the last thread exits) shows there only by its threads. Counting
// the listed processes' threads (the link count of /proc/PID/task, one
// stat each) tells whether there is any; only then is each thread that is
// not listed looked up (TgidOf). again reads cgroup.threads once more:
// a process is returned only if a thread of it is still listed there
// after the lookup, since a thread that exited meanwhile may have left
// its ID to a process elsewhere (the adversary saw PID 1 come back).
func HiddenProcs(threads []byte, listed []int, again func() []byte) []int {
	tids := bytes.Fields(threads)
	total := 0
	for _, p := range listed {
		if n := ThreadCount(p); n > 0 {
			total += n
		}
	}
	if total == len(tids) {
		return nil
	}
	in := make(map[int]bool, len(listed))
	for _, p := range listed {
		in[p] = true
	}
	found := map[int]int{} // process -> a thread of it in the cgroup
	for _, f := range tids {
		tid, err := strconv.Atoi(string(f))
		if err != nil || in[tid] {
			continue
		}
		if g, err := TgidOf(tid); err == nil && g > 1 && !in[g] && found[g] == 0 {
			found[g] = tid
		}
	}
	if len(found) == 0 {
		return nil
	}
	still := map[string]bool{}
	for _, f := range bytes.Fields(again()) {
		still[string(f)] = true
	}
	var out []int
	for g, tid := range found {
		if still[strconv.Itoa(tid)] && ThreadOf(g, tid) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// parsePIDs reads a write to tasks: decimal PIDs separated by white
// space. Anything else fails the whole write with EINVAL.
func parsePIDs(data []byte) ([]int, syscall.Errno) {
	var pids []int
	for _, f := range bytes.Fields(data) {
		for _, c := range f {
			if c < '0' || c > '9' {
				return nil, syscall.EINVAL
			}
		}
		p, err := strconv.ParseInt(string(f), 10, 32)
		if err != nil {
			return nil, syscall.EINVAL
		}
		pids = append(pids, int(p))
	}
	return pids, 0
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

// writeTasks applies one write to tasks (or to a mirrored cgroup.procs or
// cgroup.threads) of group: parsed whole first, then each PID in order is
// mapped to its process (0 is the caller's) and moved. The first failure
// stops the write and is its errno; earlier moves stand.
func (m *mirror) writeTasks(ctx context.Context, group string, data []byte) syscall.Errno {
	c, ok := callerOf(ctx)
	if !ok {
		return syscall.EACCES
	}
	if e := m.mayWrite(c, group); e != 0 {
		return e
	}
	pids, e := parsePIDs(data)
	if e != 0 {
		m.log.WithFields(logrus.Fields{
			"uid": c.Uid, "pid": c.Pid, "comm": CommOf(c.Pid), "group": groupName(group),
			"result": errName(e), "input": strconv.Quote(string(data)),
		}).Info("task move refused")
		return e
	}

	m.wmu.Lock()
	defer m.wmu.Unlock()

	for _, p := range pids {
		tid := p
		if p == 0 {
			tid = c.Pid
		}
		pid, err := TgidOf(tid)
		if err == nil {
			err = m.enforcer.Move(c, pid, group)
		}
		e := m.errnoOf(err, "task move")
		f := logrus.Fields{
			"uid": c.Uid, "pid": c.Pid, "comm": CommOf(c.Pid), "group": groupName(group),
			"task": p, "process": pid, "result": errName(e),
		}
		if err != nil {
			f["error"] = err.Error()
		}
		m.log.WithFields(f).Info("task move")
		if e != 0 {
			return e
		}
	}
	return 0
}

// readAll reads the real file rel whole.
func (m *mirror) readAll(rel string) ([]byte, error) {
	fd, err := m.open(rel, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var raw []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return raw, nil
		}
		raw = append(raw, buf[:n]...)
	}
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
