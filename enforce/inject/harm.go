package inject

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// A hold makes its calls (mmap, mprotect, clone, prctl, seccomp, close,
// munmap, exit, and restart_syscall after an interrupted sleep) from inside the
// process, so the process's own seccomp filters judge them as they judge
// the program's. A filter that kills for one of
// them killed the process that was to be held, or the helper thread (the
// write then failed with a misleading ESRCH), and one that traps sent the
// program a SIGSYS meant for its own calls. A service that systemd runs
// with SystemCallFilter=@system-service is one: seccomp(2) is in no group
// of that list, and systemd kills the process for a call outside it. Such
// a process is refused before anything is injected: EPERM, op
// "filter kills"; so is one whose filter may hand a call of the hold to a
// listener of its own, answer one with a success it did not have, or
// answer at all one of the calls that clean up (holdCall, harmful). An
// errno or a trace (ENOSYS with no tracer asking for seccomp stops) for
// the others is not refused here: the call then fails, and the hold fails
// on it (loadFailed tells a filter's answer from the kernel's refusal).

// holdCall is one call a hold makes in the process: what a filter sees
// of it, and whether any answer of the filter's but ALLOW or LOG spoils the
// hold (strict) or only one that ends the thread, traps, or hands the call
// to a listener of the process's own. Strict are the calls that clean up:
// the helper's exit (one failed with an errno left the helper running with
// the listener in its table; adversary helper-22), the close of the
// listener where no helper could be made (a clone the filter failed put
// the listener in the process's own table, and a close the filter
// "answered" with 0 left it there: helper-23, an escape), and the munmap
// of the page that holds the stub and the layer's program (answered, it
// stayed, the layer's bytes readable: helper-23). Strict too: putting the
// dumpable flag back, which comes after the load (failed with an errno,
// it failed a hold whose layer was in, leaving a dead layer, or killed a
// member whose layer was growing: helper-25), and restart_syscall, which
// the process makes when the hold interrupted a sleep (nanosleep, a poll
// or futex with a timeout): it is the program's own call, and a filter
// that kills for it or fails it killed the process or put a wrong errno
// into it (helper-25). The stop has committed such a thread to it before
// the check runs, so a refusal has the thread make its call again instead
// (tracer.restartWhole; x86_64 only, helper-28).
type holdCall struct {
	callData
	strict bool
}

// holdCalls are the calls a hold makes in the process, with the
// arguments that are known before it starts; an address is not.
func holdCalls() []holdCall {
	known := func(nr int, args ...uint64) callData {
		d := callData{nr: uint32(nr), arch: auditArch}
		for i, a := range args {
			d.args[i], d.known[i] = a, true
		}
		return d
	}
	mmap := func(prot, flags uint64) callData {
		d := known(nums.mmap, 0, 0, prot, flags|unix.MAP_ANONYMOUS, ^uint64(0), 0)
		d.known[1] = false // the size
		return d
	}
	stubMmap := mmap(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC,
		unix.MAP_SHARED|unix.MAP_FIXED_NOREPLACE)
	stubMmap.known[0] = false // the address
	mprotect := known(nums.mprotect, 0, 0, unix.PROT_READ|unix.PROT_EXEC)
	mprotect.known[0], mprotect.known[1] = false, false // the address and size
	seccomp := func(flags uint64) callData {
		d := known(nums.seccomp, unix.SECCOMP_SET_MODE_FILTER, flags)
		return d // the program's address is not known
	}
	calls := []holdCall{
		{stubMmap, false}, // stubRun's, at a random address
		{mmap(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_SHARED), false}, // stubRun's
		{mmap(unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE), false},               // run's
		{mprotect, false}, // stubRun's
		{known(nums.clone, helperFlags), false},
		{known(nums.prctl, unix.PR_GET_DUMPABLE), false},
		{known(nums.prctl, unix.PR_GET_CHILD_SUBREAPER), false}, // the address is not known
		{known(nums.prctl, unix.PR_SET_DUMPABLE, 0), false},
		{known(nums.prctl, unix.PR_SET_DUMPABLE, 1), true},
		{known(nums.prctl, unix.PR_SET_NO_NEW_PRIVS, 1), false},
		{seccomp(filterFlags), false},
		{seccomp(staticFlags), false},
		{known(nums.close), true},
		{known(nums.munmap), true},
		{known(nums.exit, 0), true},
		{known(nums.restart), true},
	}
	return calls
}

