// Package arch holds the syscall tables and ABI facts of the architectures
// cgsyscall supports: x86_64 (with its i386 and x32 ABIs) and aarch64 (with
// AArch32). Numbers in control files are always those of the native ABI; the
// compat ABIs are judged by mapping each compat syscall to its native
// counterpart by name.
package arch

// ABI is one system-call ABI the kernel of an architecture accepts.
type ABI struct {
	Name      string // "x86_64", "i386", "x32", "aarch64", "arm"
	AuditArch uint32 // AUDIT_ARCH_* value seen in seccomp_data.arch
	// NRMax is the highest syscall number of the table; numbers 0..NRMax
	// are valid in control files, holes included.
	NRMax int

	names  []string       // number -> name, "" for a hole
	byName map[string]int // name -> number
}

// SyscallName returns the name of syscall nr, or false for a hole or a
// number outside the table.
func (a *ABI) SyscallName(nr int) (string, bool) {
	if nr < 0 || nr >= len(a.names) || a.names[nr] == "" {
		return "", false
	}
	return a.names[nr], true
}

// SyscallNumber returns the number of the syscall called name.
func (a *ABI) SyscallNumber(name string) (int, bool) {
	nr, ok := a.byName[name]
	return nr, ok
}

// Arch is one architecture: its native ABI and the compat ABIs its kernel
// also accepts.
type Arch struct {
	Name   string // "x86_64" or "aarch64"
	Native *ABI
	Compat *ABI // i386 on x86_64, AArch32 ("arm") on aarch64

	// X32Bit is set in seccomp_data.nr for every x32 call (x86_64 only;
	// 0 elsewhere). x32 calls carry the x86_64 audit arch.
	X32Bit uint32

	// CompatNative maps each compat number to the native number of the
	// syscall of the same meaning (found by name), or -1 where there is
	// none. Its length is Compat.NRMax+1.
	CompatNative []int

	// Mux lists the compat calls that multiplex several syscalls through a
	// sub-call argument (socketcall, ipc on i386 and AArch32).
	Mux []Mux

	// NeverDeny holds the native numbers no group may deny, CompatAllow the
	// compat numbers a filter always lets through (their twins).
	NeverDeny   []int
	CompatAllow []int
}

// Mux describes a compat multiplexer such as socketcall(2) or ipc(2).
type Mux struct {
	Nr   int            // compat number of the multiplexer
	Arg  int            // argument index that holds the sub-call
	Mask uint32         // applied to the argument's low 32 bits (ipc keeps a version above 16 bits)
	Sub  map[uint32]int // sub-call -> native number, -1 where there is none
}
