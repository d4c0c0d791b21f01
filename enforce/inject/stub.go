package inject

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// stubRun is run's quicker way, for a layer with a listener. Each ptrace
// stop costs two wakeups, 15-20 µs on a 2-vCPU VM, and run makes about a
// dozen. stubRun maps shared memory that is writable and executable (a
// single step over the syscall instruction, one stop), writes a stub there
// with the program, makes it read-only (another step), reads it back, and
// lets the injecting thread run the stub: it clones the
// helper thread, which loads the filter and stops at a trap, while the
// parent stops at a trap of its own. The listener is taken from the
// helper's private file table, the helper exits, and the page is unmapped
// with another single step. The safety properties are run's: the listener
// only ever is in the helper's table, TSYNC covers every thread, and the
// registers of the injecting thread are restored by the caller.
//
// The stub is read-only and shared before it runs because another process
// of the user could rewrite it otherwise (process_vm_writev, or a
// /proc/PID/mem opened before the hold, which keeps its right to write
// whatever the dumpable flag says later): skip the clearing of that flag
// and copy the listener (helper-79, 2 of 13 tries), or make the helper
// hand it on. The kernel lets neither write a shared mapping that is not
// writable, not even as a debugger sets a breakpoint (FOLL_FORCE copies
// only private mappings), and no thread of the process runs to make it
// writable again. What was rewritten before the protection is caught by
// the read back. The helper's dumpable slot is in a page of its own after
// the code's, which stays writable.
//
// It reports tried false, having changed nothing, where it does not apply:
// no stub for this architecture, no thread pidfds, or a page that is
// writable and executable refused (a seccomp filter or PR_SET_MDWE). A
// clone that the tracee is refused falls back to a load from the injecting
// thread, as run does.
func (in *injection) stubRun(prog, after []unix.SockFilter,
	before func()) (fd int, tried bool, err error) {
	if in.static || !kernel.PidfdThread.Have() {
		return -1, false, nil
	}
	probe, ok := archStub(0, 0, 0)
	if !ok {
		return -1, false, nil
	}
	pid := in.t.pid
	lay := stubLayout{code: (len(probe.code) + 7) &^ 7}
	lay.after = lay.code + fprogSize + 8*len(prog)
	lay.end = lay.after
	if len(after) > 0 {
		lay.end += fprogSize + 8*len(after)
	}
	page := uint64(os.Getpagesize())
	lay.dump = int((uint64(lay.end) + page - 1) &^ (page - 1))
	size := uint64(lay.dump) + page
	if err := in.undump(); err != nil {
		return -1, true, err
	}
	ret, err := in.stubMap(size)
	if err != nil {
		return -1, true, fail("mmap", pid, err)
	}
	if errnoOf(ret) != 0 {
		return -1, false, nil
	}
	addr := uint64(ret)
	var h *injection
	var written []byte
	fd = -1
	if err = in.askSubreaper(addr, true); err == nil {
		fd, h, written, err = in.stubLoad(addr, lay, prog, after, before)
	}
	// Looked at before the page goes; the kill waits until it is gone.
	rewritten := in.rewritten(err, addr, written, lay.dump)
	if written != nil {
		// What the helper found of the dumpable flag, which it cleared if
		// 1 (the slot keeps its all-ones when the helper never got there).
		var was [8]byte
		if readMem(in.th.tid, addr+uint64(lay.dump), was[:]) == nil &&
			binary.NativeEndian.Uint64(was[:]) == 1 {
			in.undumped = true
		}
	}
	if err != nil {
		in.graceIfLate()
	}
	if h != nil {
		// The helper exits from the stub, which must stay until it is
		// gone.
		h.leave()
		if !h.awaitGone() {
			in.t.helperLeft = true
		}
	}
	r, uerr := in.step(nums.munmap, addr, size)
	if err == errUnprotected && uerr == nil && errnoOf(r) == 0 {
		return -1, false, nil // run's way, as for a page refused
	}
	if uerr == nil && errnoOf(r) != 0 {
		uerr = errnoOf(r)
	}
	if uerr != nil && err == nil {
		err = fail("munmap", pid, uerr)
	}
	if rewritten {
		err = in.t.refusedRewrite(err)
	}
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return fd, true, err
}

