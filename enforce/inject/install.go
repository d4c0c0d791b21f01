package inject

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// maxInsns is BPF_MAXINSNS, the longest program seccomp accepts.
const maxInsns = 4096

// fprogSize is sizeof(struct sock_fprog) on a 64-bit ABI.
const fprogSize = 16

// filterFlags: sync every thread, report a TSYNC failure as ESRCH (the
// kernel insists on it together with NEW_LISTENER), return a listener, and
// let no signal but a fatal one interrupt a notified call once the daemon
// has received it (WAIT_KILLABLE_RECV, Linux 5.19). Without that, a signal
// that came just as the answer was sent had the call restarted anyway,
// and the daemon saw and counted the same denied call twice; the daemon
// answers within microseconds, so signals wait no longer than that.
const filterFlags = unix.SECCOMP_FILTER_FLAG_TSYNC |
	unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
	unix.SECCOMP_FILTER_FLAG_NEW_LISTENER |
	unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

// staticFlags load a layer without a listener.
const staticFlags = unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH

// injection is one run of injected calls in one stopped thread.
type injection struct {
	t        *tracer
	th       *thread
	base     state // the thread's own state, restored at the end
	pc       uint64
	deadline time.Time
	// listener, once known, is served while calls run, so that an
	// injected call that the new filter itself notifies is let through.
	listener int
	static   bool // load without a listener
	called   bool // a call was injected already
	// undumped is set once the process's dumpable flag was cleared for the
	// load (undump, or the stub's helper), to be put back (redump).
	undumped bool
	// late is set when the last call failed its wait and still ran to
	// its exit stop within abandon's grace: its result is the kernel's.
	late bool
	// exitTail: a helper stopped at its trap in the stub, which exits
	// when it runs on (leave).
	exitTail bool
}

