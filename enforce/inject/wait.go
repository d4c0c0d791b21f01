package inject

import (
	"time"

	"golang.org/x/sys/unix"
)

// waitFlags: any tracee of the calling thread only. __WNOTHREAD matters: a
// plain wait(-1) would also reap children that other goroutines of the
// daemon started (os/exec) and steal their exit status.
const waitFlags = unix.WALL | unix.WNOTHREAD | unix.WNOHANG

// waitAny returns the next wait event of a tracee of this thread. It polls
// rather than blocks, so that it can give up at deadline: a thread stuck in
// an uninterruptible sleep never reaches a ptrace stop, and a blocking wait
// could not be interrupted (the Go runtime restarts interrupted calls).
// While nothing is ready it calls serve, when not nil, which reports
// whether it did any work. It spins with sched_yield for spinFor first,
// since a stop usually follows within microseconds and yielding lets a
// tracee on this CPU run, then sleeps with growing pauses (the session
// sets the thread's timer slack to 1 ns, so short sleeps are short).
func waitAny(deadline time.Time, serve func() bool) (int, unix.WaitStatus, error) {
	var ws unix.WaitStatus
	start := time.Now()
	pause := 5 * time.Microsecond
	for {
		tid, err := unix.Wait4(-1, &ws, waitFlags, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD:
			return 0, 0, unix.ESRCH
		case err != nil:
			return 0, 0, err
		case tid > 0:
			return tid, ws, nil
		}
		if serve != nil && serve() {
			continue
		}
		now := time.Now()
		if !now.Before(deadline) {
			return 0, 0, unix.ETIMEDOUT
		}
		if now.Sub(start) < spinFor {
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			continue
		}
		ts := unix.NsecToTimespec(pause.Nanoseconds())
		unix.Nanosleep(&ts, nil)
		if pause < maxPause {
			pause *= 2
		}
	}
}

// spinFor and maxPause shape waitAny's polling: a stop that comes late
// costs at most about maxPause more than it must.
const (
	spinFor  = 50 * time.Microsecond
	maxPause = 320 * time.Microsecond
)

// stopKind is how a thread is stopped.
type stopKind int

const (
	running     stopKind = iota
	eventStop            // PTRACE_EVENT_STOP: interrupt, group stop, new thread
	cloneStop            // PTRACE_EVENT_CLONE in the creating thread
	syscallStop          // syscall entry or exit (SIGTRAP|0x80)
	signalStop           // signal-delivery-stop
	otherStop            // any other ptrace event
)

// decode classifies a stopped wait status.
func decode(ws unix.WaitStatus) (stopKind, int) {
	sig := int(ws.StopSignal())
	switch event := (int(ws) >> 16) & 0xff; {
	case event == unix.PTRACE_EVENT_STOP:
		return eventStop, sig
	case event == unix.PTRACE_EVENT_CLONE:
		return cloneStop, sig
	case event != 0:
		return otherStop, sig
	case sig == int(unix.SIGTRAP)|0x80:
		return syscallStop, sig
	}
	return signalStop, sig
}
