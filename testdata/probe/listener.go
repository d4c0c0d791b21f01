package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/unotif"
)

// sockFilter and sockFprog are struct sock_filter and struct sock_fprog.
type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type sockFprog struct {
	len    uint16
	filter *sockFilter
}

// newListener loads, on the calling thread, a filter that allows every call
// with SECCOMP_FILTER_FLAG_NEW_LISTENER: what a held process would do to
// answer its own calls. It returns the raw result: a listener descriptor
// (closed again at once) on success, -EBUSY while a listener of its chain
// is open anywhere.
func newListener() (int64, error) {
	return loadAllowAll(1 << 3) // SECCOMP_FILTER_FLAG_NEW_LISTENER
}

// allowAll loads, for every thread (SECCOMP_FILTER_FLAG_TSYNC), a filter
// of one instruction that allows every call and has no listener: the
// cheapest filter the kernel can run, whose per-number results its action
// cache keeps. It returns the raw result, 0 on success. Benchmarks compare
// a loop under it with the same loop under cgsyscall's layer: the part of
// a filtered call's cost that any seccomp filter pays.
func allowAll() (int64, error) {
	return loadAllowAll(1) // SECCOMP_FILTER_FLAG_TSYNC
}

// loadAllowAll sets no_new_privs and loads the allow-all filter with
// flags; a listener it gets is closed at once, and its number returned.
func loadAllowAll(flags uintptr) (int64, error) {
	// BPF_RET|BPF_K, SECCOMP_RET_ALLOW.
	r, err := load([]sockFilter{{code: 0x06, k: 0x7fff0000}}, flags)
	if err == nil && r > 0 && flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		syscall.Close(int(r))
	}
	return r, err
}

// load sets no_new_privs and loads insns with flags (seccomp(2),
// SECCOMP_SET_MODE_FILTER). It returns the raw result: 0, or a listener,
// or the negative errno.
func load(insns []sockFilter, flags uintptr) (int64, error) {
	nr, err := number(table, "seccomp")
	if err != nil {
		return 0, err
	}
	prctl, err := number(table, "prctl")
	if err != nil {
		return 0, err
	}
	if _, _, e := syscall.RawSyscall6(uintptr(prctl), unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0,
		0); e != 0 {
		return -int64(e), nil
	}
	prog := sockFprog{len: uint16(len(insns)), filter: &insns[0]}
	r, _, e := syscall.RawSyscall6(uintptr(nr), unix.SECCOMP_SET_MODE_FILTER, flags,
		uintptr(unsafe.Pointer(&prog)), 0, 0, 0)
	if e != 0 {
		return -int64(e), nil
	}
	return int64(int(r)), nil
}

// killSeccomp loads, on every thread (TSYNC), a filter that kills the
// process for seccomp(2) and allows every other call, as a service that
// systemd runs with SystemCallFilter=@system-service has (seccomp is in
// none of its groups). It returns the load's result.
func killSeccomp() (int64, error) {
	nr, err := number(table, "seccomp")
	if err != nil {
		return 0, err
	}
	return load(oneCall(uint32(nr), unix.SECCOMP_RET_KILL_PROCESS),
		unix.SECCOMP_FILTER_FLAG_TSYNC)
}

// failDumpable1 loads, on every thread, a filter that fails
// prctl(PR_SET_DUMPABLE, 1) with EPERM and allows the rest (helper-25: a
// hold's load went in, and then putting the flag back failed). The
// arguments' low words are compared, little-endian.
func failDumpable1() (int64, error) {
	nr, err := number(table, "prctl")
	if err != nil {
		return 0, err
	}
	prog := []sockFilter{
		{code: 0x20, k: 0},                                  // nr
		{code: 0x15, jt: 0, jf: 4, k: uint32(nr)},           // prctl?
		{code: 0x20, k: 16},                                 // args[0]
		{code: 0x15, jt: 0, jf: 2, k: unix.PR_SET_DUMPABLE}, // PR_SET_DUMPABLE?
		{code: 0x20, k: 24},                                 // args[1]
		{code: 0x15, jt: 1, jf: 0, k: 1},                    // 1?
		{code: 0x06, k: unix.SECCOMP_RET_ALLOW},             // no
		{code: 0x06, k: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	}
	return load(prog, unix.SECCOMP_FILTER_FLAG_TSYNC)
}

// retFor runs "NAME:ACTION" (see the package comment).
func retFor(s string) (int64, error) {
	name, action, ok := strings.Cut(s, ":")
	nr, known := table.SyscallNumber(name)
	if !ok || !known {
		return 0, fmt.Errorf("retfor:%s: want retfor:NAME:ACTION", s)
	}
	a, err := strconv.ParseUint(action, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("retfor:%s: %v", s, err)
	}
	return load(oneCall(uint32(nr), uint32(a)), unix.SECCOMP_FILTER_FLAG_TSYNC)
}

// oneCall is a filter that returns action for number nr and allows the
// rest.
func oneCall(nr, action uint32) []sockFilter {
	return []sockFilter{
		{code: 0x20, k: 0},                // BPF_LD|BPF_W|BPF_ABS, nr
		{code: 0x15, jt: 0, jf: 1, k: nr}, // BPF_JMP|BPF_JEQ|BPF_K
		{code: 0x06, k: action},           // BPF_RET
		{code: 0x06, k: unix.SECCOMP_RET_ALLOW},
	}
}

// notifyGetppid loads, on every thread (TSYNC), a filter that hands
// getppid(2) to a listener and allows the rest. Without a listener
// (answer false), the process's getppid fails with ENOSYS from then on.
// With one (answer true), a goroutine of its own answers every call
// handed on with CONTINUE: a process that answers its own calls, as a
// cgsyscall layer's copy would let it. Returns the load's result.
func notifyGetppid(answer bool) (int64, error) {
	getppid, err := number(table, "getppid")
	if err != nil {
		return 0, err
	}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_TSYNC)
	if answer {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	r, err := load(oneCall(uint32(getppid), unix.SECCOMP_RET_USER_NOTIF), flags)
	if err == nil && answer && r > 0 {
		go answerAll(int(r))
	}
	return r, err
}

// answerAll lets every call handed to listener fd run, until the listener
// fails.
func answerAll(fd int) {
	for {
		var n unotif.Notif
		err := unotif.Recv(fd, &n)
		if err == syscall.EINTR || err == syscall.ENOENT {
			continue
		}
		if err != nil {
			return
		}
		unotif.Continue(fd, n.ID)
	}
}
