package inject

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/procfs"
)

// DefaultTimeout bounds how long Install waits for the target's threads
// to stop, and then the injection, each on its own, when Session.Timeout
// is zero.
const DefaultTimeout = 2 * time.Second

// Session is a process held in ptrace stops, between [Seize] and
// [Session.Install] or [Session.Detach]. Exactly one of the two must be
// called, once: until then every thread of the process stays stopped (or
// on its way to a stop).
type Session struct {
	// Timeout bounds every wait of Install; zero means DefaultTimeout.
	// Set it before Install.
	Timeout time.Duration
	// Static loads the program without a listener (a layer whose
	// decisions are the program's own): Install then returns -1 and no
	// descriptor. Set it before Install.
	Static bool
	// After, when set, is a program loaded without a listener in the same
	// stop, right after the one Install is given: a process gets both
	// layers without running in between. Set it before Install.
	After []unix.SockFilter
	// subreaper is the tracer's answer to PR_GET_CHILD_SUBREAPER from the
	// last Install (Subreaper).
	subreaper int
	// KillOnFailure has a failed Install kill the process (SIGKILL) while
	// its threads are still stopped, before they are let go: for a
	// process already reported held, which must make no call unheld.
	KillOnFailure bool
	// LocksFree says that the caller holds no lock that a write to a FUSE
	// mount it serves may wait for while this session waits for stops:
	// the stop hooks (SetStopHooks) are then not called, and writes of the
	// process wait for their turn as any other. Set it before the wait.
	LocksFree bool
	// ExitKill has the kernel kill the process should the daemon die
	// before the session ends (PTRACE_O_EXITKILL): set on every thread
	// by the next Stop (or Check), and inherited by threads attached
	// after. For a family whose old listener is about to be closed for a
	// growth: with the daemon dead, its members would run on with that
	// listener closed and no copy in the keeper, free to load one of
	// their own and answer their own calls (helper-78, an escape). Set it
	// before the Stop; Install and Detach end it with the session.
	ExitKill bool
	// Keep, when set, is given the listener of an Install that succeeds,
	// on the session's thread before the process runs on. From the first
	// injected call (or from the Stop, with ExitKill) until then, a daemon
	// that dies kills the process; one that dies after leaves it held. It
	// must not call back into the session.
	Keep func(fd int)
	// SpareHeld keeps a KillOnFailure process alive where the kernel
	// refused the new listener because another of its chain is open
	// (EBUSY, op "seccomp", no filter of its own able to answer the load
	// itself): that other listener holds it.
	SpareHeld bool

	pid  int
	reqs chan func(*tracer)
	errc chan error           // Seize's answer
	then func(*tracer, error) // for HoldWith: run after the seize, instead of answering
	mu   sync.Mutex
	done bool
}

// Seize attaches to every thread of process pid with PTRACE_SEIZE and
// asks each to stop (PTRACE_INTERRUPT), without waiting for the stops: a
// thread blocked in a FUSE request that the caller itself serves stops
// only once the caller has answered it. pid may name any thread; the
// session then holds the whole process.
//
// Errors (as *Error, unwrapping to the errno):
//   - EINVAL: pid <= 0, a kernel thread, or the calling process itself;
//   - ESRCH: no such process, or a zombie;
//   - EBUSY: the process or one of its threads is already traced, by a
//     debugger, a sandbox, or another session (ptrace allows one tracer);
//   - EPERM: the kernel refused to trace it (privilege, LSM).
func Seize(pid int) (*Session, error) {
	s := &Session{pid: pid, reqs: make(chan func(*tracer)), errc: make(chan error),
		subreaper: -1}
	select {
	case inbox := <-idle:
		inbox <- s
	default:
		go tracing(s)
	}
	if err := <-s.errc; err != nil {
		return nil, err
	}
	return s, nil
}

// idle holds the inboxes of tracing threads waiting for a session:
// starting a thread for every session costs tens of microseconds.
var idle = make(chan chan *Session, 4)

