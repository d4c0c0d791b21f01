package inject

import "encoding/binary"

// a64Regs mirrors struct user_pt_regs of <asm/ptrace.h> on aarch64, the
// NT_PRSTATUS register set. The syscall number is not in it: the kernel
// keeps it apart and ptrace reaches it through NT_ARM_SYSTEM_CALL.
type a64Regs struct {
	X      [31]uint64
	Sp     uint64
	Pc     uint64
	Pstate uint64
}

// a64PSRMode32 is PSR_MODE32_BIT: set while the task runs AArch32 code,
// which is refused.
const a64PSRMode32 = 0x10

// a64NoSyscall is NO_SYSCALL, the number a task has when it is not in a
// system call (or after the kernel dealt with restarting one).
const a64NoSyscall = -1

// a64RestartSyscall is __NR_restart_syscall, which the kernel puts in x8
// to continue a call that returned -ERESTART_RESTARTBLOCK.
const a64RestartSyscall = 128

// a64Svc is `svc #0`, d4000001, little-endian.
var a64Svc = insn{code: []byte{0x01, 0x00, 0x00, 0xd4}, align: 4}

// a64Nums are the aarch64 (asm-generic) numbers of the calls the injector
// makes.
var a64Nums = sysnums{mmap: 222, mprotect: 226, munmap: 215, close: 57, prctl: 167, seccomp: 277,
	clone: 220, exit: 93, restart: 128}

// withCall returns r set up to make system call nr with args by running
// the svc instruction at pc: x8 is the number, x0..x5 the arguments. x7
// is left alone on purpose: at syscall stops the kernel shows the tracer
// a marker in x7 and puts the saved value back itself, so a value written
// there would be lost and the restored set would differ.
func (r a64Regs) withCall(pc uint64, nr int, args [6]uint64) a64Regs {
	r.Pc = pc
	r.X[8] = uint64(nr)
	copy(r.X[:6], args[:])
	return r
}

// result is the return value of a call at its syscall-exit stop.
func (r *a64Regs) result() int64 { return int64(r.X[0]) }

// madeCall would tell, after a single step, whether the svc at the
// injection's pc made the call set up; aarch64 has no stub, and its calls
// are checked at their syscall-entry stops instead (checkEntry), so a
// single step, which no path takes here, is never taken for one.
func (r *a64Regs) madeCall(nr int, args [6]uint64, past uint64) bool { return false }

// native reports whether the task runs AArch64 code.
func (r *a64Regs) native() bool { return r.Pstate&a64PSRMode32 == 0 }

// stack is the stack pointer.
func (r *a64Regs) stack() uint64 { return r.Sp }

// ip is the program counter.
func (r *a64Regs) ip() uint64 { return r.Pc }

// candidates are guesses at a svc instruction next to where the task
// stopped: after the kernel rewound an interrupted call to restart it, Pc
// points at the svc itself; after a call that ended, just past it. The
// caller checks each against the tracee's memory.
func (r *a64Regs) candidates() []uint64 {
	if r.Pc < 4 {
		return []uint64{r.Pc}
	}
	return []uint64{r.Pc, r.Pc - 4}
}

// execed: on aarch64 the syscall number is not in the register set, so
// a thread is never taken for one that has just made an execve.
func (r *a64Regs) execed() bool { return false }

// a64RedZone: AAPCS64 has no red zone, but stay clear of a leaf frame.
const a64RedZone = 128

// ntARMSVE is NT_ARM_SVE of <linux/elf.h>: the SVE registers, behind a
// struct user_sve_header.
const ntARMSVE = 0x405

// sveGuess is a first buffer for NT_ARM_SVE, enough for a vector length
// of 2048 bits (the architecture's most) in the SVE layout.
const sveGuess = 16 << 10

// sveSizes reads the size of the whole register set and the most it can
// be from the user_sve_header at the start of b (u32 size, u32 max_size,
// u16 vl, u16 max_vl, u16 flags, u16 reserved).
func sveSizes(b []byte) (size, max int, ok bool) {
	if len(b) < 16 {
		return 0, 0, false
	}
	size = int(binary.LittleEndian.Uint32(b[0:]))
	max = int(binary.LittleEndian.Uint32(b[4:]))
	return size, max, size >= 16 && max >= size
}
