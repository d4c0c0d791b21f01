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
// (prctl(PR_GET_DUMPABLE)), stores it at dumpSlot, and clears it if it was
// 1 (see injection.undump: no process of the user may then copy the new
// listener from the helper's table); then it calls
// seccomp(SECCOMP_SET_MODE_FILTER, flags, fprog), leaves the result in rax
// and stops at the second int3; run on by itself, it exits (exit(0) ends
// one thread), and its file table with the listener goes with it.
func x86Stub(n sysnums, flags uint32, fprog, dumpSlot uint64) stubImage {
	le := binary.LittleEndian
	c := []byte{
		0x0f, 0x05, //       syscall          (clone)
		0x48, 0x85, 0xc0, // test %rax,%rax
		0x74, 0x03, //       je helper
		0xcc,       //       int3             (parent)
		0x0f, 0x0b, //       ud2
	}
	// helper:
	c = append(c, 0xb8) // mov $prctl,%eax
	c = le.AppendUint32(c, uint32(n.prctl))
	c = append(c, 0xbf, prGetDumpable, 0, 0, 0) // mov $PR_GET_DUMPABLE,%edi
	c = append(c, 0x0f, 0x05)                   // syscall
	c = append(c, 0x48, 0xa3)                   // movabs %rax,dumpSlot
	c = le.AppendUint64(c, dumpSlot)
	c = append(c, 0x48, 0x83, 0xf8, 0x01) // cmp $1,%rax
	c = append(c, 0x75, 0x0e)             // jne seccomp (the next 14 bytes)
	c = append(c, 0xb8)                   // mov $prctl,%eax
	c = le.AppendUint32(c, uint32(n.prctl))
	c = append(c, 0xbf, prSetDumpable, 0, 0, 0) // mov $PR_SET_DUMPABLE,%edi
	c = append(c, 0x31, 0xf6, 0x0f, 0x05)       // xor %esi,%esi; syscall
	// seccomp:
	c = append(c, 0xb8) // mov $seccompNr,%eax
	c = le.AppendUint32(c, uint32(n.seccomp))
	c = append(c, 0xbf, 1, 0, 0, 0) // mov $SECCOMP_SET_MODE_FILTER,%edi
	c = append(c, 0xbe)             // mov $flags,%esi
	c = le.AppendUint32(c, flags)
	c = append(c, 0x48, 0xba) // movabs $fprog,%rdx
	c = le.AppendUint64(c, fprog)
	c = append(c, 0x0f, 0x05) // syscall (seccomp)
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
