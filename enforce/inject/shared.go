package inject

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/procfs"
)

// kcmpVM and kcmpFiles are KCMP_VM and KCMP_FILES of <linux/kcmp.h>.
const (
	kcmpVM    = 1
	kcmpFiles = 2
)

// kcmp compares a resource of two tasks: 0 when it is the same, 1 or 2
// for an order, -1 when either task is gone or out of reach.
func kcmp(a, b int, kind uintptr) int {
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), kind, 0, 0, 0)
	if e != 0 {
		return -1
	}
	return int(r)
}

// sharedWith returns another process that shares the file table of
// process pid (clone with CLONE_FILES but not CLONE_THREAD), or 0. It asks
// kcmp(2) about every process, about a microsecond each. It is the
// fallback where no helper thread can be made (see spawnHelper), and runs
// while every thread of pid is stopped: pid cannot give its table to a
// new process meanwhile, and any process that shares it already is found.
func sharedWith(pid int) int {
	self := os.Getpid()
	for _, other := range listProcesses() {
		if other != pid && other != self && kcmp(pid, other, kcmpFiles) == 0 {
			// Exiting processes have no file table left, and kernel
			// threads share theirs: neither counts.
			if pi, err := readProc(other); err == nil && !pi.zombie && !pi.kthread {
				return other
			}
		}
	}
	return 0
}

// skipMemoryCheck leaves memorySharer out of a hold, for the tests of the
// checks behind it (the verified program, the page read back).
var skipMemoryCheck bool

// memorySharer returns another process that shares the memory of the
// traced process (clone with CLONE_VM but not CLONE_THREAD), or 0. Such a
// process is not stopped with it: it could rewrite the injected code and
// programs, and make the process dumpable again to copy the new listener
// from the helper thread (adversary, finding A). A vfork child shares its
// parent's memory until it execs. It runs once every thread is stopped,
// and fails with EAGAIN when the machine kept creating tasks throughout
// (maxRounds below): a check it cannot finish refuses the hold.
//
// kcmp(2) is asked about every process, by one of the process's own live
// threads (its leader may have exited). A process whose leader has
// exited has no memory to compare, while its other threads may still
// share it (adversary, F3): such a process is looked at thread by thread.
// It takes a census's list of processes when one is current, which spares
// the listing of /proc and tells the processes that have one thread from
// the rest; otherwise it lists /proc, about 0.5 µs a process with kcmp,
// and asks kcmp more about the processes that could have no memory.
//
// A list is a moment's: a sharer can make another and exit before its
// turn, again and again (adversary helper-13, finding 1: such a "hopper"
// went unseen in 19 of 20 holds), or grow a thread and lose its leader.
// Either creates a task, which the kernel counts. So the check ends only
// when the count has not grown, but for the holds' own helper threads,
// since the list was made: then every task alive was alive when it was
// made, and was asked about. Otherwise it lists /proc again and asks
// about every process again (first, as a shortcut, about the newest task
// IDs), and counts again. A process is not told from an earlier one by
// its PID across lists: the kernel can give a PID out and take it back
// without making a task, and so come round to a listed PID at will
// (adversary helper-14: a sharer reborn at its decoy's PID went unseen
// in 12 of 33 holds when only new PIDs were asked about).
func (t *tracer) memorySharer() (int, error) {
	if busyChecks.Load() > 0 && busyChecks.Add(-1) >= 0 {
		return 0, unix.EAGAIN
	}
	probe := t.liveThread()
	if probe == 0 {
		return 0, nil
	}
	c := memCheck{probe: probe, pid: t.pid, self: os.Getpid(), nullRef: nullMemory()}
	if c.nullRef != 0 {
		c.nullOrder = kcmp(probe, c.nullRef, kcmpVM)
	}
	entries, at, census := currentCensus()
	if !census {
		var ok bool
		if at, ok = stamp(); !ok {
			return 0, unix.EAGAIN
		}
		entries = unknown(listProcesses())
	}
	debugf("memory of %d: %d processes, census %v", t.pid, len(entries), census)
	for _, e := range entries {
		if other := c.ask(e); other != 0 {
			return other, nil
		}
	}
	for round := 1; ; round++ {
		now, ok := stamp()
		if ok && now.since(at) {
			return 0, nil
		}
		if round > maxRounds {
			debugf("memory of %d: tasks were created throughout %d rounds", t.pid, maxRounds)
			return 0, unix.EAGAIN
		}
		if !ok {
			continue
		}
		// The newest IDs first: a sharer that makes the next and exits
		// is likelier alive there than at its turn in the list.
		if other := c.allocated(at.lo, now.hi); other != 0 {
			return other, nil
		}
		for _, pid := range listProcesses() {
			if other := c.ask(censusEntry{pid: pid}); other != 0 {
				return other, nil
			}
		}
		at = now
	}
}