// tracing is a tracing goroutine. ptrace works per thread: every request
// of a session must come from the thread that attached, so the goroutine
// keeps its OS thread locked and never unlocks it. It runs session s,
// then waits among the idle for another, as long as its sessions leave no
// tracee attached and there is room. Otherwise it returns; the Go runtime
// then ends the thread, and the kernel detaches any tracee still attached
// to it (one that never reached a stop before a timeout), which lets it
// run on.
//
// The runtime never ends the main thread (it parks a locked goroutine's
// main thread forever instead), so a goroutine that finds itself there
// moves to a fresh thread: while this goroutine holds the main thread
// locked and waits, the new goroutine must run on another one.
//
// A thread that has children of its own (it ran a fork for os/exec before
// it became a tracing thread) is left the same way, and ends: the tracer
// waits for any tracee of its thread (wait4(-1, __WALL|__WNOTHREAD)), which
// would also reap such a child and steal its exit from whoever waits for
// it (a test's victim, the daemon's keeper). The thread's children go to
// another thread of the process when it ends.
func tracing(s *Session) {
	runtime.LockOSThread()
	if main := unix.Gettid() == unix.Getpid(); main || !childless() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			tracing(s)
		}()
		<-done
		if main {
			runtime.UnlockOSThread()
		}
		return // still locked: the runtime ends this thread
	}
	// Precise short sleeps in waitAny.
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	inbox := make(chan *Session)
	for {
		if !s.run() {
			return
		}
		select {
		case idle <- inbox:
		default:
			return
		}
		s = <-inbox
	}
}

// run serves the session on the calling (tracing) thread until Install or
// Detach, and reports whether every tracee is detached.
func (s *Session) run() bool {
	t := newTracer(s.pid)
	err := t.seize()
	if s.then != nil {
		s.then(t, err)
		return idleTracer(t)
	}
	if err != nil {
		s.errc <- err
		return idleTracer(t)
	}
	s.pid = t.pid
	s.errc <- nil
	for f := range s.reqs {
		f(t)
	}
	return idleTracer(t)
}

// idleTracer reports whether the calling thread, t's tracer, traces
// nothing now and may serve another session or go back to the runtime.
// t's threads say so, and the kernel is asked too (a wait that finds
// neither tracee nor child), so that a tracee that the bookkeeping missed
// is never left to a thread that does not wait for it: such a thread
// ends instead, and the kernel detaches or reaps what it traced.
func idleTracer(t *tracer) bool {
	if len(t.threads) > 0 {
		return false
	}
	if !childless() {
		debugf("tracer %d of %d: a tracee is left that the session did not know of; "+
			"the thread ends", unix.Gettid(), t.pid)
		return false
	}
	return true
}

// Pid returns the process ID of the held process (the thread group ID).
func (s *Session) Pid() int { return s.pid }

// finish marks the session used and reports whether it was still open.
func (s *Session) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.done = true
	return true
}

// Install waits until every thread of the process is stopped, loads prog
// as a seccomp filter of all its threads (TSYNC) with a new listener, and
// detaches. It returns the listener, a descriptor of the calling process
// that the caller owns (close-on-exec set). The process's own copy is
// closed before it runs again.
//
// prog is a classic BPF program for seccomp, 1 to 4096 instructions; it
// must allow restart_syscall and rt_sigreturn, or interrupted sleeps and
// signal returns of the held process fail.
//
// Errors, besides those of Seize:
//   - ETIMEDOUT (Op "stop"): a thread did not stop within the timeout;
//   - EINVAL: bad program length, a 32-bit (compat) task, or the session
//     was already finished;
//   - EBUSY (Op "seccomp"): the process's filter chain already has a
//     listener (a held parent it was forked from, or another supervisor);
//   - ESRCH (Op "seccomp"): a thread has filters of its own that differ
//     from the others', so TSYNC cannot apply;
//   - ESRCH (other Op): the process exited during the session.
//
// A process that forks while it is being seized may leave a child that
// was forked before the filter went in: the child carries no filter. The
// caller closes that race by reading the group's cgroup.procs again after
// Install and holding every PID it did not hold before. A child forked
// after Install inherits the filter, and its notifications arrive on the
// same listener (Holding it again gives EBUSY).
func (s *Session) Install(prog []unix.SockFilter) (int, error) {
	return s.InstallWith(prog, nil)
}

// InstallWith is Install with a hook that runs once every thread is
// stopped, the program is in the tracee's memory, and just before the
// seccomp call. A caller adding a layer to a process it already holds
// closes the old listener there (the kernel accepts one listener per
// filter chain): no thread of the process runs between the close and the
// new filter, so none of its calls sees the gap. The hook runs on the
// session's thread and must not call back into the session.
func (s *Session) InstallWith(prog []unix.SockFilter, before func()) (int, error) {
	if !s.finish() {
		return -1, fail("session", s.pid, unix.EINVAL)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	type result struct {
		fd  int
		err error
	}
	rc := make(chan result, 1)
	s.reqs <- func(t *tracer) {
		t.killOnFail = s.KillOnFailure
		t.spareHeld = s.SpareHeld
		t.locksFree = s.LocksFree
		t.keep = s.Keep
		fd, err := t.install(prog, before, timeout, s.Static, s.After)
		s.subreaper = t.subreaper
		rc <- result{fd, err}
	}
	close(s.reqs)
	r := <-rc
	return r.fd, r.err
}

// Subreaper tells whether the process was a child subreaper
// (prctl(PR_GET_CHILD_SUBREAPER)) when the last Install loaded its layer:
// 1 or 0, or -1 where that is not known (no Install, a static one, or a
// call that failed).
func (s *Session) Subreaper() int { return s.subreaper }

// Stop waits until every thread of the process is in a ptrace stop (see
// Install for the errors), and leaves them stopped until Install or
// Detach. A process blocked in a request that the caller serves stops only
// once the caller has answered.
func (s *Session) Stop() error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	exitKill := s.ExitKill
	return s.do(func(t *tracer) error {
		if err := t.stopAll(time.Now().Add(timeout)); err != nil {
			return fail("stop", t.pid, err)
		}
		if exitKill && !t.exitKill {
			return t.setExitKill()
		}
		return nil
	})
}

