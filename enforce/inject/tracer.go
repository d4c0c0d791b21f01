package inject

import (
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/procfs"
)

// thread is one traced thread of the target process.
type thread struct {
	tid  int
	kind stopKind
	// deliver is the signal the thread stopped for in a
	// signal-delivery-stop; detaching hands it on, siginfo intact.
	deliver int
	// attached: the kernel attached it at its creation (a clone by a
	// seized thread), so it may be a process of its own rather than a
	// thread of the target; other caches what a look found (see own).
	attached, looked, other bool
}

// tracer does the ptrace work of one session. All its methods run on the
// session's locked OS thread, which is the tracer of every tracee.
type tracer struct {
	pid       int
	locksFree bool // Session.LocksFree
	self      int  // TID of the tracing thread
	pidfd     int
	threads   map[int]*thread
	// zombies are threads of the target that cannot be seized since they
	// exited: a thread group leader that exited before its other threads
	// stays a zombie until they do, and counts among the threads.
	zombies map[int]bool
	// killOnFail: a failed install kills the process before release
	// (Session.KillOnFailure).
	killOnFail bool
	// spareHeld: but not when the kernel refused the listener while
	// another is open (Session.SpareHeld).
	spareHeld bool
	// resend holds signals that arrived at the injecting thread while it
	// ran injected calls; they are sent again before detaching.
	resend []int
	// cloned is the thread that the last clone event reported.
	cloned int
	// settled is set once stopAll found every thread stopped and no
	// thread left unseized; stopped threads create none, so a later
	// stopAll has nothing to do.
	settled bool
	// unpin puts back the masks that pin changed, nil when none.
	unpin func()
	// memoryChecked is set once checkMemory found no sharer.
	memoryChecked bool
	// subreaper is what the process answered to PR_GET_CHILD_SUBREAPER
	// during its last load (askSubreaper): 1 or 0, or -1 not known.
	subreaper int
	// filtersChecked is the thread whose chain checkFilters found
	// harmless, 0 before; harmless names it for the cache of chains
	// found so (harm.go), with the length of its chain then, harmlessN.
	filtersChecked int
	harmless       harmlessKey
	harmlessN      int
	// helperLeft is set when a helper thread did not exit: the hold
	// fails and the process is killed (install).
	helperLeft bool
	// keep is Session.Keep, for install.
	keep func(fd int)
	// exitKill: the threads are traced with PTRACE_O_EXITKILL
	// (Session.ExitKill), and threads seized from now on are too.
	exitKill bool
}

// setExitKill adds PTRACE_O_EXITKILL to the options of every thread, all
// stopped, and of the threads seized after.
func (t *tracer) setExitKill() error {
	t.exitKill = true
	for tid := range t.threads {
		err := ptrace(unix.PTRACE_SETOPTIONS, tid, 0, seizeOptions|unix.PTRACE_O_EXITKILL)
		if err != nil && err != unix.ESRCH {
			return fail("options", t.pid, err)
		}
	}
	return nil
}

// options are the ptrace options of a thread seized now.
func (t *tracer) options() int {
	if t.exitKill {
		return seizeOptions | unix.PTRACE_O_EXITKILL
	}
	return seizeOptions
}

func newTracer(pid int) *tracer {
	return &tracer{pid: pid, pidfd: -1, threads: map[int]*thread{}, subreaper: -1}
}