// busyChecks, set by tests, is how many of the next checks end as on a
// machine that creates tasks throughout them.
var busyChecks atomic.Int32

// maxRounds bounds the passes memorySharer makes after its first: on a
// quiet machine the second count ends the check, and a machine that
// creates a task during each of 50 passes is not one to settle soon.
const maxRounds = 50

// memCheck is one memorySharer check: the probe thread of process pid.
type memCheck struct {
	probe, pid, self   int
	nullRef, nullOrder int
}

// ask returns e's process if it shares the probe's memory, or 0.
func (c *memCheck) ask(e censusEntry) int {
	if e.pid == c.pid || e.pid == c.self {
		return 0
	}
	switch r := kcmp(c.probe, e.pid, kcmpVM); {
	case r == 0:
		// The probe has memory: so has this one, the same. A kernel
		// thread that borrows a process's memory (kthread_use_mm) is
		// not a process of its own.
		if pi, err := readProc(e.pid); err == nil && !pi.kthread {
			return e.pid
		}
	case r < 0 || e.threads == single:
	case c.nullRef == 0:
		// No task known to be without memory to tell such a process
		// by (a PID namespace without kernel threads): every thread is
		// asked.
		if threadShares(c.probe, e.pid) {
			return e.pid
		}
	case r == c.nullOrder && kcmp(c.nullRef, e.pid, kcmpFiles) != 0 &&
		kcmp(c.nullRef, e.pid, kcmpVM) == 0:
		// No memory, and not a kernel thread (those share the kernel's
		// file table, as the reference does): an exited process, or one
		// whose leader exited before its other threads.
		if threadShares(c.probe, e.pid) {
			return e.pid
		}
	}
	return 0
}

// allocated asks kcmp about the task IDs allocated after cursor lo up to
// cursor hi, the newest first and at most maxAllocated of them, and
// returns the process of one that shares the probe's memory, or 0. IDs
// are given round from the cursor, wrapping at pid_max. A shortcut only:
// the cursor also moves for IDs freed again without a task (a fork that
// failed after its ID was given, which a process can repeat at will), so
// it can come round to an ID listed before (adversary helper-14); the
// full pass after it is what the check rests on.
func (c *memCheck) allocated(lo, hi uint64) int {
	max := uint64(procfs.PidMax())
	if lo >= max || hi >= max {
		return 0
	}
	id := hi
	for n := 0; n < maxAllocated && id != lo; n++ {
		if id > 0 && kcmp(c.probe, int(id), kcmpVM) == 0 {
			pi, err := readProc(int(id))
			if err == nil && !pi.kthread && pi.tgid != c.pid && pi.tgid != c.self {
				return pi.tgid
			}
		}
		if id--; id == 0 {
			id = max - 1
		}
	}
	return 0
}

// maxAllocated bounds the IDs allocated asks about (0.2 µs each).
const maxAllocated = 1024

// unknown makes census entries of pids, thread counts not known.
func unknown(pids []int) []censusEntry {
	entries := make([]censusEntry, len(pids))
	for i, pid := range pids {
		entries[i] = censusEntry{pid: pid}
	}
	return entries
}

// liveThread returns a thread of the traced process that has not exited,
// its leader if it has not, or 0.
func (t *tracer) liveThread() int {
	if th := t.threads[t.pid]; th != nil && !t.zombies[t.pid] {
		return t.pid
	}
	for tid, th := range t.threads {
		if !t.zombies[tid] && !t.isOther(th) {
			return tid
		}
	}
	return 0
}

