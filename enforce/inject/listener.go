package inject

import (
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// helperFlags make the helper thread: a thread of the tracee (same memory,
// signal handlers and thread group) with a private copy of the file table,
// since CLONE_FILES is left out. No stack is given (the child keeps the
// parent's stack pointer) and no TID is written anywhere: the helper never
// runs an instruction of the program, only the calls injected into it.
const helperFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

// pidfdThread is PIDFD_THREAD of <linux/pidfd.h> (O_EXCL): a pidfd of one
// thread, Linux 6.9.
const pidfdThread = unix.O_EXCL

// spawnHelper makes the injecting thread clone a helper thread whose file
// table is its own, and returns the helper stopped at its first stop. The
// seccomp call made in the helper puts the new listener into that private
// table, where no other process can reach it, even one that shares the
// tracee's table (clone with CLONE_FILES). It returns nil and no error
// when the kernel lacks thread pidfds or refuses the clone (pids.max,
// RLIMIT_NPROC, a filter that denies clone): the caller then falls back
// to checking that no other process shares the table. An error is for
// the injection itself (the thread died, or did not stop in time).
func (in *injection) spawnHelper() (*injection, error) {
	if !kernel.PidfdThread.Have() {
		return nil, nil
	}
	pid := in.t.pid
	in.t.cloned = 0
	made := helperClone()
	ret, err := in.call(nums.clone, helperFlags)
	made(in.t.cloned != 0)
	if err != nil {
		return nil, fail("clone", pid, err)
	}
	tid := in.t.cloned
	if errnoOf(ret) != 0 || tid == 0 {
		return nil, nil
	}
	for {
		th := in.t.threads[tid]
		if th == nil {
			return nil, fail("clone", pid, unix.ESRCH)
		}
		if th.kind != running {
			break
		}
		wtid, ws, err := waitAny(in.deadline, nil)
		if err != nil {
			return nil, fail("clone", pid, err)
		}
		in.t.handle(wtid, ws)
	}
	h := &injection{t: in.t, th: in.t.threads[tid], pc: in.pc, deadline: in.deadline,
		listener: -1}
	if h.base, err = getState(tid); err != nil {
		h.end()
		return nil, fail("clone", pid, err)
	}
	return h, nil
}

// takeListener copies the listener tfd out of the helper's private table
// into this process. The helper's copy goes when the helper ends.
func (h *injection) takeFromHelper(tfd int) (int, error) {
	pid := h.t.pid
	pfd, err := unix.PidfdOpen(h.th.tid, pidfdThread)
	if err != nil {
		return -1, fail("getfd", pid, err)
	}
	defer unix.Close(pfd)
	fd, err := unix.PidfdGetfd(pfd, tfd, 0)
	if err != nil {
		return -1, fail("getfd", pid, err)
	}
	return fd, nil
}

// end makes the helper thread exit (exit(2) ends one thread) and waits
// until it is gone; its file table, with its copy of the listener, goes
// with it.
func (h *injection) end() bool {
	h.leave()
	return h.awaitGone()
}

// leave makes the helper exit. A helper at its trap in the stub runs on
// into the exit that follows there, in memory that nobody can write
// (stubRun), with no stop on the way; the stub stays until it is gone.
// Another makes the exit from the injection's system call instruction, as
// call makes its calls: checked at its entry stop, since a process that
// can write the memory there could have put its own code in the
// instruction's place, and the helper, with the new listener in its
// table, would have run it (adversary helper-81: it sent the listener on
// through a socket). Should the helper not be let run, it is detached.
func (h *injection) leave() {
	if h.exitTail {
		// Its registers as at the trap: a call made from the helper
		// since (loadInHelper's) left them elsewhere.
		err := setState(h.th.tid, &h.base)
		if err == nil {
			err = resume(h.th)
		}
		if err != nil {
			h.drop()
		}
		return
	}
	// The call ends with the thread (ESRCH): there is no exit stop.
	if _, err := h.call(nums.exit); err != nil && h.t.threads[h.th.tid] == h.th &&
		h.th.kind != running {
		h.drop()
	}
}

// awaitGone waits until the helper, let go by leave, has exited, and
// reports whether it has. A signal it stops for on the way out is
// suppressed now and sent again to the injecting thread, as the
// injection's own are. One that has not exited by the deadline (its exit
// failed: a filter of the process's own answered it; adversary helper-22)
// still has the listener in its file table: the caller fails the hold and
// kills the process (tracer.helperLeft).
func (h *injection) awaitGone() bool {
	tid := h.th.tid
	for h.t.threads[tid] == h.th {
		if h.th.kind != running {
			if h.th.kind == signalStop {
				h.t.resend = append(h.t.resend, h.th.deliver)
			}
			if err := resume(h.th); err != nil {
				h.drop()
				return threadGone(tid)
			}
		}
		wtid, ws, err := waitAny(h.deadline, nil)
		if err != nil {
			h.drop()
			return threadGone(tid)
		}
		h.t.handle(wtid, ws)
	}
	return true
}

// threadGone reports whether thread tid has exited.
func threadGone(tid int) bool {
	pi, err := readProc(tid)
	return err != nil || pi.zombie
}

// drop detaches the helper where it is, for the kernel to run on. One
// that cannot be detached (running, or with SIGKILL pending) stays in the
// tracer's threads, marked running, for release to wait for or to leave
// to the kernel.
func (h *injection) drop() {
	if err := detach(h.th.tid, 0); err != nil {
		debugf("helper %d of %d not detached: %v", h.th.tid, h.t.pid, err)
		h.th.kind = running
		return
	}
	delete(h.t.threads, h.th.tid)
}
