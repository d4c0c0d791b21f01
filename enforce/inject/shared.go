package inject

import (
	"bytes"
	"os"
	"strconv"
	"sync"
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
// parent's memory until it execs. It runs once every thread is stopped:
// no new process can share the memory from then on.
//
// kcmp(2) is asked about every process, by one of the process's own live
// threads (its leader may have exited). A process whose leader has
// exited has no memory to compare, while its other threads may still
// share it (adversary, F3): such a process is looked at thread by thread.
// It takes a census's list of processes when one is current, which spares
// the listing of /proc and tells the processes that have one thread from
// the rest; otherwise it lists /proc, about 0.3 µs a process, and asks
// kcmp more about the processes that could have no memory.
func (t *tracer) memorySharer() int {
	probe := t.liveThread()
	if probe == 0 {
		return 0
	}
	entries, census := currentCensus()
	if !census {
		pids := listProcesses()
		entries = make([]censusEntry, len(pids))
		for i, pid := range pids {
			entries[i] = censusEntry{pid: pid, threads: unknownThreads}
		}
	}
	debugf("memory of %d: %d processes, census %v", t.pid, len(entries), census)
	nullRef := nullMemory()
	// The order kcmp gives a process without memory against the probe:
	// only processes in that order can be such a process.
	nullOrder := -1
	if nullRef != 0 {
		nullOrder = kcmp(probe, nullRef, kcmpVM)
	}
	self := os.Getpid()
	for _, e := range entries {
		if e.pid == t.pid || e.pid == self {
			continue
		}
		switch r := kcmp(probe, e.pid, kcmpVM); {
		case r == 0:
			// The probe has memory: so has this one, the same. A kernel
			// thread that borrows a process's memory (kthread_use_mm) is
			// not a process of its own.
			if pi, err := readProc(e.pid); err == nil && !pi.kthread {
				return e.pid
			}
		case r < 0 || e.threads == single:
		case nullRef == 0:
			// No task known to be without memory to tell such a process
			// by (a PID namespace without kernel threads): every thread
			// is asked.
			if threadShares(probe, e.pid) {
				return e.pid
			}
		case r == nullOrder && kcmp(nullRef, e.pid, kcmpFiles) != 0 &&
			kcmp(nullRef, e.pid, kcmpVM) == 0:
			// No memory, and not a kernel thread (those share the
			// kernel's file table, as the reference does): an exited
			// process, or one whose leader exited before its other
			// threads.
			if threadShares(probe, e.pid) {
				return e.pid
			}
		}
	}
	return 0
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

// currentCensus returns the census's entries if it is current.
func currentCensus() ([]censusEntry, bool) {
	census.Lock()
	defer census.Unlock()
	if census.entries == nil {
		return nil, false
	}
	if census.left > 0 {
		census.left--
	}
	if now, ok := stamp(); ok && now.since(census.at) {
		census.served++
		return census.entries, true
	}
	debugf("census stale after %d checks, %d left, taken again %d times", census.served,
		census.left, census.retaken)
	if census.left >= retakeAfter &&
		(census.retaken < maxRetakes || census.served >= retakeAfter) {
		census.retaken++
		takeCensus()
		if census.entries != nil {
			census.served++
			return census.entries, true
		}
	}
	census.entries = nil
	return nil, false
}

// forkStamp is the kernel's count of tasks ever created and this
// process's count of the helper threads it made the holds' processes
// create, at one moment when no such clone was under way.
type forkStamp struct{ total, helpers uint64 }

// since reports whether the tasks created between stamp at and s are
// all helper threads.
func (s forkStamp) since(at forkStamp) bool {
	return s.total-at.total == s.helpers-at.helpers
}

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

// stamp reads a forkStamp, waiting up to a millisecond for injected
// clones in flight to settle; false when it could not.
func stamp() (forkStamp, bool) {
	for try := 0; try < 50; try++ {
		clones.Lock()
		if clones.inflight == 0 {
			total, err := tasksCreated()
			s := forkStamp{total, clones.helpers}
			clones.Unlock()
			return s, err == nil
		}
		clones.Unlock()
		time.Sleep(20 * time.Microsecond)
	}
	return forkStamp{}, false
}

// tasksCreated returns the "processes" line of /proc/stat: the tasks
// (threads included) created since boot.
func tasksCreated() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
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