// threadShares reports whether a thread of process pid other than its
// leader shares the memory of task probe.
func threadShares(probe, pid int) bool {
	tids, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return false
	}
	for _, d := range tids {
		if tid, err := strconv.Atoi(d.Name()); err == nil && tid != pid &&
			kcmp(probe, tid, kcmpVM) == 0 {
			return true
		}
	}
	return false
}

// nullMemory returns a task known to have no memory and the kernel's file
// table: kthreadd, PID 2, where this process's PID namespace shows it;
// otherwise 0.
var nullMemory = sync.OnceValue(func() int {
	if pi, err := readProc(2); err == nil && pi.kthread {
		return 2
	}
	return 0
})

// listProcesses returns the process IDs under /proc.
func listProcesses() []int {
	fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var pids []int
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n <= 0 {
			return pids
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			reclen := int(b[16]) | int(b[17])<<8
			if reclen == 0 || reclen > len(b) {
				return pids
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if pid, err := strconv.Atoi(string(name)); err == nil {
				pids = append(pids, pid)
			}
			b = b[reclen:]
		}
	}
}

// A census is a list of the machine's processes taken once for a run of
// holds (a deny that reaches many members), which each hold's
// memorySharer uses instead of listing /proc again, for as long as the
// kernel's count of tasks ever created (/proc/stat "processes") has grown
// by nothing but the helper threads the holds themselves made. While it
// has not, every process alive now was alive when the census was taken
// and is in it, and no process gained a thread: one with a single thread
// then cannot be a process whose leader exited before its other threads,
// and needs one kcmp. A process that exits or execs in the meantime
// needs no notice: the memory an exec gives is new, and only a new
// process could share it. The first task created by anyone else makes
// the census stale: holds go back to listing /proc.
type censusEntry struct {
	pid     int
	threads threadCount
}

type threadCount int8

const (
	unknownThreads threadCount = iota
	single
	several
)

var census struct {
	sync.Mutex
	at      forkStamp
	entries []censusEntry
	// left counts the holds announced and not yet checked; served, the
	// checks the census passed since taken; retaken, the times it was
	// taken again since announced. A stale census is taken again while
	// retakeAfter holds are left, up to maxRetakes times (the first
	// holds of a run often find one task more: a thread of this process's
	// runtime), or after it served retakeAfter checks.
	left, served, retaken int
}

// retakeAfter is the number of holds that must be left for a stale
// census to be taken again: a census costs about as much as ten listings
// of /proc (a stat of every process's threads).
const (
	retakeAfter = 16
	maxRetakes  = 3
)

// TakeCensus lists the machine's processes for a run of n holds about to
// begin, which then skip a listing of /proc each. Below retakeAfter holds
// it does nothing.
func TakeCensus(n int) {
	if n < retakeAfter {
		return
	}
	census.Lock()
	defer census.Unlock()
	census.left, census.retaken = n, 0
	takeCensus()
}

// takeCensus lists the processes, census locked.
func takeCensus() {
	census.entries, census.served = nil, 0
	at, ok := stamp()
	if !ok {
		return
	}
	nullRef := nullMemory()
	pids := listProcesses()
	entries := make([]censusEntry, 0, len(pids))
	for _, pid := range pids {
		if nullRef != 0 && pid != nullRef && kcmp(nullRef, pid, kcmpVM) == 0 &&
			kcmp(nullRef, pid, kcmpFiles) == 0 {
			continue // a kernel thread: it stays one
		}
		e := censusEntry{pid: pid, threads: several}
		if procfs.ThreadCount(pid) == 1 {
			e.threads = single
		}
		entries = append(entries, e)
	}
	// Tasks created while the list was made may be missing from it.
	if now, ok := stamp(); ok && now.since(at) {
		census.at, census.entries = at, entries
	}
}

// currentCensus returns the census's entries, and the stamp when it was
// taken, if it is current.
func currentCensus() ([]censusEntry, forkStamp, bool) {
	census.Lock()
	defer census.Unlock()
	if census.entries == nil {
		return nil, forkStamp{}, false
	}
	if census.left > 0 {
		census.left--
	}
	if now, ok := stamp(); ok && now.since(census.at) {
		census.served++
		return census.entries, census.at, true
	}
	debugf("census stale after %d checks, %d left, taken again %d times", census.served,
		census.left, census.retaken)
	if census.left >= retakeAfter &&
		(census.retaken < maxRetakes || census.served >= retakeAfter) {
		census.retaken++
		takeCensus()
		if census.entries != nil {
			census.served++
			return census.entries, census.at, true
		}
	}
	census.entries = nil
	return nil, forkStamp{}, false
}