// harmful is an action that ends the thread or the process, sends it
// SIGSYS, or hands the call to a listener of the process's own: every
// action but those that let the call run or fail it (ERRNO; TRACE, which
// fails it with ENOSYS when the tracer, the daemon, does not ask for
// seccomp stops; LOG and ALLOW). The kernel kills for an action it does
// not know (helper-22: 0x00040000 and others killed the process its hold
// was made in), and SECCOMP_RET_KILL_THREAD is 0, which a filter that
// divides by 0 also returns. A listener of the process's own may answer
// late, after the injection gave up on the thread, which then ran into the
// stub's trap (helper-23: SIGTRAP), or answer anything. The daemon's own
// layers hand calls to its listeners: they are not judged (isOwn).
//
// An errno of 0 is harm too: the call returns 0 without having run, a
// success it did not have (helper-24: a clone "made" so took the helper's
// path in the injecting thread, which exited, and ended the process; a
// seccomp "load" so gave listener 0).
func harmful(ret uint32) bool {
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ERRNO:
		return ret&unix.SECCOMP_RET_DATA == 0
	case unix.SECCOMP_RET_TRACE, unix.SECCOMP_RET_LOG, unix.SECCOMP_RET_ALLOW:
		return false
	}
	return true
}

// own holds the tests of the filters that the daemon loads (its layers,
// by their tag: enforce/hold), which the check leaves out: they never
// kill or trap, and their listeners are the daemon's.
var own struct {
	sync.Mutex
	tests []func([]unix.SockFilter) bool
}

// AddOwnFilter adds a test of filters that the caller loads and whose
// listeners it keeps: the check of a process's own filters before a hold
// leaves those out.
func AddOwnFilter(f func([]unix.SockFilter) bool) {
	own.Lock()
	own.tests = append(own.tests, f)
	own.Unlock()
}

// isOwn reports whether a test of AddOwnFilter takes prog for its own.
func isOwn(prog []unix.SockFilter) bool {
	own.Lock()
	tests := own.tests
	own.Unlock()
	for _, f := range tests {
		if f(prog) {
			return true
		}
	}
	return false
}

// answers is an action that does not let the call run as it is.
func answers(ret uint32) bool {
	action := ret & unix.SECCOMP_RET_ACTION_FULL
	return action != unix.SECCOMP_RET_LOG && action != unix.SECCOMP_RET_ALLOW
}

// mayHarm reports whether filter prog may spoil a call of the hold: return
// a harmful action for it, or for a strict call any answer.
func mayHarm(prog []unix.SockFilter) bool {
	for _, c := range holdCalls() {
		bad := harmful
		if c.strict {
			bad = answers
		}
		if mayReturn(prog, &c.callData, bad) {
			return true
		}
	}
	return false
}

// harmCache keeps mayHarm's answer by the program's bytes: most chains
// are the same few programs (cgsyscall's own, a runtime's, a service
// manager's), and a growth reads every member's. Emptied when full.
var harmCache struct {
	sync.Mutex
	m map[string]bool
}

const harmCacheMax = 1024

// cachedMayHarm is mayHarm through harmCache, by the bytes of prog
// without the instructions at its end that no run reaches: cgsyscall's
// layers end with words of their own there (enforce/hold, mark.go), and
// are otherwise the same few programs.
func cachedMayHarm(prog []unix.SockFilter) bool {
	prog = TrimUnreached(prog, 8)
	if len(prog) == 0 {
		return mayHarm(prog)
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*8)
	harmCache.Lock()
	v, ok := harmCache.m[string(b)]
	harmCache.Unlock()
	if ok {
		return v
	}
	v = mayHarm(prog)
	harmCache.Lock()
	if harmCache.m == nil || len(harmCache.m) >= harmCacheMax {
		harmCache.m = make(map[string]bool)
	}
	harmCache.m[string(b)] = v
	harmCache.Unlock()
	return v
}

// chainMayHarm reports whether a filter of thread tid's chain, from index
// from (oldest first) on, may kill or trap a call of the hold, and which;
// and how many filters the chain has.
func chainMayHarm(tid, from int) (int, bool, int) {
	return chainFind(tid, from, cachedMayHarm)
}

