package inject

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A hold makes its calls (mmap, clone, prctl, seccomp, close, munmap,
// exit) from inside the process, so the process's own seccomp filters
// judge them as they judge the program's. A filter that kills for one of
// them killed the process that was to be held, or the helper thread (the
// write then failed with a misleading ESRCH), and one that traps sent the
// program a SIGSYS meant for its own calls. A service that systemd runs
// with SystemCallFilter=@system-service is one: seccomp(2) is in no group
// of that list, and systemd kills the process for a call outside it. Such
// a process is refused before anything is injected: EPERM, op
// "filter kills". An errno, a trace (ENOSYS with no tracer asking for
// seccomp stops) or a notification to a listener of the process's own are
// not refused here: the call then fails, or is answered, and the hold
// fails on it (loadFailed tells an answer from the kernel's refusal).

// holdCalls are the calls a hold makes in the process, with the
// arguments that are known before it starts; an address is not.
func holdCalls() []callData {
	known := func(nr int, args ...uint64) callData {
		d := callData{nr: uint32(nr), arch: auditArch}
		for i, a := range args {
			d.args[i], d.known[i] = a, true
		}
		return d
	}
	anon := uint64(unix.MAP_PRIVATE | unix.MAP_ANONYMOUS)
	mmap := func(prot uint64) callData {
		d := known(nums.mmap, 0, 0, prot, anon, ^uint64(0), 0)
		d.known[1] = false // the size
		return d
	}
	seccomp := func(flags uint64) callData {
		d := known(nums.seccomp, unix.SECCOMP_SET_MODE_FILTER, flags)
		return d // the program's address is not known
	}
	return []callData{
		mmap(unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC), // stubRun's page
		mmap(unix.PROT_READ | unix.PROT_WRITE),                  // run's
		known(nums.clone, helperFlags),
		known(nums.prctl, unix.PR_GET_DUMPABLE),
		known(nums.prctl, unix.PR_SET_DUMPABLE, 0),
		known(nums.prctl, unix.PR_SET_DUMPABLE, 1),
		known(nums.prctl, unix.PR_SET_NO_NEW_PRIVS, 1),
		seccomp(filterFlags),
		seccomp(staticFlags),
		known(nums.close),
		known(nums.munmap),
		known(nums.exit),
	}
}

// harmful is an action that ends the thread or the process, or sends it
// SIGSYS. (SECCOMP_RET_KILL_THREAD is 0, which is also what a filter that
// divides by 0 returns.)
func harmful(action uint32) bool {
	switch action {
	case unix.SECCOMP_RET_KILL_PROCESS, unix.SECCOMP_RET_KILL_THREAD, unix.SECCOMP_RET_TRAP:
		return true
	}
	return false
}

// mayHarm reports whether filter prog may return a harmful action for a
// call of the hold.
func mayHarm(prog []unix.SockFilter) bool {
	for _, c := range holdCalls() {
		if mayReturn(prog, &c, harmful) {
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

// progKey is the bytes of prog, as a map key.
func progKey(prog []unix.SockFilter) string {
	if len(prog) == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*8))
}

// cachedMayHarm is mayHarm through harmCache.
func cachedMayHarm(prog []unix.SockFilter) bool {
	key := progKey(prog)
	harmCache.Lock()
	v, ok := harmCache.m[key]
	harmCache.Unlock()
	if ok {
		return v
	}
	v = mayHarm(prog)
	harmCache.Lock()
	if harmCache.m == nil || len(harmCache.m) >= harmCacheMax {
		harmCache.m = make(map[string]bool)
	}
	harmCache.m[key] = v
	harmCache.Unlock()
	return v
}

// chainMayHarm reports whether a filter of thread tid's chain may kill or
// trap a call of the hold, and which (its index, oldest first). A chain
// the kernel does not show (a task with no filter; a kernel without
// CONFIG_CHECKPOINT_RESTORE) is taken as harmless: holds made no such check
// before, and a process with no filter has nothing to fear.
func chainMayHarm(tid int) (int, bool) {
	n, ok := filterCount(tid)
	if !ok {
		return 0, false
	}
	for i := 0; i < n; i++ {
		size, err := getFilter(tid, i, nil)
		if err != nil || size <= 0 {
			return 0, false
		}
		prog := make([]unix.SockFilter, size)
		if _, err := getFilter(tid, i, prog); err != nil {
			return 0, false
		}
		if cachedMayHarm(prog) {
			return i, true
		}
	}
	return 0, false
}

// checkFilters refuses a process that a filter of thread tid's chain may
// kill or trap for a call of the hold (EPERM, op "filter kills"); tid is
// to be the injecting thread, whose chain judges the calls (the helper
// inherits it). Every thread is stopped, so the chain cannot grow
// meanwhile. Checked once per tracer and thread.
func (t *tracer) checkFilters(tid int) error {
	if t.filtersChecked == tid {
		return nil
	}
	if i, bad := chainMayHarm(tid); bad {
		debugf("pid %d: filter %d of thread %d's chain may kill or trap a call of the hold",
			t.pid, i, tid)
		return &Error{Op: "filter kills", Pid: t.pid, Err: unix.EPERM}
	}
	t.filtersChecked = tid
	return nil
}