// install stops every thread, loads prog as a filter of the whole process
// and returns the listener, now a descriptor of this process. It always
// detaches every thread before it returns.
func (t *tracer) install(prog []unix.SockFilter, before func(),
	timeout time.Duration, static bool, after []unix.SockFilter) (fd int, err error) {
	defer func() {
		if t.helperLeft {
			// A helper that did not exit keeps a copy of the listener,
			// with which the process could answer its own calls: it
			// does not run on.
			if err == nil {
				unix.Close(fd)
				fd = -1
			}
			err = &Error{Op: "helper", Pid: t.pid, Err: unix.EPERM}
			t.kill()
		} else if err != nil && t.killOnFail && !(t.spareHeld && ListenerRefused(err)) {
			t.kill()
		}
		if err == nil && fd >= 0 && t.keep != nil {
			t.keep(fd)
		}
		t.release()
	}()
	if len(prog) == 0 || len(prog) > maxInsns || len(after) > maxInsns {
		return -1, fail("install", t.pid, unix.EINVAL)
	}
	deadline := time.Now().Add(timeout)
	if err := t.stopAll(deadline); err != nil {
		return -1, fail("stop", t.pid, err)
	}
	if len(t.zombies) > 0 && !static && !kernel.PidfdThread.Have() {
		// The leader exited before its threads: it has no file table to
		// take the listener from, and without thread pidfds (Linux 6.9)
		// no other thread's can be named. Refused before anything
		// changes.
		return -1, &Error{Op: "zombie leader", Pid: t.pid, Err: unix.EBUSY}
	}
	// The injection has a timeout of its own: one that shared the
	// stops' could run out in the middle of the injected calls, with the
	// thread in injected state.
	deadline = time.Now().Add(timeout)
	th := t.pick()
	if th == nil && t.unclone() {
		// Its threads were all in clone events: let them finish the
		// clone and stop again.
		if err := t.stopAll(deadline); err != nil {
			return -1, fail("stop", t.pid, err)
		}
		th = t.pick()
	}
	if th == nil {
		return -1, fail("stop", t.pid, unix.ESRCH)
	}
	in := &injection{t: t, th: th, deadline: deadline, listener: -1, static: static}
	t.pin(th.tid)
	if in.base, err = getState(th.tid); err != nil {
		return -1, fail("regs", t.pid, err)
	}
	if !in.base.regs.native() {
		return -1, fail("regs", t.pid, unix.EINVAL)
	}
	if err := t.checkFilters(th.tid); err != nil {
		// Stopping a sleeping thread committed it to restart_syscall,
		// which the filter may kill or fail (helper-28): it makes its
		// call again instead.
		t.restartWhole()
		return -1, err
	}
	// After the filters, which a refusal needs read first, and which
	// are cheaper to judge.
	if !static {
		if err := t.checkMemory(); err != nil {
			return -1, err
		}
	}
	// With a listener to hand on before the threads run on, a daemon that
	// dies from the first injected call until then kills the process: it
	// would leave it with its only listener closed (Session.Keep).
	if t.keep != nil && !static && !t.exitKill {
		if err := t.setExitKill(); err != nil {
			return -1, err
		}
	}
	// Signals wait while the injected calls run: blocked in the injecting
	// thread (and in the helper it clones), they stay pending, each with
	// its siginfo and in its order, and stop none of the calls. Without
	// that, a flood of queued signals stopped every step of the
	// injection, and each one taken had to be sent again (tgkill), its
	// value lost, behind the rest.
	mask, merr := getSigmask(th.tid)
	if merr == nil {
		merr = setSigmask(th.tid, ^uint64(0))
	}
	if in.pc, err = in.findInsn(); err != nil {
		return -1, fail("insn", t.pid, err)
	}
	// The main layer first: a fixed layer that denies seccomp(2) itself
	// would refuse its load otherwise. The fixed one's own calls then pass
	// through the main layer, which must let seccomp through.
	var tried bool
	fd, tried, err = in.stubRun(prog, after, before)
	if !tried && !static {
		err = in.undump()
	}
	if !tried && err == nil {
		fd, err = in.run(prog, before)
		if err == nil && len(after) > 0 {
			in.static = true
			_, err = in.run(after, nil)
			in.static = static
		}
	}
	if in.undumped {
		if rerr := in.redump(); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err == nil {
		err = t.verify(th.tid, prog, after)
	}
	if rerr := setState(th.tid, &in.base); rerr != nil && err == nil {
		// The thread's registers could not be put back: it died, or
		// it would now run on from the injected state.
		err = fail("restore", t.pid, rerr)
	}
	if merr == nil {
		if rerr := setSigmask(th.tid, mask); rerr != nil && err == nil {
			err = fail("restore", t.pid, rerr)
		}
	}
	for _, sig := range t.resend {
		unix.Tgkill(t.pid, th.tid, unix.Signal(sig))
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, err
	}
	t.loaded(th.tid, prog, after)
	return fd, nil
}

// checkMemory refuses a process that shares its memory with another
// (memorySharer), once per tracer: every thread is stopped, and with no
// sharer nothing can come to share the memory while they stay so.
//
// A check the machine's task creation kept from ending (EAGAIN) is made
// again, 2 ms apart, for up to memoryPatience: the threads stay stopped
// meanwhile, so nothing of the process changes, and a hold that has no
// retry of its own (a process writing itself into a group is killed when
// its hold fails) failed now and then while the test suite's packages
// forked side by side (CI, TestHeldChildWritesItselfUncovered).
func (t *tracer) checkMemory() error {
	if skipMemoryCheck || t.memoryChecked {
		return nil
	}
	other, err := t.memorySharer()
	for start := time.Now(); other == 0 && err == unix.EAGAIN &&
		time.Since(start) < memoryPatience; {
		time.Sleep(2 * time.Millisecond)
		other, err = t.memorySharer()
	}
	if other != 0 {
		return &Error{Op: "memory", Pid: t.pid, Err: unix.EBUSY, Other: other}
	}
	if err != nil {
		return fail("memory", t.pid, err)
	}
	t.memoryChecked = true
	return nil
}

// memoryPatience bounds the time checkMemory spends making a check again.
const memoryPatience = 300 * time.Millisecond

// verify checks that the newest filters of thread tid, which the load
// synchronized to every thread, are prog and then after, as the kernel
// keeps them. The program went into the process's own memory, and a
// process that shares that memory with another (clone with CLONE_VM and
// without CLONE_THREAD) is not stopped by ptrace: the other could rewrite
// it between the write and the load. A filter that is not the one
// written fails the hold with EPERM and kills the process while it is
// stopped (fail closed: its listener may be anybody's now). A kernel that
// cannot show filters (no CONFIG_CHECKPOINT_RESTORE) is not checked.
func (t *tracer) verify(tid int, prog, after []unix.SockFilter) error {
	n, ok := filterCount(tid)
	if !ok {
		return nil
	}
	want := [][]unix.SockFilter{prog}
	if len(after) > 0 {
		want = append(want, after)
	}
	ok = n >= len(want)
	for i := 0; ok && i < len(want); i++ {
		got, err := readFilter(tid, n-len(want)+i)
		ok = err == nil && slices.Equal(got, want[i])
	}
	if ok {
		return nil
	}
	t.kill()
	return fail("verify", t.pid, unix.EPERM)
}

// undump makes the process not dumpable for the moment its new listener
// is in a table of its own (the helper's, or the injecting thread's where
// there is no helper), if it is dumpable: pidfd_getfd takes a descriptor
// from any thread that the caller may ptrace, which is any process of the
// same user unless the target is not dumpable, and such a process could
// copy the listener there and answer the held process's calls itself
// (adversary, finding B: 10 of 10 holds lost their listener to a sibling
// polling the new thread). A process already not dumpable (0, or 2 for
// root only) is left as it is, and so is one whose prctl a filter of its
// own refuses. On x86_64 the stub's helper does the same in its own code
// (x86Stub), with no stop; undump is for the other ways to load.
func (in *injection) undump() error {
	pid := in.t.pid
	r, err := in.inject(nums.prctl, unix.PR_GET_DUMPABLE)
	if err != nil {
		return fail("prctl", pid, err)
	}
	if r != 1 {
		return nil
	}
	if r, err = in.inject(nums.prctl, unix.PR_SET_DUMPABLE, 0); err == nil && errnoOf(r) != 0 {
		err = errnoOf(r)
	}
	if err != nil {
		return fail("prctl", pid, err)
	}
	in.undumped = true
	return nil
}

// redump makes the process dumpable again once the listener is out of its
// tables (the helper gone, or the copy closed), within a while of its own
// when the injection ran out of time.
func (in *injection) redump() error {
	in.graceIfLate()
	r, err := in.inject(nums.prctl, unix.PR_SET_DUMPABLE, 1)
	if err == nil && errnoOf(r) != 0 {
		err = errnoOf(r)
	}
	if err != nil {
		return fail("prctl", in.t.pid, err)
	}
	return nil
}

// graceIfLate gives an injection that ran out of time a while of its own
// for its cleanup: the helper's exit, the page's unmapping, the flag put
// back.
func (in *injection) graceIfLate() {
	if !time.Now().Before(in.deadline) {
		in.deadline = time.Now().Add(lateGrace)
	}
}

// inject makes one call in the injecting thread: by a single step where
// the architecture has a stub (one stop), else as call does (two).
func (in *injection) inject(nr int, args ...uint64) (int64, error) {
	if haveStub {
		return in.step(nr, args...)
	}
	return in.call(nr, args...)
}

// rewritten reports whether the memory at addr no longer holds written,
// what the injection wrote there, after a load that failed with err (or
// cannot be read); the bytes from skip on (for 8, when skip > 0) are the
// stub's own to write. A process that shares its memory with another is
// not stopped with it, and the other may have rewritten the program
// before the kernel copied it (a half-rewritten one is EINVAL): the
// rewrite that verify catches after a load that succeeded.
func (in *injection) rewritten(err error, addr uint64, written []byte, skip int) bool {
	if err == nil || written == nil {
		return false
	}
	now := make([]byte, len(written))
	if readMem(in.th.tid, addr, now) != nil {
		return true
	}
	if skip > 0 {
		copy(now[skip:skip+8], written[skip:skip+8])
	}
	return !bytes.Equal(now, written)
}

// refusedRewrite ends a hold whose load failed with err on a program
// that was rewritten: as verify does, with EPERM and the process killed,
// whatever the kernel said of the program. Call it once the scratch
// memory is freed.
func (t *tracer) refusedRewrite(err error) error {
	debugf("hold %d: the load failed (%v) on a rewritten page", t.pid, err)
	t.kill()
	return fail("verify", t.pid, unix.EPERM)
}

// filterCount returns how many filters thread tid has, by
// PTRACE_SECCOMP_GET_FILTER, which counts from the oldest and says ENOENT
// past the newest: a doubling search, then a halving one, a few calls
// for any chain. False when the kernel cannot tell.
func filterCount(tid int) (int, bool) {
	has := func(i int) (bool, bool) {
		_, err := getFilter(tid, i, nil)
		if err == unix.ENOENT {
			return false, true
		}
		return err == nil, err == nil
	}
	hi := 1
	for {
		in, ok := has(hi - 1)
		if !ok {
			return 0, false
		}
		if !in {
			break
		}
		hi *= 2
	}
	lo := hi / 2 // filters lo-1 exists (or lo is 0); hi-1 does not
	for lo < hi-1 {
		mid := (lo + hi) / 2
		in, ok := has(mid - 1)
		if !ok {
			return 0, false
		}
		if in {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, true
}

// pin puts the calling (tracing) thread and thread tid, a stopped tracee
// whose every thread is stopped, on the CPU the caller runs on, until
// release. A session is a dozen round trips between the two, each a
// wakeup of the other: on one CPU a wakeup is a switch, across CPUs an
// inter-processor interrupt, which a VM pays for dearly (on a 2-vCPU
// Firecracker VM, the least injection takes 31 µs on one CPU and 160-240
// µs across two; scripts/floor/inject.c). Only injected code runs pinned:
// the stub, and the helper thread it clones, which inherits the mask and
// exits. No code of the process runs before the mask is back, so nothing
// it starts inherits the pin (a pin taken before the threads stopped let
// children forked meanwhile keep it).
//
// Only a thread free to run on every CPU is pinned, the tracee's and the
// caller's alike, and it gets that mask back: since Linux 6.2 the kernel
// keeps a mask set with sched_setaffinity as the thread's own request,
// which a narrower mask put back would become, and a cpuset widened later
// would then no longer widen it. A narrower mask (a cpuset, taskset) is
// left alone; that only costs speed. An outside reader can see the pin
// while the process is held stopped. A mask that another process sets in
// that time stays, unless it is the very CPU of the pin, which cannot be
// told from the pin and is put back to every CPU.
func (t *tracer) pin(tid int) {
	all, ok := everyCPU()
	var own, theirs unix.CPUSet
	if !ok || unix.SchedGetaffinity(0, &own) != nil || own != all ||
		unix.SchedGetaffinity(tid, &theirs) != nil || theirs != all {
		return
	}
	var cpu uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0,
		0); e != 0 || !all.IsSet(int(cpu)) {
		return
	}
	var one unix.CPUSet
	one.Set(int(cpu))
	if unix.SchedSetaffinity(0, &one) != nil {
		return
	}
	if unix.SchedSetaffinity(tid, &one) != nil {
		unix.SchedSetaffinity(0, &all)
		return
	}
	t.unpin = func() {
		// Only a thread still traced: the ID of one that exited and was
		// waited for may name another thread by now. And only the pin:
		// a mask that somebody set since stays.
		var now unix.CPUSet
		if t.threads[tid] != nil && unix.SchedGetaffinity(tid, &now) == nil && now == one {
			unix.SchedSetaffinity(tid, &all)
		}
		unix.SchedSetaffinity(0, &all)
	}
}

// unpinNow undoes pin, if it pinned a thread.
func (t *tracer) unpinNow() {
	if t.unpin != nil {
		t.unpin()
		t.unpin = nil
	}
}

// run makes the injected calls: get scratch memory, write the program,
// load it, fetch the listener, close the tracee's copy, free the memory.
// A filter with a listener is loaded from a helper thread with a private
// file table where the kernel allows (spawnHelper); elsewhere a process
// that shares its file table with another is refused with EBUSY.
func (in *injection) run(prog []unix.SockFilter, before func()) (int, error) {
	pid := in.t.pid
	page := uint64(os.Getpagesize())
	size := (fprogSize + 8*uint64(len(prog)) + page - 1) &^ (page - 1)
	addr, saved, err := in.scratch(size)
	if err != nil {
		return -1, err
	}
	if !in.static {
		if err := in.askSubreaper(addr, false); err != nil {
			in.free(addr, size, saved)
			return -1, err
		}
	}
	written := encodeProg(prog, addr)
	if err := writeMem(in.th.tid, addr, written); err != nil {
		in.free(addr, size, saved)
		return -1, fail("write", pid, err)
	}
	var helper *injection
	if !in.static {
		if helper, err = in.spawnHelper(); err != nil {
			in.free(addr, size, saved)
			return -1, err
		}
		if helper == nil {
			if other := sharedWith(pid); other != 0 {
				in.free(addr, size, saved)
				return -1, &Error{Op: "files", Pid: pid, Err: unix.EBUSY, Other: other}
			}
		}
	}
	fd, err := in.load(helper, addr, before)
	rewritten := in.rewritten(err, addr, written, 0)
	if err != nil {
		in.graceIfLate()
		if helper != nil {
			helper.deadline = in.deadline
		}
	}
	if helper != nil && !helper.end() {
		in.t.helperLeft = true
	}
	if ferr := in.free(addr, size, saved); ferr != nil && err == nil {
		err = ferr
	}
	if rewritten {
		err = in.t.refusedRewrite(err)
	}
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return fd, err
}

// askSubreaper asks the process whether it is a child subreaper, which no
// file of /proc shows, with prctl(PR_GET_CHILD_SUBREAPER) into the scratch
// memory at addr, before the new layer goes in (in one single step where
// step is set, else as an injected call), and records the answer in
// tracer.subreaper. An orphan of a held process's family is given to the
// nearest subreaper above its dead parent, a held one of that family too:
// package hold judges it there by every group its layer was placed in
// (helper-44). A call that fails (an older layer that fails prctl) leaves
// it unknown, which the daemon takes for one. The error is the
// injection's own.
func (in *injection) askSubreaper(addr uint64, step bool) error {
	do := in.call
	if step {
		do = in.step
	}
	r, err := do(nums.prctl, unix.PR_GET_CHILD_SUBREAPER, addr)
	if err != nil {
		return fail("prctl", in.t.pid, err)
	}
	var v [4]byte
	if r == 0 && readMem(in.th.tid, addr, v[:]) == nil {
		in.t.subreaper = 0
		if binary.NativeEndian.Uint32(v[:]) != 0 {
			in.t.subreaper = 1
		}
	}
	return nil
}

// load makes the seccomp call for the program at addr, in helper when
// there is one, and takes the listener of a filter that has one.
func (in *injection) load(helper *injection, addr uint64, before func()) (int, error) {
	pid := in.t.pid
	caller := in
	if helper != nil {
		caller = helper
	}
	if before != nil {
		before()
	}
	flags := uint64(filterFlags)
	if in.static {
		flags = staticFlags
	}
	ret, err := caller.call(nums.seccomp, unix.SECCOMP_SET_MODE_FILTER, flags, addr)
	if err != nil && helper == nil && !in.static {
		in.closeLate()
	}
	if err == nil && errnoOf(ret) == unix.EACCES {
		// No CAP_SYS_ADMIN: the kernel wants no_new_privs first. It is
		// per thread, and TSYNC copies it to every thread.
		r, err := caller.call(nums.prctl, unix.PR_SET_NO_NEW_PRIVS, 1)
		if err == nil && errnoOf(r) != 0 {
			err = fail("prctl", pid, errnoOf(r))
		}
		if err != nil {
			return -1, fail("prctl", pid, err)
		}
		ret, err = caller.call(nums.seccomp, unix.SECCOMP_SET_MODE_FILTER, flags, addr)
	}
	if err == nil && errnoOf(ret) != 0 {
		err = loadFailed(pid, caller.th.tid, errnoOf(ret))
	}
	if err != nil {
		return -1, fail("seccomp", pid, err)
	}
	if in.static {
		return -1, nil
	}
	if helper != nil {
		fd, err := helper.takeFromHelper(int(ret))
		if err == nil {
			in.listener = fd
		}
		return fd, err
	}
	return in.takeListener(int(ret))
}

// closeLate closes, in the tracee, the listener of a load that ran out of
// time and still went in (abandon let the call finish): made from the
// injecting thread, it is in the process's own file table, where the
// process could answer its own notifications, or leave them waiting for
// good. The filter stays, with no listener: its notified calls fail with
// ENOSYS.
func (in *injection) closeLate() {
	if !in.late {
		return
	}
	tfd, err := getResult(in.th.tid)
	if err != nil || tfd < 0 {
		return
	}
	in.deadline = time.Now().Add(lateGrace)
	in.call(nums.close, uint64(tfd))
}

// takeListener copies the tracee's descriptor tfd into this process and
// closes it in the tracee, so that the held process never keeps a way to
// answer its own notifications. The filter is in force from here on:
// when the copy fails, the tracee's descriptor is closed all the same and
// the filter's notified calls fail with ENOSYS (fail closed).
func (in *injection) takeListener(tfd int) (int, error) {
	pid := in.t.pid
	fd, gerr := unix.PidfdGetfd(in.t.pidfd, tfd, 0)
	if gerr == nil {
		in.listener = fd
	} else {
		fd = -1
	}
	r, err := in.call(nums.close, uint64(tfd))
	if err == nil && errnoOf(r) != 0 {
		err = fail("close", pid, errnoOf(r))
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, fail("close", pid, err)
	}
	if gerr != nil {
		return -1, fail("getfd", pid, gerr)
	}
	return fd, nil
}

// scratch maps an anonymous page in the tracee. When the tracee may not
// mmap (an earlier filter of its own refuses it), it falls back to the
// stack below the red zone, saving what it overwrites.
func (in *injection) scratch(size uint64) (uint64, []byte, error) {
	pid := in.t.pid
	ret, err := in.call(nums.mmap, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return 0, nil, fail("mmap", pid, err)
	}
	if errnoOf(ret) == 0 {
		return uint64(ret), nil, nil
	}
	addr := (in.base.regs.stack() - redZone - size) &^ 15
	saved := make([]byte, size)
	if err := readMem(in.th.tid, addr, saved); err != nil {
		return 0, nil, fail("mmap", pid, errnoOf(ret))
	}
	return addr, saved, nil
}

// free undoes scratch.
func (in *injection) free(addr, size uint64, saved []byte) error {
	pid := in.t.pid
	if saved != nil {
		return fail("munmap", pid, writeMem(in.th.tid, addr, saved))
	}
	r, err := in.call(nums.munmap, addr, size)
	if err == nil && errnoOf(r) != 0 {
		err = errnoOf(r)
	}
	return fail("munmap", pid, err)
}

// encodeProg lays out a struct sock_fprog followed by its instructions,
// for loading at addr in the tracee.
func encodeProg(prog []unix.SockFilter, addr uint64) []byte {
	b := make([]byte, fprogSize+8*len(prog))
	ne := binary.NativeEndian
	ne.PutUint16(b[0:], uint16(len(prog)))
	ne.PutUint64(b[8:], addr+fprogSize)
	for i, f := range prog {
		o := fprogSize + 8*i
		ne.PutUint16(b[o:], f.Code)
		b[o+2], b[o+3] = f.Jt, f.Jf
		ne.PutUint32(b[o+4:], f.K)
	}
	return b
}

// findInsn finds a system call instruction in the tracee: first the one
// the thread stopped at (most stopped threads sit in a call), which costs
// one small read, else one in its vDSO. A thread whose last system call
// was a successful execve (a program stopped at its first instruction,
// as cgsyscall exec hands them over) has its vDSO where its auxiliary
// vector says: it cannot have moved or unmapped it without a system call.
// There the instruction is looked for at the offset an earlier scan found
// it at (the kernel maps one image into every process of an ABI), and
// /proc/PID/maps is not read.
func (in *injection) findInsn() (uint64, error) {
	b := make([]byte, len(syscallInsn.code))
	for _, addr := range in.base.regs.candidates() {
		if readMem(in.th.tid, addr, b) == nil && syscallInsn.is(b) {
			return addr, nil
		}
	}
	if off := vdsoInsn.Load(); off != 0 && in.base.regs.execed() {
		if lo := auxvVdso(in.th.tid); lo != 0 && readMem(in.th.tid, lo+off, b) == nil &&
			syscallInsn.is(b) {
			return lo + off, nil
		}
	}
	lo, hi, err := vdsoRange(in.th.tid)
	if err != nil {
		return 0, err
	}
	if lo != 0 && hi-lo <= 1<<20 {
		mem := make([]byte, hi-lo)
		if readMem(in.th.tid, lo, mem) == nil {
			if addr, ok := syscallInsn.find(mem, lo); ok {
				vdsoInsn.Store(addr - lo)
				return addr, nil
			}
		}
	}
	return 0, unix.ENOEXEC
}

// vdsoInsn is the offset in the vDSO of the instruction that the last
// scan of one found, 0 before the first.
var vdsoInsn atomic.Uint64

// auxvVdso returns the vDSO's address that the auxiliary vector of pid
// gives (AT_SYSINFO_EHDR), or 0.
func auxvVdso(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/auxv")
	if err != nil {
		return 0
	}
	return auxvValue(b, atSysinfoEhdr)
}

// atSysinfoEhdr is AT_SYSINFO_EHDR of <linux/auxvec.h>: the vDSO's address.
const atSysinfoEhdr = 33

// auxvValue returns the value of entry key of a 64-bit auxiliary vector,
// or 0.
func auxvValue(auxv []byte, key uint64) uint64 {
	ne := binary.NativeEndian
	for i := 0; i+16 <= len(auxv); i += 16 {
		switch ne.Uint64(auxv[i:]) {
		case key:
			return ne.Uint64(auxv[i+8:])
		case 0: // AT_NULL ends the vector
			return 0
		}
	}
	return 0
}