// forkStamp is the kernel's count of tasks ever created and this
// process's count of the helper threads it made the holds' processes
// create, at one moment when no such clone was under way; and the last
// task ID the kernel gave out, read before the count (lo) and after it
// (hi). A task the count leaves out got an ID after lo; one it includes
// got one up to hi.
type forkStamp struct{ total, helpers, lo, hi uint64 }

// since reports whether the tasks created between stamp at and s are
// all helper threads.
func (s forkStamp) since(at forkStamp) bool {
	return s.total-at.total == s.helpers-at.helpers
}

// TaskCount is the kernel's count of the tasks ever created, less the
// helper threads that holds made, at one moment.
type TaskCount struct{ s forkStamp }

// CountTasks reads a TaskCount; false when it could not.
func CountTasks() (TaskCount, bool) {
	s, ok := stamp()
	return TaskCount{s}, ok
}

// NoneSince reports whether no task but the holds' helper threads was
// created between at and c: every process alive at c was alive at at.
func (c TaskCount) NoneSince(at TaskCount) bool { return c.s.since(at.s) }

// clones counts the helper threads that holds make processes create.
// A clone is in flight from the moment the injected call may run until
// the tracer knows it made a thread (the clone event) or gave up on
// knowing; a stamp waits for none to be in flight, so that it never
// counts a helper the kernel's count has not, nor leaves out one it has.
var clones struct {
	sync.Mutex
	inflight int
	helpers  uint64
}

// helperClone marks an injected clone as in flight and returns the
// function that ends that, to be told whether the clone made a thread;
// calls after the first do nothing.
func helperClone() func(made bool) {
	clones.Lock()
	clones.inflight++
	clones.Unlock()
	var once sync.Once
	return func(made bool) {
		once.Do(func() {
			clones.Lock()
			clones.inflight--
			if made {
				clones.helpers++
			}
			clones.Unlock()
		})
	}
}

// stamp reads a forkStamp, waiting up to 50 ms for injected clones in
// flight to settle (a clone is in flight for tens of microseconds, more
// on a loaded machine); false when it could not.
func stamp() (forkStamp, bool) {
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
		clones.Lock()
		if clones.inflight == 0 {
			var s forkStamp
			var err1, err2, err3 error
			s.lo, err1 = lastTask()
			s.total, err2 = tasksCreated()
			s.hi, err3 = lastTask()
			s.helpers = clones.helpers
			clones.Unlock()
			return s, err1 == nil && err2 == nil && err3 == nil
		}
		clones.Unlock()
		time.Sleep(20 * time.Microsecond)
	}
	return forkStamp{}, false
}

// procStat and procLoadavg are kept open for stamp, which reads them
// again from the start (clones locked).
var procStat, procLoadavg procFile

type procFile struct {
	fd  int
	buf []byte
}

// read returns the file's content, opening it the first time.
func (f *procFile) read(path string) ([]byte, error) {
	if f.buf == nil {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		f.fd, f.buf = fd, make([]byte, 64<<10)
	}
	n, err := unix.Pread(f.fd, f.buf, 0)
	if err != nil {
		return nil, err
	}
	return f.buf[:n], nil
}

// tasksCreated returns the "processes" line of /proc/stat: the tasks
// (threads included) created since boot.
func tasksCreated() (uint64, error) {
	b, err := procStat.read("/proc/stat")
	if err != nil {
		return 0, err
	}
	_, rest, ok := bytes.Cut(b, []byte("\nprocesses "))
	if !ok {
		return 0, unix.EINVAL
	}
	line, _, _ := bytes.Cut(rest, []byte{'\n'})
	return strconv.ParseUint(string(line), 10, 64)
}

// lastTask returns the last field of /proc/loadavg: the ID the kernel
// last gave a task in this process's PID namespace.
func lastTask() (uint64, error) {
	b, err := procLoadavg.read("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	i := bytes.LastIndexByte(b, ' ')
	return strconv.ParseUint(string(b[i+1:]), 10, 64)
}
