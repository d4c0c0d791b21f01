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
// ud2 ends it. The helper calls seccomp(SECCOMP_SET_MODE_FILTER, flags,
// fprog), leaves the result in rax and stops at the second int3; run on
// by itself, it exits (exit(0) ends one thread), and its file table with
// the listener goes with it.
func x86Stub(seccompNr, exitNr int, flags uint32, fprog uint64) stubImage {
	le := binary.LittleEndian
	c := []byte{
		0x0f, 0x05, //       syscall          (clone)
		0x48, 0x85, 0xc0, // test %rax,%rax
		0x74, 0x03, //       je helper
		0xcc,       //       int3             (parent)
		0x0f, 0x0b, //       ud2
	}
	// helper:
	c = append(c, 0xb8) // mov $seccompNr,%eax
	c = le.AppendUint32(c, uint32(seccompNr))
	c = append(c, 0xbf, 1, 0, 0, 0) // mov $SECCOMP_SET_MODE_FILTER,%edi
	c = append(c, 0xbe)             // mov $flags,%esi
	c = le.AppendUint32(c, flags)
	c = append(c, 0x48, 0xba) // movabs $fprog,%rdx
	c = le.AppendUint64(c, fprog)
	c = append(c, 0x0f, 0x05) // syscall (seccomp)
	helperStop := len(c) + 1
	c = append(c, 0xcc) // int3 (helper)
	c = append(c, 0xb8) // mov $exitNr,%eax
	c = le.AppendUint32(c, uint32(exitNr))
	c = append(c, 0x31, 0xff, 0x0f, 0x05, 0x0f, 0x0b) // xor %edi,%edi; syscall; ud2
	return stubImage{code: c, parentStop: 8, helperStop: helperStop}
}

// Offsets in the data block of the free stub (x86FreeStub), each a
// 64-bit word.
const (
	freeMain   = 0  // the main load's result, or freePending
	freeAfter  = 8  // the after load's result, or freePending
	freeDone   = 16 // set to 1 by the helper once both results are in
	freeGo     = 24 // set to 1 by the tracer: the helper may exit
	freeReady  = 32 // set to 1 by the parent once its signal mask is back
	freeOld    = 40 // the parent's signal mask while the helper is made
	freeFull   = 48 // every signal: the helper's mask from its first instruction
	freeWords  = 56 // size of the data block
	freeBound  = 1 << 31
	x86SigMask = 14 // rt_sigprocmask
	x86Yield   = 24 // sched_yield
	x86Prctl   = 157
)

// freePending marks a result word the helper has not written: no system
// call returns it.
const freePending = uint64(1) << 63

// freeStub is the code of a free stub and where its parent stops.
type freeStub struct {
	code       []byte
	parentStop int // offset of the instruction after the parent's trap
}