// chainHarmsRestart reports whether a filter of thread tid's chain may
// answer restart_syscall (kill, trap, fail or hand it on).
func chainHarmsRestart(tid int) bool {
	restart := callData{nr: uint32(nums.restart), arch: auditArch}
	_, bad, _ := chainFind(tid, 0, func(prog []unix.SockFilter) bool {
		return mayReturn(prog, &restart, answers)
	})
	return bad
}

// chainFind returns the index of the first filter of thread tid's chain,
// from index from (oldest first) on and other than the daemon's own
// (isOwn), that bad takes; whether there is one; and how many filters the
// chain has. A chain the kernel does not show (a task with no filter; a
// kernel without CONFIG_CHECKPOINT_RESTORE) is taken as harmless: holds
// made no such check before, and a process with no filter has nothing to
// fear.
func chainFind(tid, from int, bad func([]unix.SockFilter) bool) (int, bool, int) {
	n, ok := filterCount(tid)
	if !ok {
		return 0, false, 0
	}
	if from > n {
		from = 0 // not the chain that was checked: all of it again
	}
	for i := from; i < n; i++ {
		prog, err := readFilter(tid, i)
		if err != nil || len(prog) == 0 {
			return 0, false, 0
		}
		if !isOwn(prog) && bad(prog) {
			return i, true, n
		}
	}
	return 0, false, n
}

// A thread's chain only grows: the filters found harmless need not be read
// again at its next hold. harmless keeps, by thread, how many of the
// oldest were; the thread is named by its TID and its process's pidfs
// inode number, which no other process gets while the machine runs (Linux
// 6.9; without thread pidfds, which came with it, nothing is kept). A
// benchmark that holds one process 500 times paid for every older filter
// at each hold (0.3-0.45 ms more a hold), and a process held again after
// each of many denies would have.
var harmless struct {
	sync.Mutex
	m map[harmlessKey]int
}

type harmlessKey struct {
	ino uint64
	tid int
}

const harmlessMax = 8192

// checkFilters refuses a process that a filter of thread tid's chain may
// kill or trap for a call of the hold (EPERM, op "filter kills"); tid is
// to be the injecting thread, whose chain judges the calls (the helper
// inherits it). Every thread is stopped, so the chain cannot grow
// meanwhile. Checked once per tracer and thread.
func (t *tracer) checkFilters(tid int) error {
	if t.filtersChecked == tid {
		return nil
	}
	key, keep := harmlessKey{tid: tid}, false
	var st unix.Stat_t
	if kernel.PidfdThread.Have() && t.pidfd >= 0 && unix.Fstat(t.pidfd, &st) == nil {
		key.ino, keep = st.Ino, true
	}
	from := 0
	if keep {
		harmless.Lock()
		from = harmless.m[key]
		harmless.Unlock()
	}
	i, bad, n := chainMayHarm(tid, from)
	if bad {
		debugf("pid %d: filter %d of thread %d's chain may kill or trap a call of the hold",
			t.pid, i, tid)
		return &Error{Op: "filter kills", Pid: t.pid, Err: unix.EPERM}
	}
	if keep {
		// Recorded only once a load went in (loaded): the threads'
		// chains are the same from then on, the injecting thread's
		// prefix for every thread of the process. Recorded before, it
		// outlived a hold that failed on a thread with a chain of its
		// own, whose later exec gave that chain the leader's TID
		// (helper-22: a killer below the recorded count went unread).
		t.harmless, t.harmlessN = key, n
	}
	t.filtersChecked = tid
	return nil
}

// noteHarmless records that the oldest n filters of a thread are harmless.
func noteHarmless(key harmlessKey, n int) {
	harmless.Lock()
	if harmless.m == nil || len(harmless.m) >= harmlessMax {
		harmless.m = make(map[harmlessKey]int)
	}
	harmless.m[key] = n
	harmless.Unlock()
}

// loaded records, after a load that verify found in the chain of the
// thread checkFilters checked, that the filters loaded are harmless too,
// judged as chainMayHarm judges them (the daemon's own layers are, though
// they hand prctl and more to its listener): the next hold of the process
// (a growth) then reads none of its chain but the count.
func (t *tracer) loaded(tid int, progs ...[]unix.SockFilter) {
	if t.harmless.tid != tid {
		return
	}
	n := t.harmlessN
	for _, prog := range progs {
		if len(prog) == 0 {
			continue
		}
		if !isOwn(prog) && cachedMayHarm(prog) {
			return
		}
		n++
	}
	noteHarmless(t.harmless, n)
}
