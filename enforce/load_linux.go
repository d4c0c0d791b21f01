//go:build linux

package enforce

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// sigURG is the signal that CompilePass lets through.
const sigURG = uint32(unix.SIGURG)

// Load installs insns as a seccomp filter of the calling thread with the
// given SECCOMP_FILTER_FLAG_* flags (unix.SECCOMP_FILTER_FLAG_TSYNC to
// spread it to every thread of the process, ..._NEW_LISTENER for a user
// notification fd, and so on). It sets no_new_privs first, which a filter
// needs when the caller lacks CAP_SYS_ADMIN.
//
// Both no_new_privs and the filter are per thread: the caller must hold
// runtime.LockOSThread from before Load until it execs or exits, or the Go
// scheduler may run the rest of its goroutine on a thread without them.
//
// It returns the listener fd when flags ask for NEW_LISTENER, else -1.
// TSYNC together with NEW_LISTENER needs TSYNC_ESRCH as well (Linux 5.7).
// Errors wrap the syscall.Errno of the failing call.
func Load(insns []bpf.Instruction, flags uint) (listener int, err error) {
	prog, err := Raw(insns)
	if err != nil {
		return -1, err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}

	if err := seccomp.SetNoNewPrivs(); err != nil {
		return -1, fmt.Errorf("enforce: set no_new_privs: %w", err)
	}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP,
		unix.SECCOMP_SET_MODE_FILTER, uintptr(flags),
		uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return -1, fmt.Errorf("enforce: seccomp(SET_MODE_FILTER, %#x): %w",
			flags, errno)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
		return -1, nil
	}
	return int(r), nil
}

// Raw assembles insns into the sock_filter array that seccomp(2) takes, and
// checks its length (1 to BPF_MAXINSNS).
func Raw(insns []bpf.Instruction) ([]unix.SockFilter, error) {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("enforce: assemble filter: %w", err)
	}
	if len(raw) == 0 || len(raw) > bpfMaxInsns {
		return nil, fmt.Errorf("enforce: filter of %d instructions: %w",
			len(raw), syscall.EINVAL)
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}