// x86FreeStub returns the x86_64 stub of the free helper (see
// injection.freeLoad), for the data block at data, the main program's
// sock_fprog at fprog loaded with flags, and, when afterProg is not 0, the
// after program's loaded with afterFlags. The injecting thread enters at
// offset 0. It blocks every signal, clones the helper with cloneFlags,
// puts its own mask back, marks the data block ready and stops at a trap
// with the helper's TID (or -errno) in rax; a failed rt_sigprocmask stops
// there with its -errno and makes no helper. The helper, which starts
// with every signal blocked and is not traced, waits for ready (so that
// the parent's calls come before the new filter), loads the main program
// (with no_new_privs first where the kernel wants it: EACCES), then the
// after program if the main load succeeded, stores both results, sets
// done, and waits until the tracer sets go, then exits; it gives up after
// freeBound rounds and exits all the same. It waits with sched_yield,
// which lets the tracer have its CPU (a helper spinning without a call
// held up two holds at a time on two vCPUs: a deny reaching 1,000
// members took 3x as long); a layer that notifies sched_yield, whose
// calls nobody could answer before the tracer holds the listener, takes
// the traced helper (stubRun).
func x86FreeStub(cloneFlags uint64, seccompNr, exitNr int, flags, afterFlags uint32,
	data, fprog, afterProg uint64) freeStub {
	le := binary.LittleEndian
	var c []byte
	imm32 := func(op []byte, v uint32) { c = append(append(c, op...), le.AppendUint32(nil, v)...) }
	imm64 := func(op []byte, v uint64) { c = append(append(c, op...), le.AppendUint64(nil, v)...) }
	syscall := func() { c = append(c, 0x0f, 0x05) }
	// rt_sigprocmask(SIG_SETMASK, set, old, 8)
	sigmask := func(set, old uint64) {
		imm32([]byte{0xb8}, x86SigMask) //           mov $14,%eax
		imm32([]byte{0xbf}, 2)          //           mov $SIG_SETMASK,%edi
		imm64([]byte{0x48, 0xbe}, set)  //           movabs $set,%rsi
		if old == 0 {
			c = append(c, 0x31, 0xd2) //             xor %edx,%edx
		} else {
			imm64([]byte{0x48, 0xba}, old) //        movabs $old,%rdx
		}
		imm32([]byte{0x41, 0xba}, 8) //              mov $8,%r10d
		syscall()
	}
	load := func(fl uint32, prog uint64) {
		imm32([]byte{0xb8}, uint32(seccompNr)) //    mov $seccomp,%eax
		imm32([]byte{0xbf}, 1)                 //    mov $SECCOMP_SET_MODE_FILTER,%edi
		imm32([]byte{0xbe}, fl)                //    mov $flags,%esi
		imm64([]byte{0x48, 0xba}, prog)        //    movabs $prog,%rdx
		syscall()
	}
	dataRcx := func() { imm64([]byte{0x48, 0xb9}, data) } // movabs $data,%rcx
	// jump patches a rel8 at c[at] to reach the current end.
	jump := func(at int) { c[at] = byte(len(c) - at - 1) }

	// Parent.
	sigmask(data+freeFull, data+freeOld)
	c = append(c, 0x48, 0x85, 0xc0) //                   test %rax,%rax
	c = append(c, 0x75, 0)          //                   jne trap
	failed := len(c) - 1
	imm32([]byte{0xb8}, 56)               //         mov $clone,%eax
	imm64([]byte{0x48, 0xbf}, cloneFlags) //         movabs $flags,%rdi
	c = append(c, 0x31, 0xf6, 0x31, 0xd2) //         xor %esi,%esi; xor %edx,%edx
	c = append(c, 0x45, 0x31, 0xd2)       //         xor %r10d,%r10d
	c = append(c, 0x45, 0x31, 0xc0)       //         xor %r8d,%r8d
	syscall()                             //
	c = append(c, 0x48, 0x85, 0xc0)       //         test %rax,%rax
	c = append(c, 0x0f, 0x84, 0, 0, 0, 0) //         je helper (rel32)
	toHelper := len(c) - 4
	c = append(c, 0x49, 0x89, 0xc4) //                   mov %rax,%r12
	sigmask(data+freeOld, 0)
	dataRcx()
	c = append(c, 0x48, 0xc7, 0x41, freeReady, 1, 0, 0, 0) // movq $1,ready(%rcx)
	c = append(c, 0x4c, 0x89, 0xe0)                        // mov %r12,%rax
	jump(failed)
	c = append(c, 0xcc) //                               int3
	parentStop := len(c)
	c = append(c, 0x0f, 0x0b) //                         ud2

	// Helper.
	le.PutUint32(c[toHelper:], uint32(len(c)-toHelper-4))
	dataRcx()
	wait := len(c)
	c = append(c, 0x48, 0x8b, 0x41, freeReady) //        mov ready(%rcx),%rax
	c = append(c, 0x48, 0x85, 0xc0)            //        test %rax,%rax
	c = append(c, 0xf3, 0x90)                  //        pause
	c = append(c, 0x74, byte(wait-len(c)-2))   //        je wait
	load(flags, fprog)
	c = append(c, 0x48, 0x83, 0xf8, 0xf3) //             cmp $-EACCES,%rax
	c = append(c, 0x75, 0)                //             jne stored
	stored := len(c) - 1
	imm32([]byte{0xb8}, x86Prctl)   //             mov $prctl,%eax
	imm32([]byte{0xbf}, 38)         //             mov $PR_SET_NO_NEW_PRIVS,%edi
	imm32([]byte{0xbe}, 1)          //             mov $1,%esi
	c = append(c, 0x31, 0xd2)       //             xor %edx,%edx
	c = append(c, 0x45, 0x31, 0xd2) //             xor %r10d,%r10d
	c = append(c, 0x45, 0x31, 0xc0) //             xor %r8d,%r8d
	syscall()
	load(flags, fprog)
	jump(stored)
	dataRcx()
	c = append(c, 0x48, 0x89, 0x01) //                   mov %rax,main(%rcx)
	if afterProg != 0 {
		c = append(c, 0x48, 0x85, 0xc0) //               test %rax,%rax
		c = append(c, 0x78, 0)          //               js done
		skip := len(c) - 1
		load(afterFlags, afterProg)
		dataRcx()
		c = append(c, 0x48, 0x89, 0x41, freeAfter) //    mov %rax,after(%rcx)
		jump(skip)
	}
	dataRcx()
	c = append(c, 0x48, 0xc7, 0x41, freeDone, 1, 0, 0, 0) // movq $1,done(%rcx)
	imm32([]byte{0xbb}, freeBound)                        // mov $bound,%ebx
	spin := len(c)
	dataRcx()                               //           (syscall clobbers rcx)
	c = append(c, 0x48, 0x8b, 0x41, freeGo) //           mov go(%rcx),%rax
	c = append(c, 0x48, 0x85, 0xc0)         //           test %rax,%rax
	c = append(c, 0x75, 0)                  //           jne out
	out := len(c) - 1
	imm32([]byte{0xb8}, x86Yield)            //          mov $sched_yield,%eax
	syscall()                                //
	c = append(c, 0xff, 0xcb)                //          dec %ebx
	c = append(c, 0x75, byte(spin-len(c)-2)) //          jne spin
	jump(out)
	imm32([]byte{0xb8}, uint32(exitNr))               //        mov $exit,%eax
	c = append(c, 0x31, 0xff, 0x0f, 0x05, 0x0f, 0x0b) // xor %edi,%edi; syscall; ud2
	return freeStub{code: c, parentStop: parentStop}
}
