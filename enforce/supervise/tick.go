//go:build linux && (amd64 || arm64)

package supervise

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A hot stay waits for its listener's next notification blocked in
// SECCOMP_IOCTL_NOTIF_RECV, which is 0.45 µs a round trip cheaper than
// waiting in ppoll first and then receiving (p50 2.70 against 3.16 µs
// end to end, 2-vCPU VM, Linux 6.18). A blocked receive returns only for
// a notification, when every process using the filter has exited (Linux
// 6.6 and later), or for a signal: so a stay gets a tick, a POSIX timer
// aimed at its own thread (SIGEV_THREAD_ID) whose signal interrupts the
// receive, at first every hotWindow, then less and less often while calls
// keep coming (each tick costs the stay's round trip its place on the
// CPU: p99 went from 13 to 30 µs with a tick every hotWindow). The
// signal's handler does nothing and is set without SA_RESTART, since Go's
// own handlers would have the kernel restart the receive. No Go code
// handles the signal, which is one of the real-time signals that neither
// the Go runtime nor cgsyscall uses otherwise.

// tickSignal is the stay's tick: SIGRTMIN+10 in the kernel's numbering
// (glibc keeps 32 and 33 for itself, which nothing here links anyway).
const tickSignal = 42

const haveTick = true

// Flags of struct sigaction, the same on x86_64 and aarch64.
const (
	saOnstack  = 0x08000000 // SA_ONSTACK: run on the thread's signal stack (Go gives every thread one)
	saRestorer = 0x04000000 // SA_RESTORER
)

func tickHandler()
func tickRestorer()
func tickAddrs() (handler, restorer uintptr)

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on
// x86_64 and aarch64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

var tickOnce struct {
	sync.Once
	err error
}

// installTick sets the tick signal's handler, once per process.
func installTick() error {
	tickOnce.Do(func() {
		h, r := tickAddrs()
		sa := kernelSigaction{handler: h, restorer: r,
			flags: saOnstack | saRestorer}
		_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, tickSignal,
			uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
		if e != 0 {
			tickOnce.err = e
		}
	})
	return tickOnce.err
}

// sigevent is struct sigevent for SIGEV_THREAD_ID.
type sigevent struct {
	value  uint64
	signo  int32
	notify int32
	tid    int32
	_      [11]int32
}

const sigevThreadID = 4 // SIGEV_THREAD_ID

// tick is one stay's timer.
type tick struct{ id int32 }

// startTick unblocks the tick signal on the calling thread, which must be
// locked to its goroutine, and starts a timer that sends it there every
// period nanoseconds.
func startTick(period int64) (*tick, error) {
	if err := installTick(); err != nil {
		return nil, err
	}
	var set unix.Sigset_t
	set.Val[0] = 1 << (tickSignal - 1)
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil); err != nil {
		return nil, err
	}
	ev := sigevent{signo: tickSignal, notify: sigevThreadID, tid: int32(unix.Gettid())}
	t := new(tick)
	_, _, e := unix.RawSyscall(unix.SYS_TIMER_CREATE, unix.CLOCK_MONOTONIC,
		uintptr(unsafe.Pointer(&ev)), uintptr(unsafe.Pointer(&t.id)))
	if e != 0 {
		return nil, e
	}
	if err := t.every(period); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// every makes the timer tick every period nanoseconds from now on.
func (t *tick) every(period int64) error {
	ts := unix.NsecToTimespec(period)
	spec := [2]unix.Timespec{ts, ts} // interval, first expiry
	_, _, e := unix.RawSyscall6(unix.SYS_TIMER_SETTIME, uintptr(t.id), 0,
		uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// stop deletes the timer. A tick it already sent is delivered to this
// thread on the way out of this very syscall, so none reaches the thread
// after the stay, once other goroutines may run on it.
func (t *tick) stop() {
	unix.RawSyscall(unix.SYS_TIMER_DELETE, uintptr(t.id), 0, 0)
}
