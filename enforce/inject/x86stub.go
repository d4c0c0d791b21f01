package inject

import "encoding/binary"

// stubImage is the code that [injection.stubRun] writes into the scratch
// page, with where its two traps leave the program counter.
type stubImage struct {
	code []byte
	// parentStop and helperStop are offsets in code of the instruction
	// after the trap (int3) that the injecting thread and the helper
	// thread stop at.
	parentStop, helperStop int
}

// x86Stub returns the x86_64 stub. The injecting thread enters it at
// offset 0 with registers set for clone(helperFlags, 0, ...): the syscall
// instruction there makes the helper thread, which starts right after it
// with rax = 0. The parent, with the helper's TID (or -errno) in rax,
// stops at the first int3; should it ever run on (a tracer that died),
// ud2 ends it. The helper reads the process's dumpable flag
// (prctl(PR_GET_DUMPABLE)) and stores the result at dumpSlot; if it was 1
// it clears it and stores that call's result at dumpSlot+8 (see
// injection.undump: no process of the user may then copy the new listener
// from the helper's table). Only when both went right (a flag of 0, 1 or
// 2, and a clear that returned 0) does it call seccomp(SECCOMP_SET_MODE_
// FILTER, flags, fprog); either way it stops at the second int3, where the
// tracer reads the two slots before it takes rax for the load's result.
// Run on by itself, it exits (exit(0) ends one thread), and its file table
// with the listener goes with it.
func x86Stub(n sysnums, flags uint32, fprog, dumpSlot uint64) stubImage {
	le := binary.LittleEndian
	c := []byte{
		0x0f, 0x05, //       syscall          (clone)
		0x48, 0x85, 0xc0, // test %rax,%rax
		0x74, 0x03, //       je helper
		0xcc,       //       int3             (parent)
		0x0f, 0x0b, //       ud2
	}
	prctl := func(op byte) []byte { // mov $prctl,%eax; mov $op,%edi
		b := le.AppendUint32([]byte{0xb8}, uint32(n.prctl))
		return append(b, 0xbf, op, 0, 0, 0)
	}
	store := func(at uint64) []byte { // movabs %rax,at
		return le.AppendUint64([]byte{0x48, 0xa3}, at)
	}
	load := []byte{0xb8} // mov $seccompNr,%eax
	load = le.AppendUint32(load, uint32(n.seccomp))
	load = append(load, 0xbf, 1, 0, 0, 0) // mov $SECCOMP_SET_MODE_FILTER,%edi
	load = append(load, 0xbe)             // mov $flags,%esi
	load = le.AppendUint32(load, flags)
	load = append(load, 0x48, 0xba) // movabs $fprog,%rdx
	load = le.AppendUint64(load, fprog)
	load = append(load, 0x0f, 0x05)                               // syscall (seccomp)
	clear := append(prctl(prSetDumpable), 0x31, 0xf6, 0x0f, 0x05) // xor %esi,%esi; syscall
	clear = append(clear, store(dumpSlot+8)...)
	clear = append(clear, 0x48, 0x85, 0xc0)                               // test %rax,%rax
	clear = le.AppendUint32(append(clear, 0x0f, 0x85), uint32(len(load))) // jnz trap
	// helper:
	c = append(c, prctl(prGetDumpable)...)
	c = append(c, 0x0f, 0x05) // syscall
	c = append(c, store(dumpSlot)...)
	c = append(c, 0x48, 0x83, 0xf8, 0x02) // cmp $2,%rax
	past := 6 + 4 + 2 + len(clear) + len(load)
	c = le.AppendUint32(append(c, 0x0f, 0x87), uint32(past-6)) // ja trap (an error)
	c = append(c, 0x48, 0x83, 0xf8, 0x01)                      // cmp $1,%rax
	c = append(c, 0x75, byte(len(clear)))                      // jne load
	c = append(c, clear...)
	c = append(c, load...)
	helperStop := len(c) + 1
	c = append(c, 0xcc) // int3 (helper)
	c = append(c, 0xb8) // mov $exitNr,%eax
	c = le.AppendUint32(c, uint32(n.exit))
	c = append(c, 0x31, 0xff, 0x0f, 0x05, 0x0f, 0x0b) // xor %edi,%edi; syscall; ud2
	return stubImage{code: c, parentStop: 8, helperStop: helperStop}
}

// PR_GET_DUMPABLE and PR_SET_DUMPABLE, as the stub's immediates.
const (
	prGetDumpable = 3
	prSetDumpable = 4
)