// seize checks the target, then seizes and interrupts every thread,
// listing /proc/PID/task again until a pass finds no thread it has not
// seized. Threads that seized threads create are attached by the kernel
// (PTRACE_O_TRACECLONE) and found by the wait loop.
func (t *tracer) seize() error {
	quietStops()
	pid := t.pid
	if pid <= 0 {
		return fail("seize", pid, unix.EINVAL)
	}
	tgid, pidfd, err := openProcess(pid)
	if err != nil {
		return fail("seize", pid, err)
	}
	t.pid, t.pidfd = tgid, pidfd
	t.self = unix.Gettid()
	// One pass: threads born meanwhile are attached by the kernel
	// (PTRACE_O_TRACECLONE) when a seized thread made them, and found by
	// stopAll, which lists the threads again once all are stopped, when
	// one that was not seized yet made them.
	if _, err := t.attachNew(); err != nil {
		t.release()
		if err == unix.EPERM {
			// A kernel thread, or a zombie leader, which ptrace refuses
			// alike; or a refusal of the kernel's own.
			if pi, perr := readProc(t.pid); perr != nil || pi.zombie {
				err = unix.ESRCH
			} else if pi.kthread {
				err = unix.EINVAL
			}
		}
		return fail("seize", t.pid, err)
	}
	if len(t.threads) == 0 {
		t.release()
		return fail("seize", t.pid, unix.ESRCH)
	}
	return nil
}

// ownTracerWait is how long waitOwnTracer waits for another session of
// this process to let a thread go.
const ownTracerWait = 100 * time.Millisecond

// waitOwnTracer waits while thread tid is traced by another thread of this
// process (another session: two growths, or a growth and the search for
// orphans, can reach one short-lived child at once; helper-21 saw a deny
// fail with EBUSY so), up to ownTracerWait, and reports whether it was so
// traced and is free now. One traced by another process is not waited for.
func waitOwnTracer(tid int) bool {
	deadline := time.Now().Add(ownTracerWait)
	for {
		tracer := tracerOf(tid)
		if tracer == 0 {
			return true
		}
		if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tracer)); err != nil ||
			time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// attachNew seizes and interrupts the threads of the target that are not
// traced yet, and returns how many it added.
func (t *tracer) attachNew() (int, error) {
	var tids []int
	if len(t.threads) == 0 && procfs.ThreadCount(t.pid) == 1 {
		// A single thread, whose ID is the process ID: no listing. A
		// thread that the process makes from now on until the seize is
		// found by stopAll, whose count then differs.
		tids = []int{t.pid}
	} else {
		var err error
		if tids, err = listTasks(t.pid); err != nil {
			return 0, err
		}
	}
	added := 0
	for _, tid := range tids {
		if _, ok := t.threads[tid]; ok || t.zombies[tid] {
			continue
		}
		err := seize(tid, t.options())
		switch {
		case err == unix.ESRCH:
			continue // exited meanwhile
		case err == unix.EPERM:
			switch tracerOf(tid) {
			case t.self: // attached by the kernel at its creation
			case 0:
				pi, gone := readProc(tid)
				if gone != nil {
					continue
				}
				if pi.zombie && tid != t.pid {
					continue // exited, and reaped by the time it is listed again
				}
				if pi.zombie {
					// The leader exited before its threads: they are
					// held without it.
					if t.zombies == nil {
						t.zombies = map[int]bool{}
					}
					t.zombies[tid] = true
					continue
				}
				return added, unix.EPERM
			default:
				if !waitOwnTracer(tid) {
					return added, unix.EBUSY
				}
				if err := seize(tid, t.options()); err == unix.ESRCH {
					continue
				} else if err != nil {
					return added, unix.EBUSY
				}
			}
		case err != nil:
			return added, err
		}
		t.threads[tid] = &thread{tid: tid}
		added++
		if err := interrupt(tid); err != nil && err != unix.ESRCH {
			return added, err
		}
	}
	return added, nil
}

// handle records a wait event of tid. It returns the thread, or nil when
// the event ended it.
func (t *tracer) handle(tid int, ws unix.WaitStatus) *thread {
	if t.zombies[tid] && ws.Stopped() {
		// Not the zombie leader any more: a thread that execed took
		// its TID.
		delete(t.zombies, tid)
	}
	th := t.threads[tid]
	if th == nil {
		// A thread the kernel attached at its creation.
		th = &thread{tid: tid, attached: true}
		t.threads[tid] = th
	}
	if !ws.Stopped() {
		delete(t.threads, tid)
		return nil
	}
	kind, sig := decode(ws)
	th.kind = kind
	switch kind {
	case signalStop:
		th.deliver = sig
	case cloneStop:
		if msg, err := eventMsg(tid); err != nil {
			debugf("clone event of %d: %v", tid, err)
		} else {
			t.cloned = int(msg)
			if _, ok := t.threads[int(msg)]; !ok {
				t.threads[int(msg)] = &thread{tid: int(msg), attached: true}
			}
		}
	}
	return th
}

