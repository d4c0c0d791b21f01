// Package enforce turns a deny set of native syscall numbers into a
// seccomp-BPF program, judges single calls the same way in Go (for the
// supervisor that answers seccomp user notifications), and loads programs
// into the kernel.
//
// The filter judges every ABI the kernel of an architecture accepts: the
// native one by number, the compat one (i386 on x86_64, AArch32 on aarch64)
// by mapping each compat number to its native counterpart, and the x32 ABI
// of x86_64 as a whole. Only the two little-endian architectures of package
// arch are supported: argument words are loaded in little-endian order.
package enforce

import (
	"fmt"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Mode chooses what a denied call gets from the filter.
type Mode int

const (
	// ModeErrno makes the kernel answer a denied call with ENOSYS
	// (SECCOMP_RET_ERRNO|ENOSYS) without waking anyone.
	ModeErrno Mode = iota
	// ModeNotify hands a denied call to a supervisor through seccomp user
	// notification (SECCOMP_RET_USER_NOTIF, Linux 5.0). When no listener
	// is attached the kernel answers the call with ENOSYS itself.
	ModeNotify
)

// String names the mode as it appears in logs.
func (m Mode) String() string {
	switch m {
	case ModeErrno:
		return "errno"
	case ModeNotify:
		return "notify"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Return values of a seccomp filter (include/uapi/linux/seccomp.h).
const (
	retAllow  uint32 = 0x7fff0000 // SECCOMP_RET_ALLOW
	retErrno  uint32 = 0x00050000 // SECCOMP_RET_ERRNO, errno in the low 16 bits
	retNotify uint32 = 0x7fc00000 // SECCOMP_RET_USER_NOTIF
	retENOSYS        = retErrno | uint32(syscall.ENOSYS)
)

// Offsets into struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// argLow is the offset of the low 32 bits of argument i. Both supported
// architectures are little-endian, so the low word comes first.
func argLow(i int) uint32 { return uint32(offArgs + 8*i) }

// denyAction is the return value of a denied call in mode m.
func denyAction(m Mode) (uint32, error) {
	switch m {
	case ModeErrno:
		return retENOSYS, nil
	case ModeNotify:
		return retNotify, nil
	}
	return 0, fmt.Errorf("enforce: unknown mode %d: %w", int(m), syscall.EINVAL)
}

// Compile builds the seccomp filter of architecture a that denies the
// native syscall numbers in deny (in any order, duplicates allowed) with
// the action of mode.
//
// The program checks seccomp_data.arch first:
//   - Native ABI: on x86_64 every x32 number (X32Bit set) is denied when
//     the deny set is non-empty. All other numbers go through a balanced
//     tree of range comparisons on the number alone: denied numbers get the
//     deny action, every other number, including those past NRMax that the
//     kernel rejects by itself, is allowed. The native path loads no
//     argument, so the kernel's per-syscall action cache applies to it,
//     with one exception: a denied prctl reads its option and lets
//     prctl(PR_SET_NO_NEW_PRIVS) through, which only ever restricts its
//     caller and which the daemon injects to hold a process that dropped
//     root (package hold); CompilePass adds tgkill and tkill with SIGURG
//     and prlimit64 of the caller itself.
//   - Compat ABI: a.CompatAllow numbers are allowed; each multiplexer of
//     a.Mux loads its sub-call (low 32 bits of the argument, masked) and
//     judges the native counterpart of the sub-call; any other compat number
//     is judged as a.CompatNative maps it. Sub-calls and compat numbers
//     with no native counterpart, unknown sub-call values and numbers past
//     the compat table are denied when the deny set is non-empty.
//   - Any other audit arch is answered with ENOSYS (SECCOMP_RET_ERRNO) when
//     the deny set is non-empty, in both modes: a supervisor could not judge
//     such a call anyway, so it is never woken for one.
//
// Numbers of a.NeverDeny are allowed even when deny names them, as a second
// line of defence behind the policy's own refusal. An empty deny set, or one
// holding only such numbers, yields a filter that allows everything.
// A number outside 0..a.Native.NRMax fails with ERANGE.
func Compile(a *arch.Arch, deny []int, mode Mode) ([]bpf.Instruction, error) {
	return CompilePass(a, deny, mode, nil)
}

// CompilePass is Compile with passes: a native call of a number of pass
// that deny denies runs (SECCOMP_RET_ALLOW) for one value of one argument
// (its low 32 bits), and gets the deny action for any other. pass may name
// tgkill and tkill, which pass with the signal SIGURG (Go's runtime
// preempts its goroutines by sending SIGURG to its own threads with
// tgkill, many times a second), and prlimit64, which passes with pid 0,
// the caller itself (Go's runtime reads its limits in every process it
// starts); EINVAL for any other number. Numbers that deny does not deny are
// allowed anyway. Only their paths load the argument, so the kernel's
// action cache keeps every other number. Compat calls of the same
// syscalls get no pass.
func CompilePass(a *arch.Arch, deny []int, mode Mode, pass []int) ([]bpf.Instruction, error) {
	return compile(a, deny, mode, pass, false)
}

// CompileLayer is CompilePass for a layer that the daemon loads into a
// running process (package hold), which keeps its process from making a
// child that is not its own: on every ABI, a clone whose flags hold
// CLONE_PARENT without CLONE_THREAD fails with EPERM, and clone3, whose
// flags a filter cannot read (they are in memory), fails with ENOSYS, after
// which the C libraries fall back to clone. Whether deny denies them
// decides the rest of their calls as usual. The daemon follows a held
// process's children by their descent from it; a sibling made so would
// descend from a process that may not carry the layer at all. clone loads
// an argument, so the kernel's action cache no longer keeps it. In
// ModeNotify, prctl(PR_SET_CHILD_SUBREAPER) is handed over where deny
// allows prctl (where it denies prctl, every option but
// PR_SET_NO_NEW_PRIVS and PR_GET_CHILD_SUBREAPER is, the two the daemon
// injects): the daemon learns which processes may receive orphans, which
// leave the parent line as siblings would.
func CompileLayer(a *arch.Arch, deny []int, mode Mode, pass []int) ([]bpf.Instruction, error) {
	return compile(a, deny, mode, pass, true)
}

func compile(a *arch.Arch, deny []int, mode Mode, pass []int,
	refuse bool) ([]bpf.Instruction, error) {
	p, err := newPlan(a, deny)
	if err != nil {
		return nil, err
	}
	p.refuse = refuse
	act, err := denyAction(mode)
	if err != nil {
		return nil, err
	}
	gates, err := p.gates(pass, act)
	if err != nil {
		return nil, err
	}
	return p.emit(act, gates)
}
