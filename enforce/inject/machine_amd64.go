package inject

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
)

type regs = x86Regs

var (
	nums        = x86Nums
	auditArch   = arch.AuditArchX86_64
	syscallInsn = x86Syscall
)

const redZone = x86RedZone

// state is everything of a thread that an injection changes and must
// put back: on x86_64, the general registers, orig_rax among them.
type state struct {
	regs regs
}

func getState(tid int) (state, error) {
	var st state
	err := ptracePtr(unix.PTRACE_GETREGS, tid, 0, unsafe.Pointer(&st.regs))
	return st, err
}

func setState(tid int, st *state) error {
	return ptracePtr(unix.PTRACE_SETREGS, tid, 0, unsafe.Pointer(&st.regs))
}

// setCall loads tid's registers for an injected call, starting from base.
func setCall(tid int, base *state, pc uint64, nr int, args [6]uint64) error {
	r := base.regs.withCall(pc, nr, args)
	return ptracePtr(unix.PTRACE_SETREGS, tid, 0, unsafe.Pointer(&r))
}

// checkEntry runs at the syscall-entry stop of the injected call nr with
// args. On x86_64 nothing changes the number on the way: orig_rax = -1
// keeps the kernel's restart logic away (see machine_arm64.go for
// aarch64). A call that is not the one set up (madeCall: the instruction
// at the injection's pc was rewritten) does not run: errForeignCall.
func checkEntry(tid int, base *state, nr int, args [6]uint64, first bool) error {
	var r regs
	if err := ptracePtr(unix.PTRACE_GETREGS, tid, 0, unsafe.Pointer(&r)); err != nil {
		return err
	}
	if r.madeCall(nr, args, r.Rip) {
		return nil
	}
	r.OrigRax = ^uint64(0) // no call: the kernel skips it
	if err := ptracePtr(unix.PTRACE_SETREGS, tid, 0, unsafe.Pointer(&r)); err != nil {
		return err
	}
	return errForeignCall
}

// getResult reads the return value at a syscall-exit stop.
func getResult(tid int) (int64, error) {
	var r regs
	err := ptracePtr(unix.PTRACE_GETREGS, tid, 0, unsafe.Pointer(&r))
	return r.result(), err
}

// archStub returns the stub of stubRun for a seccomp call with flags and
// the sock_fprog at fprog, the dumpable flag stored at dumpSlot. Single
// steps over the syscall instruction work on x86_64 as stubRun needs them
// (see step).
func archStub(flags uint32, fprog, dumpSlot uint64) (stubImage, bool) {
	return x86Stub(nums, flags, fprog, dumpSlot), haveStub
}

// haveStub tells whether archStub has a stub for this architecture.
const haveStub = true

// callAgain has stopped thread th, when its stop interrupted a sleep that
// the kernel would go on with through restart_syscall and its filters may
// answer that, make the call itself again (regs.restartWhole). The kernel
// decides on the restart after the stop, from the return value the tracer
// sets.
func (t *tracer) callAgain(th *thread) error {
	st, err := getState(th.tid)
	if err != nil || !st.regs.restartWhole() || !chainHarmsRestart(th.tid) {
		return err
	}
	return setState(th.tid, &st)
}