// stopAll waits until every thread of the target is in a ptrace stop and
// no thread is left unseized.
func (t *tracer) stopAll(deadline time.Time) error {
	if t.settled {
		return nil
	}
	var slowDone func()
	var slowly func() // marks the stop slow once it has waited slowStopAfter
	if h := stopHooks.Load(); h != nil && !t.locksFree {
		defer h.stopping(t.pid)()
		began := time.Now()
		defer func() {
			if slowDone != nil {
				slowDone()
			}
		}()
		slowly = func() {
			if slowDone == nil && time.Since(began) >= slowStopAfter {
				slowDone = h.slow()
			}
		}
	}
	for {
		for !t.allStopped() {
			until := deadline
			if look := time.Now().Add(lookGoneEvery); look.Before(until) {
				until = look
			}
			tid, ws, err := waitAny(until, nil)
			if err == unix.ETIMEDOUT && time.Now().Before(deadline) {
				if slowly != nil {
					slowly()
				}
				if t.dropGone() {
					// An exec: what the books say of the leader's TID
					// may be the old leader's. The caller starts over.
					return unix.ESRCH
				}
				continue
			}
			if err == unix.ESRCH {
				// This thread traces nothing now (wait said ECHILD): the
				// threads in the books exited, or went in an exec by a
				// thread that was not seized (in execve, it could not
				// be: its TID changed under the seize).
				clear(t.threads)
			} else if err != nil {
				return err
			} else {
				t.handle(tid, ws)
			}
		}
		if len(t.threads) == 0 {
			// Every thread in the books exited, or went in an exec:
			// look once more for threads of the process.
			if n, err := t.attachNew(); err != nil || n == 0 {
				return unix.ESRCH
			}
			continue
		}
		if t.drain() {
			continue
		}
		// The kernel's thread count equals the threads held stopped (and
		// the zombie leader, if any) exactly when no thread is left
		// unseized: no listing needed. A listing that adds nothing does
		// not prove it: a thread listed may have exited after starting
		// another that the listing missed.
		count := procfs.ThreadCount(t.pid)
		if count == t.own() {
			t.settled = true
			return nil
		}
		n, err := t.attachNew()
		if err != nil {
			return err
		}
		if n == 0 {
			if count < 0 {
				t.settled = true // no count to go by (no /proc/PID/task)
				return nil
			}
			if !time.Now().Before(deadline) {
				return unix.ETIMEDOUT
			}
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// stopHooks, set by SetStopHooks, are told of stops (stopAll).
var stopHooks atomic.Pointer[hooks]

// hooks are the functions of SetStopHooks.
type hooks struct {
	stopping func(pid int) func()
	slow     func() func()
}

// SetStopHooks has stopAll call stopping(pid) while it waits for the
// threads of process pid to stop, and slow() once it has waited
// slowStopAfter; each returns the function called when the wait ends.
// A thread in a write to a FUSE mount stops only once the write is
// answered, and one waiting behind it for the file's inode lock (a write
// of another process to the same file) only once that one is: the daemon
// that serves the mount uses them to answer the writes waiting for its
// locks, so that no stop waits for a write that waits for the stop
// (helper-75 F1, F2). The hooks must not block.
func SetStopHooks(stopping func(pid int) func(), slow func() func()) {
	stopHooks.Store(&hooks{stopping, slow})
}

// slowStopAfter is how long a stop is awaited before it counts as slow.
// A thread stops in microseconds unless it is blocked in the kernel; on
// the aarch64 VM under qemu stops of 20 ms came now and then, and every
// write waiting then failed (4 tests' self-placements, with 20 ms).
const slowStopAfter = 200 * time.Millisecond

// lookGoneEvery is how long stopAll waits for stops before it looks for
// threads that went without a wait status (dropGone).
const lookGoneEvery = 5 * time.Millisecond

// drain handles the wait statuses already there, so that the books say
// what the kernel does before a thread is picked: a stop reported under
// the leader's TID by a thread that execed, say. It reports whether there
// was one.
func (t *tracer) drain() bool {
	found := false
	for {
		tid, ws, err := waitAny(time.Time{}, nil) // a deadline already past
		if err != nil {
			return found
		}
		t.handle(tid, ws)
		found = true
	}
}

// dropGone takes out of the books the threads awaited in vain, which went
// without a wait status, and reports whether one was a thread other than
// the leader whose TID is gone: it called execve, and took the leader's
// TID (PTRACE_O_TRACEEXEC is not set, so no status says so). The leader
// it replaced was released without a status too, and what the books say
// of the leader's TID may be the old leader's: the caller starts over.
// A leader seized and exited before its other threads, a zombie whose
// exit the kernel reports to no one until they are gone, is counted among
// the zombies; traced still, it keeps the tracing thread from serving
// again (idleTracer), whose end lets the kernel detach it.
func (t *tracer) dropGone() bool {
	execed := false
	for tid, th := range t.threads {
		if th.kind != running || t.isOther(th) {
			continue
		}
		if tid != t.pid {
			if !procfs.ThreadOf(t.pid, tid) {
				debugf("thread %d of %d is gone (an exec)", tid, t.pid)
				delete(t.threads, tid)
				execed = true
			}
			continue
		}
		if pi, err := readProc(tid); err == nil && pi.zombie {
			debugf("the leader of %d exited before its threads", t.pid)
			delete(t.threads, tid)
			if t.zombies == nil {
				t.zombies = map[int]bool{}
			}
			t.zombies[tid] = true
		}
	}
	return execed
}

// own returns how many threads of the target this tracer accounts for:
// the seized ones, but for processes of their own that the kernel
// attached (a clone without CLONE_THREAD by a seized thread), and the
// zombies.
func (t *tracer) own() int {
	n := len(t.zombies)
	for _, th := range t.threads {
		if !t.isOther(th) {
			n++
		}
	}
	return n
}

// isOther reports whether th, a tracee of this tracer, is a process of its
// own rather than a thread of the target: one that the kernel attached at
// its creation and that is not in the target's thread group. The answer
// is looked up once.
func (t *tracer) isOther(th *thread) bool {
	if th.attached && !th.looked {
		th.other, th.looked = !procfs.ThreadOf(t.pid, th.tid), true
	}
	return th.other
}

func (t *tracer) allStopped() bool {
	for _, th := range t.threads {
		if th.kind == running {
			return false
		}
	}
	return true
}

// pick chooses the thread to inject into: one in an interrupt or group
// stop, the thread group leader first; failing that, one stopped for a
// signal (whose signal is then sent again afterwards).
//
// A process of its own that the kernel attached (a clone without
// CLONE_THREAD and with an exit signal other than SIGCHLD, made by a
// seized thread) is never picked: the filter would go into that process,
// and the target would stay unfiltered.
func (t *tracer) pick() *thread {
	if th := t.threads[t.pid]; th != nil && th.kind == eventStop {
		return th
	}
	var sigStopped *thread
	for _, th := range t.threads {
		if t.isOther(th) {
			continue
		}
		switch th.kind {
		case eventStop:
			return th
		case signalStop:
			sigStopped = th
		}
	}
	if sigStopped != nil {
		t.resend = append(t.resend, sigStopped.deliver)
		sigStopped.deliver = 0
	}
	return sigStopped
}

// unclone lets the target's threads that are stopped in a clone event
// finish the clone and asks each to stop again (PTRACE_INTERRUPT), at
// once or after a few instructions of its own. It reports whether there
// was one: the caller waits with stopAll again.
func (t *tracer) unclone() bool {
	found := false
	for _, th := range t.threads {
		if th.kind != cloneStop || t.isOther(th) {
			continue
		}
		if resume(th) == nil {
			interrupt(th.tid)
			found = true
		}
	}
	if found {
		t.settled = false
	}
	return found
}

// kill kills the process (SIGKILL through its pidfd) and waits, up to a
// second, for each thread's exit, which the kernel reports to the tracer:
// released before that, a traced thread stays a zombie of the tracer's,
// and the process can never be reaped by its parent. A process of its own
// that the kernel attached is not killed; release detaches it.
func (t *tracer) kill() {
	unix.PidfdSendSignal(t.pidfd, unix.SIGKILL, nil, 0)
	deadline := time.Now().Add(time.Second)
	for t.own() > len(t.zombies) {
		tid, ws, err := waitAny(deadline, nil)
		if err != nil {
			return
		}
		t.handle(tid, ws)
	}
}

// restartWhole has every stopped thread that a stop took out of a sleep,
// and whose own filters may kill or fail restart_syscall, make its call
// again when it runs on instead (callAgain): for a process refused
// because of its filters. Only those: the call starts over, and a process
// met again and again would never end a longer sleep
// (TestGrowReachesOrphans/pad's orphan did not).
func (t *tracer) restartWhole() {
	for tid, th := range t.threads {
		if th.kind == running {
			continue
		}
		if err := t.callAgain(th); err != nil {
			debugf("pid %d: thread %d left to restart_syscall: %v", t.pid, tid, err)
		}
	}
}

// release detaches every thread. Stopped threads are detached at once,
// with the signal they stopped for; threads still on their way to a stop
// get a short while to reach it. A stopped thread that cannot be detached
// (ESRCH) has SIGKILL pending: a thread let go before it ended the process
// (exit_group), or someone killed it. It exits, and its exit is reported
// to this tracer, which has to reap it, so it is waited for like a running
// one: forgotten, it would stay a zombie of a thread that never waits,
// and its process could never be reaped by its parent. Any thread left
// over is detached, or reaped, by the kernel when the session's OS thread
// ends; the caller sees it in t.threads and ends that thread.
func (t *tracer) release() {
	t.unpinNow()
	deadline := time.Now().Add(20 * time.Millisecond)
	for len(t.threads) > 0 {
		for tid, th := range t.threads {
			if th.kind != running {
				if err := detach(tid, th.deliver); err != nil {
					// Dying, or not stopped after all (a thread that
					// execed, under the TID of a stop the books had):
					// asked to stop, it reports a stop or its exit.
					debugf("release %d: thread %d not detached, waited for: %v", t.pid,
						tid, err)
					interrupt(tid)
					th.kind = running
					continue
				}
				delete(t.threads, tid)
			}
		}
		if len(t.threads) == 0 {
			break
		}
		tid, ws, err := waitAny(deadline, nil)
		if err == unix.ESRCH {
			// Wait said ECHILD: this thread traces nothing, and what
			// the books hold went without a status (an exec).
			clear(t.threads)
			break
		}
		if err != nil {
			debugf("release %d: %d threads still running: %v", t.pid, len(t.threads), err)
			break
		}
		t.handle(tid, ws)
	}
	if t.pidfd >= 0 {
		unix.Close(t.pidfd)
		t.pidfd = -1
	}
}

// anyStopped is the leader when it is stopped, or another stopped thread
// of the target, or nil.
func (t *tracer) anyStopped() *thread {
	if th := t.threads[t.pid]; th != nil && th.kind != running {
		return th
	}
	for _, o := range t.threads {
		if o.kind != running && !t.isOther(o) {
			return o
		}
	}
	return nil
}

// filters reads the seccomp filters of a stopped thread, oldest first.
func (t *tracer) filters() ([][]unix.SockFilter, error) {
	th := t.anyStopped()
	if th == nil {
		return nil, fail("filters", t.pid, unix.ESRCH)
	}
	var out [][]unix.SockFilter
	for i := 0; ; i++ {
		prog, err := readFilter(th.tid, i)
		if err == unix.ENOENT {
			return out, nil
		}
		if err != nil {
			return nil, fail("filters", t.pid, err)
		}
		out = append(out, prog)
	}
}
