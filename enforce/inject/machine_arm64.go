package inject

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
)

type regs = a64Regs

var (
	nums        = a64Nums
	auditArch   = arch.AuditArchAArch64
	syscallInsn = a64Svc
)

const redZone = a64RedZone

// state is everything of a thread that an injection changes and must
// put back: on aarch64, user_pt_regs, the syscall number, which the
// kernel keeps outside them, and the SVE registers. A system call drops
// a thread's SVE state to its FPSIMD part (the low 128 bits of the Z
// registers; the predicates and the rest are zeroed), which code
// interrupted anywhere, say in the middle of an SVE memcpy, does not
// expect: a held process then went on with its data half copied and
// crashed (busybox's startup in the aarch64 VM, TLS zeroed). The SME
// state (streaming mode, ZA) is not saved: a thread interrupted in
// streaming mode loses it to the first injected call.
type state struct {
	regs regs
	nr   int32
	sve  []byte // NT_ARM_SVE as read; nil without SVE
}

func getState(tid int) (state, error) {
	var st state
	n, err := getRegSet(tid, unix.NT_PRSTATUS, unsafe.Pointer(&st.regs),
		int(unsafe.Sizeof(st.regs)))
	if err != nil {
		return st, err
	}
	if n != int(unsafe.Sizeof(st.regs)) {
		// An AArch32 task has the shorter compat register set.
		st.regs.Pstate |= a64PSRMode32
		return st, nil
	}
	if _, err = getRegSet(tid, unix.NT_ARM_SYSTEM_CALL, unsafe.Pointer(&st.nr), 4); err != nil {
		return st, err
	}
	st.sve, err = getSVE(tid)
	return st, err
}

// getSVE reads the SVE registers of tid (NT_ARM_SVE): nil where the CPU
// or the kernel has none (EINVAL).
func getSVE(tid int) ([]byte, error) {
	buf := make([]byte, sveGuess)
	for {
		n, err := getRegSet(tid, ntARMSVE, unsafe.Pointer(&buf[0]), len(buf))
		if err == unix.EINVAL || err == unix.ENODEV {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		size, max, ok := sveSizes(buf[:n])
		switch {
		case !ok:
			return nil, unix.EIO
		case size <= n:
			return buf[:size], nil
		case max <= len(buf):
			return nil, unix.EIO
		}
		buf = make([]byte, max)
	}
}

func setState(tid int, st *state) error {
	err := setRegSet(tid, unix.NT_PRSTATUS, unsafe.Pointer(&st.regs),
		int(unsafe.Sizeof(st.regs)))
	if err != nil {
		return err
	}
	nr := st.nr
	if err := setRegSet(tid, unix.NT_ARM_SYSTEM_CALL, unsafe.Pointer(&nr), 4); err != nil {
		return err
	}
	if len(st.sve) > 0 {
		// A copy: the kernel takes the buffer as its own input only.
		sve := append([]byte(nil), st.sve...)
		return setRegSet(tid, ntARMSVE, unsafe.Pointer(&sve[0]), len(sve))
	}
	return nil
}

// setCall loads tid's registers for an injected call, starting from base.
// The pending syscall number is set to NO_SYSCALL, so that the kernel's
// restart logic on the way back to user mode leaves the call alone.
func setCall(tid int, base *state, pc uint64, nr int, args [6]uint64) error {
	r := base.regs.withCall(pc, nr, args)
	err := setRegSet(tid, unix.NT_PRSTATUS, unsafe.Pointer(&r), int(unsafe.Sizeof(r)))
	if err != nil {
		return err
	}
	no := int32(a64NoSyscall)
	return setRegSet(tid, unix.NT_ARM_SYSTEM_CALL, unsafe.Pointer(&no), 4)
}

// checkEntry runs at the syscall-entry stop of the injected call nr, the
// first of the injection when first is set. The aarch64 kernel decides
// how to restart an interrupted call in do_signal, partly before the stop
// in which the tracer found the thread (the call's arguments put back, Pc
// rewound to its svc) and partly after it: when the thread resumes with
// Pc still at that svc and the call had returned -ERESTART_RESTARTBLOCK,
// the kernel loads x8 with restart_syscall. The first injected call, made
// from that very svc, then arrives here as restart_syscall instead of nr
// (no later one can: the kernel decides so only on the way out of a
// signal stop). It is turned back into nr, and the saved state gets
// restart_syscall in x8, so that the restored thread goes on with what is
// left of the interrupted call (a sleep with its remaining time), as it
// would have without the injection. Any other number, or other arguments,
// mean that the call is not the one set up (the instruction at the
// injection's pc was rewritten: adversary helper-81): errForeignCall, and
// nothing runs (the number becomes NO_SYSCALL).
func checkEntry(tid int, base *state, nr int, args [6]uint64, first bool) error {
	var got int32
	if _, err := getRegSet(tid, unix.NT_ARM_SYSTEM_CALL, unsafe.Pointer(&got), 4); err != nil {
		return err
	}
	var r regs
	if _, err := getRegSet(tid, unix.NT_PRSTATUS, unsafe.Pointer(&r),
		int(unsafe.Sizeof(r))); err != nil {
		return err
	}
	same := [6]uint64(r.X[:6]) == args
	if int(got) == nr && same {
		return nil
	}
	want, err := int32(nr), error(nil)
	if first && got == a64RestartSyscall && same {
		base.regs.X[8] = a64RestartSyscall
	} else {
		want, err = a64NoSyscall, errForeignCall
	}
	if serr := setRegSet(tid, unix.NT_ARM_SYSTEM_CALL, unsafe.Pointer(&want), 4); serr != nil {
		return serr
	}
	return err
}

// getResult reads the return value at a syscall-exit stop.
func getResult(tid int) (int64, error) {
	var r regs
	_, err := getRegSet(tid, unix.NT_PRSTATUS, unsafe.Pointer(&r), int(unsafe.Sizeof(r)))
	return r.result(), err
}

// archStub: aarch64 has no stub yet, so every injection makes its calls
// one at a time (injection.run), with checkEntry at each entry stop.
func archStub(flags uint32, fprog, dumpSlot uint64) (stubImage, bool) {
	return stubImage{}, haveStub
}

const haveStub = false

// callAgain does nothing on aarch64. The kernel rewinds an interrupted call
// before the stop and loads x8 with restart_syscall after it, from what the
// call returned, which the tracer cannot see or change (see checkEntry).
// Tried: running the thread on to the entry of that restart_syscall and
// turning the number back into the interrupted call's. The detach that
// follows wakes the thread as for a signal (ptrace's unlink sets
// TIF_SIGPENDING on a traced task), so the sleep, made again, returned
// -ERESTART_RESTARTBLOCK at once, and the thread met restart_syscall all
// the same (TestRefusedSleeperSleepsOn, in the aarch64 VM). Skipping the
// call instead (number -1) would have the process's filters judge -1,
// which an allow-list kills for. A refused process whose own filters kill
// or fail restart_syscall is hurt here as a SIGSTOP and SIGCONT would hurt
// it (README).
func (t *tracer) callAgain(th *thread) error { return nil }
