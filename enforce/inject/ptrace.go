package inject

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ptrace makes a ptrace request with plain integer arguments.
func ptrace(req, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid),
		addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ptracePtr makes a ptrace request whose data is a pointer.
func ptracePtr(req, tid int, addr uintptr, data unsafe.Pointer) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid),
		addr, uintptr(data), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// seizeOptions: report new threads (auto-attached, so none is missed) and
// mark syscall stops. PTRACE_O_EXITKILL is left out but where the caller
// asks for it (Session.ExitKill): a daemon that dies leaves its tracees
// running, unless running on would leave them unheld.
const seizeOptions = unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACESYSGOOD

func seize(tid, options int) error {
	return ptrace(unix.PTRACE_SEIZE, tid, 0, uintptr(options))
}

func interrupt(tid int) error { return ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0) }

func detach(tid, sig int) error {
	return ptrace(unix.PTRACE_DETACH, tid, 0, uintptr(sig))
}

// toSyscall resumes tid to its next syscall stop, suppressing any signal.
func toSyscall(tid int) error { return ptrace(unix.PTRACE_SYSCALL, tid, 0, 0) }

func eventMsg(tid int) (uint64, error) {
	var msg uint64
	err := ptracePtr(unix.PTRACE_GETEVENTMSG, tid, 0, unsafe.Pointer(&msg))
	return msg, err
}

// getRegSet reads register set nt into buf and returns how many bytes the
// kernel filled in.
func getRegSet(tid, nt int, buf unsafe.Pointer, size int) (int, error) {
	iov := unix.Iovec{Base: (*byte)(buf)}
	iov.SetLen(size)
	err := ptracePtr(unix.PTRACE_GETREGSET, tid, uintptr(nt), unsafe.Pointer(&iov))
	return int(iov.Len), err
}

func setRegSet(tid, nt int, buf unsafe.Pointer, size int) error {
	iov := unix.Iovec{Base: (*byte)(buf)}
	iov.SetLen(size)
	return ptracePtr(unix.PTRACE_SETREGSET, tid, uintptr(nt), unsafe.Pointer(&iov))
}

// getFilter reads filter i of tid's seccomp chain (0 is the oldest) into
// prog, or, with prog nil, returns its length in instructions. ENOENT
// means there is no filter i.
func getFilter(tid, i int, prog []unix.SockFilter) (int, error) {
	var buf unsafe.Pointer
	if len(prog) > 0 {
		buf = unsafe.Pointer(&prog[0])
	}
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(tid),
		uintptr(i), uintptr(buf), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// readFilter reads filter i of tid's seccomp chain (0 is the oldest):
// its length, then the program (the kernel writes it whole).
func readFilter(tid, i int) ([]unix.SockFilter, error) {
	n, err := getFilter(tid, i, nil)
	if err != nil {
		return nil, err
	}
	prog := make([]unix.SockFilter, n)
	if n > 0 {
		if _, err := getFilter(tid, i, prog); err != nil {
			return nil, err
		}
	}
	return prog, nil
}

// getSigmask and setSigmask read and set the blocked signals of a
// stopped thread (64 signals: a sigset_t of the kernel's on x86_64 and
// aarch64).
func getSigmask(tid int) (uint64, error) {
	var m uint64
	err := ptracePtr(unix.PTRACE_GETSIGMASK, tid, 8, unsafe.Pointer(&m))
	return m, err
}

func setSigmask(tid int, m uint64) error {
	return ptracePtr(unix.PTRACE_SETSIGMASK, tid, 8, unsafe.Pointer(&m))
}
