package inject

import "bytes"

// insn is a machine instruction to look for in tracee memory.
type insn struct {
	code  []byte
	align int
}

// sysnums are the numbers of the system calls the injector makes, and of
// restart_syscall, which a process makes after a hold interrupted its
// sleep.
type sysnums struct {
	mmap, mprotect, munmap, close, prctl, seccomp, clone, exit, restart int
}

// find returns the address of the first occurrence of in in mem, which
// holds the tracee's bytes from address base on, at an address that is a
// multiple of the instruction's alignment.
func (in insn) find(mem []byte, base uint64) (uint64, bool) {
	off := 0
	for {
		i := bytes.Index(mem[off:], in.code)
		if i < 0 {
			return 0, false
		}
		addr := base + uint64(off+i)
		if addr%uint64(in.align) == 0 {
			return addr, true
		}
		off += i + 1
	}
}

// is reports whether mem starts with the instruction.
func (in insn) is(mem []byte) bool { return bytes.HasPrefix(mem, in.code) }
