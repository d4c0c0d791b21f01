package inject

import (
	"errors"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/unotif"
)

// call runs system call nr with args in the injecting thread and returns
// its raw result (a negated errno on failure). The error is for the
// injection itself: the thread died (ESRCH) or did not stop in time.
func (in *injection) call(nr int, args ...uint64) (int64, error) {
	var a [6]uint64
	copy(a[:], args)
	tid := in.th.tid
	if err := setCall(tid, &in.base, in.pc, nr, a); err != nil {
		return 0, err
	}
	first := !in.called
	in.late = false
	if err := in.toStop(); err != nil { // syscall entry
		in.abandon(nr, a, first, false)
		return 0, err
	}
	in.called = true
	if err := checkEntry(tid, &in.base, nr, a, first); err != nil {
		return 0, in.foreign(err)
	}
	if err := in.toStop(); err != nil { // syscall exit
		in.abandon(nr, a, first, true)
		return 0, err
	}
	return getResult(tid)
}

// errForeignCall: an injected call was found not to be the one set up.
var errForeignCall = errors.New("not the call set up")

// foreign passes err on; where it is errForeignCall, the instruction that
// the injection makes its calls with was rewritten under it, by a process
// that can write the memory: the process is killed while stopped (its
// state is not known, a listener may be in one of its tables), and the
// hold fails with EPERM.
func (in *injection) foreign(err error) error {
	if err != errForeignCall {
		return err
	}
	debugf("hold %d: thread %d made another call than the one set up", in.t.pid, in.th.tid)
	in.t.kill()
	return fail("insn", in.t.pid, unix.EPERM)
}

// lateGrace is how long an injection that ran out of time waits more for
// its threads to stop, and for its cleanup.
const lateGrace = 200 * time.Millisecond

// settle waits until th, a thread running injected code, is stopped or gone,
// or deadline passes. A stop at a trap (SIGTRAP) is the stub's and is not
// delivered; another signal it stops for is kept for later.
func (in *injection) settle(th *thread, deadline time.Time) {
	for in.t.threads[th.tid] == th && th.kind == running {
		wtid, ws, err := waitAny(deadline, nil)
		if err != nil {
			return
		}
		in.t.handle(wtid, ws)
	}
	if in.t.threads[th.tid] == th && th.kind == signalStop {
		if th.deliver != int(unix.SIGTRAP) {
			in.t.resend = append(in.t.resend, th.deliver)
		}
		th.deliver = 0
	}
}

// abandon ends an injected call nr whose wait for a syscall stop failed
// (a timeout): the thread gets a while more to stop, so that the caller
// can put its registers back; let go on its way, it would return from the
// injected call into code that does not expect it. One that stopped at the
// call's entry goes on to the call's exit stop (with first and the entry
// check as call has them): registers put back at an entry stop would have
// the kernel make the call they name, and the call is let run rather than
// cancelled, since the injection counts on its effect (the close of the
// listener in the tracee above all). entered tells which stop the wait
// was for.
func (in *injection) abandon(nr int, a [6]uint64, first, entered bool) {
	grace := time.Now().Add(lateGrace)
	in.settle(in.th, grace)
	if in.t.threads[in.th.tid] != in.th || in.th.kind != syscallStop {
		return
	}
	if !entered {
		in.called = true
		if err := checkEntry(in.th.tid, &in.base, nr, a, first); err != nil {
			in.foreign(err)
			return
		}
		in.deadline = grace
		if in.toStop() != nil || in.th.kind != syscallStop {
			return
		}
	}
	in.late = true
}

// toStop resumes the injecting thread up to its next syscall stop. Signals
// that arrive on the way are kept for later and suppressed now: handling
// one would run the program's handler on injected registers.
func (in *injection) toStop() error {
	tid := in.th.tid
	if err := toSyscall(tid); err != nil {
		return err
	}
	in.th.kind = running
	var serve func() bool
	if in.listener >= 0 {
		serve = in.serve
	}
	for {
		wtid, ws, err := waitAny(in.deadline, serve)
		if err != nil {
			return err
		}
		th := in.t.handle(wtid, ws)
		if wtid != tid {
			continue
		}
		if th == nil {
			return unix.ESRCH
		}
		switch th.kind {
		case syscallStop:
			return nil
		case signalStop:
			in.t.resend = append(in.t.resend, th.deliver)
			th.deliver = 0
		}
		if err := toSyscall(tid); err != nil {
			return err
		}
		th.kind = running
	}
}

// serve answers a pending notification on the new listener, if there is
// one: the injecting thread's own call is let through, anything else
// (there should be nothing else: every thread is stopped) fails with
// ENOSYS. It reports whether it answered anything.
func (in *injection) serve() bool {
	pfd := []unix.PollFd{{Fd: int32(in.listener), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 0); err != nil || n == 0 ||
		pfd[0].Revents&unix.POLLIN == 0 {
		return false
	}
	var n unotif.Notif
	if unotif.Recv(in.listener, &n) != nil {
		return false
	}
	if int(n.Pid) == in.th.tid && n.IP == in.pc+uint64(len(syscallInsn.code)) {
		unotif.Continue(in.listener, n.ID)
	} else {
		unotif.Fail(in.listener, n.ID)
	}
	return true
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}
