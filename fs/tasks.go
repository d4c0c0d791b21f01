package fs

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/procfs"
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
			p, err = procfs.TgidOf(p)
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
		if n := procfs.ThreadCount(p); n > 0 {
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
		if g, err := procfs.TgidOf(tid); err == nil && g > 1 && !in[g] && found[g] == 0 {
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
		if still[strconv.Itoa(tid)] && procfs.ThreadOf(g, tid) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// parsePIDs reads a write to tasks: decimal PIDs separated by white
// space. Anything else fails the whole write with EINVAL, and why, for the
// log line.
func parsePIDs(data []byte) ([]int, syscall.Errno, string) {
	if len(data) >= maxWrite {
		return nil, syscall.E2BIG, tooLong(len(data)).Error()
	}
	var pids []int
	for _, f := range bytes.Fields(data) {
		for _, c := range f {
			if c < '0' || c > '9' {
				return nil, syscall.EINVAL, strconv.Quote(string(f)) +
					": not a PID (decimal digits)"
			}
		}
		p, err := strconv.ParseInt(string(f), 10, 32)
		if err != nil {
			return nil, syscall.EINVAL, strconv.Quote(string(f)) + ": too large for a PID"
		}
		pids = append(pids, int(p))
	}
	return pids, 0, ""
}

// quoteShort quotes data for a log line, cut after 100 bytes.
func quoteShort(data []byte) string {
	if len(data) > 100 {
		return strconv.Quote(string(data[:100])) + "..."
	}
	return strconv.Quote(string(data))
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
	pids, e, why := parsePIDs(data)
	if e != 0 {
		m.log.WithFields(logrus.Fields{
			"uid": c.Uid, "pid": c.Pid, "comm": procfs.CommOf(c.Pid), "group": groupName(group),
			"result": errName(e), "input": quoteShort(data), "error": why,
		}).Warn("task move")
		return e
	}

	if !LockOr(&m.wmu, c) {
		m.log.WithFields(logrus.Fields{
			"uid": c.Uid, "pid": c.Pid, "comm": procfs.CommOf(c.Pid), "group": groupName(group),
			"input": quoteShort(data), "result": errName(syscall.EINTR),
			"error": ErrInterrupted.Error(),
		}).Warn("task move")
		return syscall.EINTR
	}
	defer m.wmu.Unlock()
	if e := m.seeGroup(group); e != 0 {
		return e
	}

	for _, p := range pids {
		tid := p
		if p == 0 {
			tid = c.Pid
		}
		pid, err := procfs.TgidOf(tid)
		if err == nil {
			err = m.enforcer.Move(c, pid, group)
		}
		e := m.errnoOf(err, "task move")
		f := logrus.Fields{
			"uid": c.Uid, "pid": c.Pid, "comm": procfs.CommOf(c.Pid), "group": groupName(group),
			"task": p, "process": pid, "result": errName(e),
		}
		if err != nil {
			f["error"] = err.Error()
		}
		logOutcome(m.log.WithFields(f), e, "task move")
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