// Check refuses, once every thread is stopped (it stops them first, as
// Stop does), a process that a hold would leave unheld or harm: one that
// shares its memory with another (EBUSY, op "memory") or could not be
// checked for one (EAGAIN), and one that a seccomp filter of its own may
// kill or trap for a call the hold makes (EPERM, op "filter kills").
// Install then does not check again: with every thread stopped and no
// sharer, nothing can come to share the memory, and no filter can be
// added. It is for a caller that must know before it changes anything
// else (a layer that grows closes the old listener before the new one is
// loaded).
func (s *Session) Check() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.do(func(t *tracer) error {
		if err := t.checkMemory(); err != nil {
			return err
		}
		th := t.anyStopped()
		if th == nil {
			return fail("filters", t.pid, unix.ESRCH)
		}
		return t.checkFilters(th.tid)
	})
}

// Filters returns the seccomp filters of the process, oldest first, as
// the kernel keeps them (PTRACE_SECCOMP_GET_FILTER, which needs
// CAP_SYS_ADMIN and a kernel built with CONFIG_CHECKPOINT_RESTORE). It
// stops every thread first, as Stop does. The filters are those of the
// thread group leader, or of another thread when the leader is gone;
// threads synchronized with TSYNC share them.
func (s *Session) Filters() ([][]unix.SockFilter, error) {
	var out [][]unix.SockFilter
	err := s.Stop()
	if err == nil {
		err = s.do(func(t *tracer) error {
			var e error
			out, e = t.filters()
			return e
		})
	}
	return out, err
}

// do runs f on the session's thread and returns its error; EINVAL once the
// session is finished.
func (s *Session) do(f func(t *tracer) error) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done {
		return fail("session", s.pid, unix.EINVAL)
	}
	errc := make(chan error, 1)
	locksFree := s.LocksFree
	s.reqs <- func(t *tracer) {
		t.locksFree = locksFree
		errc <- f(t)
	}
	return <-errc
}

// Detach lets the process run on without installing anything.
func (s *Session) Detach() error { return s.end(false) }

// KillDetach ends the session as Detach does, but kills the process
// (SIGKILL, through its pidfd) first, while its threads are still
// stopped, and waits for their exits: none runs another instruction of
// its own. It is for a process already reported held that could not be.
func (s *Session) KillDetach() error { return s.end(true) }

// end ends the session on its tracing thread: kills the process first if
// kill is set, then detaches what is left.
func (s *Session) end(kill bool) error {
	if !s.finish() {
		return fail("session", s.pid, unix.EINVAL)
	}
	done := make(chan struct{})
	s.reqs <- func(t *tracer) {
		if kill {
			t.kill()
		}
		t.release()
		close(done)
	}
	close(s.reqs)
	<-done
	return nil
}

// Hold is Seize followed by Install. It must not be used for a process
// that may be blocked in a request the caller itself has to answer (a
// shell writing its own PID to a file the caller serves): that process
// cannot stop before the answer, and Hold fails with ETIMEDOUT.
func Hold(pid int, prog []unix.SockFilter) (int, error) {
	return HoldWith(pid, prog, nil)
}

// HoldWith is Hold with a program loaded without a listener right after
// prog, in the same stop, as Session.After has it. The hold runs in a new
// goroutine locked to the caller's own OS thread where it can (holdHere),
// which spares the wakeups of a hand-off to a tracing thread and back;
// elsewhere Seize and Install go to a tracing thread as one request.
func HoldWith(pid int, prog, after []unix.SockFilter) (int, error) {
	fd, _, err := HoldReport(pid, prog, after)
	return fd, err
}

// HoldReport is HoldWith that also tells whether the process was a child
// subreaper when its layer went in, as Session.Subreaper does.
func HoldReport(pid int, prog, after []unix.SockFilter) (fd, subreaper int, err error) {
	return HoldKept(pid, prog, after, nil)
}