// stubMap maps the stub's memory, size bytes, shared, writable and
// executable, at a random address (MAP_FIXED_NOREPLACE, tried again
// elsewhere where something is mapped there already), and returns the
// mmap's result. The stub's memory is writable until the mprotect step,
// and process_vm_writev pins the page it writes, lets the memory go, and
// only then copies, so a call that pinned the page before the mprotect
// writes it after the read back (adversary helper-82: its copy waited for
// a source page read from disk, and the stub's tail sent the helper's
// listener on, 2 of 4 tries). Such a call has to be made before the page
// is there, at an address it cannot know: the process is not dumpable by
// then (undump, before the mapping), so no call of a process of its user
// starts after, and the address is not where the kernel would have put it.
func (in *injection) stubMap(size uint64) (int64, error) {
	const prot = unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC
	page := uint64(os.Getpagesize())
	for try := 0; try < 3 && !stubAnywhere; try++ {
		hint := (stubLow + rand.Uint64N(stubHigh-stubLow)) &^ (page - 1)
		ret, err := in.step(nums.mmap, hint, size, prot,
			unix.MAP_SHARED|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
		if err != nil || errnoOf(ret) != unix.EEXIST {
			return ret, err
		}
	}
	return in.step(nums.mmap, 0, size, prot, unix.MAP_SHARED|unix.MAP_ANONYMOUS, ^uint64(0), 0)
}

// stubAnywhere, set by tests, has stubMap leave the address to the kernel.
var stubAnywhere bool

// stubLow and stubHigh bound the stub's random address: above what a
// program's brk or a low mapping would take, below where the kernel puts
// mappings and stacks in a 47-bit address space.
const (
	stubLow  = 1 << 40
	stubHigh = 1 << 46
)

// errUnprotected: the process's own filter refused the mprotect that makes
// the stub read-only; stubRun does not apply.
var errUnprotected = errors.New("stub not made read-only")

// stubLayout places the stub and the programs in the scratch memory: the
// code from offset 0, the main program's sock_fprog and instructions at
// code, the after program's at after, up to end; then, at dump, the start
// of the page after, the 8 bytes where the helper stores the dumpable
// flag.
type stubLayout struct {
	dump, code, after, end int
}

// stubLoad writes the stub and the programs at addr, runs the stub and
// loads the after program, if any, from the helper. It returns the
// listener, the helper, if there is one, stopped (the caller makes it
// exit), and what it wrote at addr, once written.
func (in *injection) stubLoad(addr uint64, lay stubLayout, prog, after []unix.SockFilter,
	before func()) (fd int, h *injection, written []byte, err error) {
	pid := in.t.pid
	mainProg := addr + uint64(lay.code)
	img, _ := archStub(filterFlags, mainProg, addr+uint64(lay.dump))
	buf := make([]byte, lay.dump+8)
	copy(buf, img.code)
	binary.NativeEndian.PutUint64(buf[lay.dump:], ^uint64(0))
	copy(buf[lay.code:], encodeProg(prog, mainProg))
	if len(after) > 0 {
		copy(buf[lay.after:], encodeProg(after, addr+uint64(lay.after)))
	}
	if err := writeMem(in.th.tid, addr, buf); err != nil {
		return -1, nil, nil, fail("write", pid, err)
	}
	r, err := in.step(nums.mprotect, addr, uint64(lay.dump), unix.PROT_READ|unix.PROT_EXEC)
	if err != nil {
		return -1, nil, nil, fail("mprotect", pid, err)
	}
	if errnoOf(r) != 0 {
		return -1, nil, nil, errUnprotected // a filter of its own refused it
	}
	now := make([]byte, lay.dump)
	if err := readMem(in.th.tid, addr, now); err != nil || !bytes.Equal(now, buf[:lay.dump]) {
		// Rewritten before the protection, by another process: nothing
		// ran or went in yet.
		debugf("hold %d: the stub was rewritten before it was made read-only", pid)
		return -1, nil, buf, fail("verify", pid, unix.EPERM)
	}
	h, cloned, err := in.runStub(addr, img, before)
	if err != nil {
		return -1, nil, buf, err
	}
	if h == nil {
		fd, err := in.loadHere(mainProg, addr+uint64(lay.after), cloned, len(after) > 0,
			before)
		return fd, nil, buf, err
	}
	fd, err = h.loadInHelper(mainProg, addr+uint64(lay.after), len(after) > 0)
	if err != nil {
		return -1, h, buf, err
	}
	in.listener = fd
	return fd, h, buf, nil
}

// loadHere loads the programs from the injecting thread, as run does
// without a helper, where the clone of the helper was refused (pids.max,
// RLIMIT_NPROC, a filter) with cloned, a negated errno.
func (in *injection) loadHere(mainProg, afterProg uint64, cloned int64, after bool,
	before func()) (int, error) {
	pid := in.t.pid
	if errnoOf(cloned) == 0 {
		return -1, fail("clone", pid, unix.EIO)
	}
	if other := sharedWith(pid); other != 0 {
		return -1, &Error{Op: "files", Pid: pid, Err: unix.EBUSY, Other: other}
	}
	if err := in.undump(); err != nil {
		return -1, err
	}
	fd, err := in.load(nil, mainProg, before)
	if err == nil && after {
		in.static = true
		_, err = in.load(nil, afterProg, nil)
		in.static = false
	}
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return fd, err
}

// loadInHelper takes the listener of the filter that the helper h loaded
// at its trap, and loads the after program, if any, from h. Where the
// kernel wanted no_new_privs first, it sets it and loads the main program
// again, one call at a time.
func (h *injection) loadInHelper(mainProg, afterProg uint64, after bool) (int, error) {
	pid := h.t.pid
	res := h.base.regs.result()
	if errnoOf(res) == unix.EACCES {
		// No CAP_SYS_ADMIN: no_new_privs first, then the load again,
		// one call at a time (rare).
		r, err := h.call(nums.prctl, unix.PR_SET_NO_NEW_PRIVS, 1)
		if err == nil && errnoOf(r) != 0 {
			err = errnoOf(r)
		}
		if err != nil {
			return -1, fail("prctl", pid, err)
		}
		if res, err = h.call(nums.seccomp, unix.SECCOMP_SET_MODE_FILTER, filterFlags,
			mainProg); err != nil {
			return -1, fail("seccomp", pid, err)
		}
	}
	if e := errnoOf(res); e != 0 {
		return -1, loadFailed(pid, h.th.tid, e)
	}
	fd, err := h.takeFromHelper(int(res))
	if err != nil {
		return -1, err
	}
	h.listener = fd
	if after {
		r, err := h.call(nums.seccomp, unix.SECCOMP_SET_MODE_FILTER, staticFlags, afterProg)
		if err == nil && errnoOf(r) != 0 {
			err = errnoOf(r)
		}
		if err != nil {
			unix.Close(fd)
			return -1, fail("seccomp", pid, err)
		}
	}
	return fd, nil
}

// runStub lets the injecting thread run the stub at addr and waits for
// both traps: the parent's, and the helper's once it made its seccomp
// call. before runs when the helper is stopped at its start, just before
// it goes on to that call. It returns the helper, stopped at its trap with
// its registers in base (the seccomp call's result in the return
// register), or nil with the clone's negated errno when there is no
// helper.
func (in *injection) runStub(addr uint64, img stubImage,
	before func()) (*injection, int64, error) {
	pid, tid := in.t.pid, in.th.tid
	if err := setCall(tid, &in.base, addr, nums.clone, [6]uint64{helperFlags}); err != nil {
		return nil, 0, fail("clone", pid, err)
	}
	in.t.cloned = 0
	made := helperClone()
	defer func() { made(in.t.cloned != 0) }()
	if err := resume(in.th); err != nil {
		return nil, 0, fail("clone", pid, err)
	}
	var (
		helper     *thread
		parentDone bool
		cloned     int64
		h          *injection
	)
	// On failure (a timeout, say), a thread still in the stub would run
	// into its trap once let go, which ends the process (SIGTRAP, or the
	// ud2 after it): the parent and the helper, if there is one, get a
	// while more to stop (settle), then the caller puts the parent's
	// registers back and the helper is made to exit. Only a thread that
	// does not stop even then is let go as it is.
	failed := func(err error) (*injection, int64, error) {
		grace := time.Now().Add(lateGrace)
		in.settle(in.th, grace)
		if helper == nil && in.t.cloned != 0 {
			helper = in.t.threads[in.t.cloned]
		}
		if helper != nil && h == nil {
			in.settle(helper, grace)
		}
		if helper != nil && h == nil && in.t.threads[helper.tid] == helper &&
			helper.kind != running {
			e := &injection{t: in.t, th: helper, pc: in.pc, deadline: grace,
				listener: -1}
			var serr error
			if e.base, serr = getState(helper.tid); serr == nil {
				e.end()
			}
		}
		return nil, 0, fail("clone", pid, err)
	}
	for !parentDone || (cloned > 0 && h == nil) {
		if parentDone && cloned < 0 {
			return nil, cloned, nil
		}
		wtid, ws, err := waitAny(in.deadline, nil)
		if err != nil {
			return failed(err)
		}
		th := in.t.handle(wtid, ws)
		if in.t.cloned != 0 {
			made(true)
		}
		switch {
		case wtid == tid:
			if th == nil {
				return failed(unix.ESRCH)
			}
			done, r, err := in.trapped(th, addr+uint64(img.parentStop))
			if err != nil {
				return failed(err)
			}
			parentDone, cloned = done, r
			if done && cloned > 0 && in.t.cloned == 0 {
				return failed(unix.EIO) // a helper that the tracer did not see
			}
		case helper != nil && wtid == helper.tid:
			if th == nil {
				return failed(unix.ESRCH)
			}
			done, _, err := in.trapped(th, addr+uint64(img.helperStop))
			if err != nil {
				return failed(err)
			}
			if done {
				h = &injection{t: in.t, th: th, pc: in.pc, deadline: in.deadline,
					listener: -1, exitTail: true}
				if h.base, err = getState(th.tid); err != nil {
					h = nil
					return failed(err)
				}
			}
		}
		if helper == nil && in.t.cloned != 0 {
			// The helper's first stop may come before or after the clone
			// event that names it.
			if c := in.t.threads[in.t.cloned]; c != nil && c.kind != running {
				helper = c
				if c.kind == signalStop {
					in.t.resend = append(in.t.resend, c.deliver)
				}
				if before != nil {
					before()
				}
				if err := resume(c); err != nil {
					return failed(err)
				}
			}
		}
	}
	return h, cloned, nil
}

// trapped deals with a stop of th while it runs the stub, whose trap
// leaves the program counter at stop: at the trap it reports done with
// the return register; any other stop resumes the thread, a signal kept
// for later.
func (in *injection) trapped(th *thread, stop uint64) (bool, int64, error) {
	if th.kind == signalStop {
		st, err := getState(th.tid)
		if err != nil {
			return false, 0, err
		}
		if th.deliver == int(unix.SIGTRAP) && st.regs.ip() == stop {
			th.deliver = 0
			return true, st.regs.result(), nil
		}
		in.t.resend = append(in.t.resend, th.deliver)
	}
	return false, 0, resume(th)
}

// resume lets a stopped thread run on (PTRACE_CONT), with no signal.
func resume(th *thread) error {
	th.deliver = 0
	if err := ptrace(unix.PTRACE_CONT, th.tid, 0, 0); err != nil {
		return err
	}
	th.kind = running
	return nil
}

// step runs system call nr with args in the injecting thread by a single
// step over the syscall instruction: one ptrace stop, the trap after the
// instruction, where call has two (entry and exit). Only stubRun uses it,
// on the architectures that have a stub. A signal stop before the
// instruction ran is a signal for later; the step is made again.
func (in *injection) step(nr int, args ...uint64) (int64, error) {
	var a [6]uint64
	copy(a[:], args)
	tid := in.th.tid
	if err := setCall(tid, &in.base, in.pc, nr, a); err != nil {
		return 0, err
	}
	past := in.pc + uint64(len(syscallInsn.code))
	var serve func() bool
	if in.listener >= 0 {
		serve = in.serve
	}
	for {
		if err := ptrace(unix.PTRACE_SINGLESTEP, tid, 0, 0); err != nil {
			return 0, err
		}
		in.th.kind = running
		for in.th.kind == running {
			wtid, ws, err := waitAny(in.deadline, serve)
			if err != nil {
				// Stopped after all, the thread has its registers put
				// back by the caller; let go on its way, it would run
				// into the injected call's trap.
				in.settle(in.th, time.Now().Add(lateGrace))
				return 0, err
			}
			if in.t.handle(wtid, ws) == nil && wtid == tid {
				return 0, unix.ESRCH
			}
		}
		if in.th.kind != signalStop {
			continue
		}
		st, err := getState(tid)
		if err != nil {
			return 0, err
		}
		switch ip := st.regs.ip(); {
		case in.th.deliver == int(unix.SIGTRAP) && ip == past:
			in.th.deliver = 0
			if !st.regs.madeCall(nr, a, past) {
				return 0, in.foreign(errForeignCall)
			}
			return st.regs.result(), nil
		case ip == in.pc:
			in.t.resend = append(in.t.resend, in.th.deliver)
			in.th.deliver = 0
		default:
			return 0, unix.EIO
		}
	}
}
