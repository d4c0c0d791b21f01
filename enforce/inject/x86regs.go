package inject

// x86Regs mirrors struct user_regs_struct of x86_64 <sys/user.h>, the
// layout PTRACE_GETREGS and PTRACE_SETREGS use. It is defined here rather
// than taken from x/sys so that its pure parts are tested on every GOARCH.
type x86Regs struct {
	R15, R14, R13, R12, Rbp, Rbx, R11, R10, R9, R8    uint64
	Rax, Rcx, Rdx, Rsi, Rdi, OrigRax, Rip, Cs, Eflags uint64
	Rsp, Ss, FsBase, GsBase, Ds, Es, Fs, Gs           uint64
}

// x86UserCS is the code segment of 64-bit user mode (__USER_CS). A task
// running 32-bit code has 0x23 there, and is refused.
const x86UserCS = 0x33

// x86Syscall is the `syscall` instruction, 0f 05.
var x86Syscall = insn{code: []byte{0x0f, 0x05}, align: 1}

// x86Nums are the x86_64 numbers of the calls the injector makes.
var x86Nums = sysnums{mmap: 9, mprotect: 10, munmap: 11, close: 3, prctl: 157, seccomp: 317,
	clone: 56, exit: 60, restart: 219}

// withCall returns r set up to make system call nr with args by running
// the syscall instruction at pc. OrigRax is -1 so that the kernel, on the
// way back to user mode, does not take the call that was interrupted
// for one to restart. Rcx is 0, which the syscall instruction replaces
// with its return address (madeCall). Only the registers the ABI reads
// are changed otherwise.
func (r x86Regs) withCall(pc uint64, nr int, args [6]uint64) x86Regs {
	r.Rip = pc
	r.Rax = uint64(nr)
	r.OrigRax = ^uint64(0)
	r.Rcx = 0
	r.Rdi, r.Rsi, r.Rdx = args[0], args[1], args[2]
	r.R10, r.R8, r.R9 = args[3], args[4], args[5]
	return r
}

// madeCall reports whether r, at the entry of a system call or after a
// single step over an instruction, shows the 64-bit call nr with args
// made by a syscall instruction that returns to past: the kernel sets
// OrigRax to the number at entry, and the instruction leaves its return
// address in Rcx. An instruction put in the syscall's place shows
// neither (OrigRax stays -1, Rcx 0); int $0x80, a 32-bit call of the
// same number, shows no return address (adversary helper-81 rewrote the
// instruction the injection steps over, so that the daemon's calls did
// not run, and sent the helper thread, with the new listener, into its
// own code).
func (r *x86Regs) madeCall(nr int, args [6]uint64, past uint64) bool {
	return int64(r.OrigRax) == int64(nr) && r.Rcx == past && r.Rip == past &&
		r.Rdi == args[0] && r.Rsi == args[1] && r.Rdx == args[2] &&
		r.R10 == args[3] && r.R8 == args[4] && r.R9 == args[5]
}

// result is the return value of a call at its syscall-exit stop: a
// value, or a negated errno in -4095..-1.
func (r *x86Regs) result() int64 { return int64(r.Rax) }

// native reports whether the task runs 64-bit code.
func (r *x86Regs) native() bool { return r.Cs == x86UserCS }

// stack is the stack pointer.
func (r *x86Regs) stack() uint64 { return r.Rsp }

// ip is the program counter.
func (r *x86Regs) ip() uint64 { return r.Rip }

// candidates are where the syscall instruction that the task stopped in or
// after would be; none when it is not in a system call. A task stopped
// at a system call's end has Rip just past the instruction.
func (r *x86Regs) candidates() []uint64 {
	if int64(r.OrigRax) < 0 || r.Rip < 2 {
		return nil
	}
	return []uint64{r.Rip - 2}
}

// restartWhole makes a task stopped in a call that the kernel would go on
// with through restart_syscall (a sleep: nanosleep, a poll or futex with
// a timeout; -ERESTART_RESTARTBLOCK) make the call itself again instead
// (-ERESTARTNOINTR: the same number and arguments), and reports whether it
// changed anything. The call starts over (a relative sleep from its full
// length), but no filter of the process's own judges a restart_syscall
// it was not written for.
func (r *x86Regs) restartWhole() bool {
	const restartBlock, restartNoIntr int64 = -516, -513
	if int64(r.OrigRax) < 0 || int64(r.Rax) != restartBlock {
		return false
	}
	nointr := restartNoIntr
	r.Rax = uint64(nointr)
	return true
}

// execed reports whether the last system call of the task was a
// successful execve or execveat (orig_rax is the kernel's record of the
// last call, which only ptrace can change).
func (r *x86Regs) execed() bool {
	return (r.OrigRax == x86Execve || r.OrigRax == x86Execveat) && r.Rax == 0
}

// x86Execve and x86Execveat are the x86_64 numbers of execve and execveat.
const (
	x86Execve   = 59
	x86Execveat = 322
)

// x86RedZone is the area below the stack pointer that leaf code may use
// without moving it (System V AMD64 ABI).
const x86RedZone = 128