// HoldKept is HoldReport with keep, which is given the listener before the
// process runs on, as Session.Keep is; from the first injected call until
// then, a daemon that dies kills the process (PTRACE_O_EXITKILL), where it
// would otherwise leave it with its only listener closed, free to load one
// of its own. keep must not block for long: the process stays stopped.
func HoldKept(pid int, prog, after []unix.SockFilter,
	keep func(fd int)) (fd, subreaper int, err error) {
	rc := make(chan holdResult, 1)
	go holdHere(pid, prog, after, keep, rc)
	r := <-rc
	return r.fd, r.subreaper, r.err
}

type holdResult struct {
	fd        int
	err       error
	subreaper int
}

// holdHere is HoldWith's goroutine. Started by a goroutine that then
// waits for it, it almost always runs on that goroutine's OS thread,
// which it locks and makes a tracer for the hold. A thread that cannot
// wait for tracees of its own alone (it has children, from an os/exec
// fork: see tracing) or the main thread sends the hold to a tracing
// thread instead. A hold that leaves a tracee attached (a thread that
// never stopped) returns with the thread still locked: the runtime ends
// the thread, and the kernel detaches the tracee, which runs on.
func holdHere(pid int, prog, after []unix.SockFilter, keep func(int),
	rc chan<- holdResult) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() || !childless() {
		runtime.UnlockOSThread()
		rc <- holdOnTracingThread(pid, prog, after, keep)
		return
	}
	slack, serr := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) // precise short sleeps in waitAny
	t := newTracer(pid)
	t.keep = keep
	r := holdResult{-1, t.seize(), -1}
	if r.err == nil {
		r.fd, r.err = t.install(prog, nil, DefaultTimeout, false, after)
	}
	for try := 0; try < 10 && retryable(r.err) && idleTracer(t) && alive(pid); try++ {
		if opOf(r.err) == "memory" {
			time.Sleep(time.Millisecond) // for a vfork child to exec
		}
		t = newTracer(pid)
		t.keep = keep
		if r = (holdResult{-1, t.seize(), -1}); r.err == nil {
			r.fd, r.err = t.install(prog, nil, DefaultTimeout, false, after)
		}
	}
	r.subreaper = t.subreaper
	attached := !idleTracer(t)
	debugf("hold %d on thread %d: %v", pid, unix.Gettid(), r.err)
	rc <- r
	if attached {
		return
	}
	if serr == nil {
		unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0)
	}
	runtime.UnlockOSThread()
}

// retryable reports whether a hold failed before anything was injected
// in a way an exec from a thread other than the leader explains: that
// exec changes TIDs under the tracer (the thread that execed takes the
// leader's, and the others die), so that the thread stopped or picked is
// gone (ESRCH at seize, stop or regs), or the leader's TID was refused as
// the zombie it was a moment before (EPERM at seize); or a vfork child
// shared the process's memory (EBUSY, op "memory"), until its exec. A
// process still alive is then held afresh, up to 10 times (1 ms apart for
// the memory). A check for a sharer that the machine's task creation
// kept from ending (EAGAIN) is not: checkMemory already made it again for
// a while, with the threads stopped.
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Err {
	case unix.ESRCH:
		return e.Op == "seize" || e.Op == "stop" || e.Op == "regs"
	case unix.EPERM:
		return e.Op == "seize"
	case unix.EBUSY:
		// A vfork child shares its parent's memory until it execs,
		// which takes a moment.
		return e.Op == "memory"
	}
	return false
}

// opOf returns the step at which an injection failed, "" for another
// error.
func opOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Op
	}
	return ""
}

// alive reports whether process pid exists and has a thread that is not
// a zombie: in an exec from another thread the leader is a zombie for a
// moment, before the thread that execed takes its TID.
func alive(pid int) bool {
	pi, err := readProc(pid)
	return err == nil && (!pi.zombie || procfs.ThreadCount(pid) > 1)
}

// holdOnTracingThread is HoldWith on a tracing thread.
func holdOnTracingThread(pid int, prog, after []unix.SockFilter, keep func(int)) holdResult {
	s := &Session{pid: pid, reqs: make(chan func(*tracer)), errc: make(chan error),
		After: after}
	rc := make(chan holdResult, 1)
	s.then = func(t *tracer, err error) {
		if err != nil {
			rc <- holdResult{-1, err, -1}
			return
		}
		s.finish()
		t.keep = keep
		fd, err := t.install(prog, nil, DefaultTimeout, false, after)
		rc <- holdResult{fd, err, t.subreaper}
	}
	select {
	case inbox := <-idle:
		inbox <- s
	default:
		go tracing(s)
	}
	return <-rc
}
