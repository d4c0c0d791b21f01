package inject

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A filter of the process's own sees the seccomp(2) calls a hold injects
// before the kernel does, and can fail them with any errno it likes: an
// EBUSY that says "a listener of the chain is open", or an ESRCH that
// says "a thread has a filter of its own", would then be the process's
// word, not the kernel's (adversary helper-17: an orphan whose filter
// failed TSYNC loads with EBUSY was taken for one that another listener
// decides, and was left out of a growth). A load's errno is trusted only
// when no filter of the chain can answer the call.

// chainMayAnswer reports whether a filter of thread tid's chain may
// return anything but ALLOW (or LOG) for the native seccomp(2), whatever
// its arguments and instruction pointer; true also when the chain cannot
// be read.
func chainMayAnswer(tid int) bool {
	n, ok := filterCount(tid)
	if !ok {
		// The kernel shows no filter of a task that has none (EINVAL).
		return filtered(tid)
	}
	for i := 0; i < n; i++ {
		prog, err := readFilter(tid, i)
		if err != nil || len(prog) == 0 {
			return true
		}
		if mayAnswer(prog, uint32(nums.seccomp), auditArch) {
			return true
		}
	}
	return false
}

// filtered reports whether thread tid is in seccomp filter mode, or may
// be: /proc/TID/status says "Seccomp: 2", or could not be read.
func filtered(tid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return true
	}
	_, rest, ok := bytes.Cut(b, []byte("\nSeccomp:"))
	if !ok {
		return true
	}
	line, _, _ := bytes.Cut(rest, []byte{'\n'})
	return string(bytes.TrimSpace(line)) != "0"
}

// value is a register or scratch word of the classic BPF machine: known,
// or not (from the arguments or the instruction pointer).
type value struct {
	v     uint32
	known bool
}

// bpfState is the machine's registers and scratch words before one
// instruction, over every path that reaches it.
type bpfState struct {
	reached bool
	a, x    value
	mem     [16]value
}

// join widens s to cover t as well: a word known alike on both stays
// known, any other becomes unknown.
func (s *bpfState) join(t *bpfState) {
	if !s.reached {
		*s = *t
		return
	}
	meet := func(a, b value) value {
		if a.known && b.known && a.v == b.v {
			return a
		}
		return value{}
	}
	s.a, s.x = meet(s.a, t.a), meet(s.x, t.x)
	for i := range s.mem {
		s.mem[i] = meet(s.mem[i], t.mem[i])
	}
}

// callData is what a filter may load of one call (struct seccomp_data):
// the number and audit architecture, known, and the arguments, each known
// or not; the instruction pointer is never known.
type callData struct {
	nr, arch uint32
	args     [6]uint64
	known    [6]bool
}

// word is the 32-bit word of d at offset off, as a filter's absolute load
// reads it (both architectures are little-endian).
func (d *callData) word(off uint32) value {
	switch {
	case off == 0:
		return value{d.nr, true}
	case off == 4:
		return value{d.arch, true}
	case off >= 16 && off < 64 && off%4 == 0:
		i := (off - 16) / 8
		if !d.known[i] {
			return value{}
		}
		if off%8 == 0 {
			return value{uint32(d.args[i]), true}
		}
		return value{uint32(d.args[i] >> 32), true}
	}
	return value{}
}

// mayAnswer reports whether filter prog can return anything but
// SECCOMP_RET_ALLOW or SECCOMP_RET_LOG for a call of number nr on audit
// architecture arch, whatever its arguments and instruction pointer.
func mayAnswer(prog []unix.SockFilter, nr, arch uint32) bool {
	return mayReturn(prog, &callData{nr: nr, arch: arch}, func(ret uint32) bool {
		action := ret & unix.SECCOMP_RET_ACTION_FULL
		return action != unix.SECCOMP_RET_ALLOW && action != unix.SECCOMP_RET_LOG
	})
}

// mayReturn reports whether filter prog can return an action that bad
// accepts for the call d, over every value its unknown words may take. A
// filter's jumps only go forward, so one pass in order, with the states of
// the paths that meet at an instruction joined (a word they disagree on is
// unknown), reaches every instruction any run could, in time linear in the
// program (a walk of every path took time exponential in the branches on
// unknown words: adversary helper-18, a daemon stuck for good on 40 of
// them). A jump on an unknown word goes both ways. An instruction seccomp
// does not accept, a return of an unknown value, a division by an X that
// may be 0 (the kernel then ends the filter with 0: kill) and running off
// the end count as a return that bad accepts, whatever it says.
func mayReturn(prog []unix.SockFilter, d *callData, bad func(ret uint32) bool) bool {
	states := make([]bpfState, len(prog)+1)
	states[0].reached = true
	goTo := func(pc int, s *bpfState) bool {
		if pc < 0 || pc > len(prog) {
			return false
		}
		states[pc].join(s)
		return true
	}
	for pc, f := range prog {
		s := states[pc]
		if !s.reached {
			continue
		}
		k := value{f.K, true}
		src := k
		if f.Code&unix.BPF_X != 0 {
			src = s.x
		}
		switch f.Code & 0x07 {
		case unix.BPF_LD, unix.BPF_LDX:
			var v value
			switch f.Code & 0xe0 {
			case unix.BPF_IMM:
				v = k
			case unix.BPF_ABS:
				if f.Code&0x18 != unix.BPF_W || f.Code&0x07 != unix.BPF_LD {
					return true
				}
				v = d.word(f.K)
			case unix.BPF_MEM:
				if f.K >= 16 {
					return true
				}
				v = s.mem[f.K]
			case unix.BPF_LEN:
				v = value{64, true}
			default:
				return true
			}
			if f.Code&0x07 == unix.BPF_LD {
				s.a = v
			} else {
				s.x = v
			}
		case unix.BPF_ST, unix.BPF_STX:
			if f.K >= 16 {
				return true
			}
			if f.Code&0x07 == unix.BPF_ST {
				s.mem[f.K] = s.a
			} else {
				s.mem[f.K] = s.x
			}
		case unix.BPF_ALU:
			op := f.Code & 0xf0
			if (op == unix.BPF_DIV || op == unix.BPF_MOD) && (!src.known || src.v == 0) {
				return true
			}
			s.a = alu(op, s.a, src)
		case unix.BPF_JMP:
			if f.Code&0xf0 == unix.BPF_JA {
				if !goTo(pc+1+int(f.K), &s) {
					return true
				}
				continue
			}
			yes, no := pc+1+int(f.Jt), pc+1+int(f.Jf)
			if !s.a.known || !src.known {
				if !goTo(yes, &s) || !goTo(no, &s) {
					return true
				}
				continue
			}
			var taken bool
			switch f.Code & 0xf0 {
			case unix.BPF_JEQ:
				taken = s.a.v == src.v
			case unix.BPF_JGT:
				taken = s.a.v > src.v
			case unix.BPF_JGE:
				taken = s.a.v >= src.v
			case unix.BPF_JSET:
				taken = s.a.v&src.v != 0
			default:
				return true
			}
			to := no
			if taken {
				to = yes
			}
			if !goTo(to, &s) {
				return true
			}
			continue
		case unix.BPF_RET:
			r := k
			if f.Code&0x18 == unix.BPF_A {
				r = s.a
			}
			if !r.known || bad(r.v) {
				return true
			}
			continue
		case unix.BPF_MISC:
			if f.Code&0xf8 == unix.BPF_TAX {
				s.x = s.a
			} else {
				s.a = s.x
			}
		}
		goTo(pc+1, &s)
	}
	// Running off the end: no return.
	return states[len(prog)].reached
}

// alu applies a classic BPF ALU operation; unknown in, unknown out.
func alu(op uint16, a, b value) value {
	if op == unix.BPF_NEG {
		return value{-a.v, a.known}
	}
	if !a.known || !b.known {
		return value{}
	}
	switch op {
	case unix.BPF_ADD:
		return value{a.v + b.v, true}
	case unix.BPF_SUB:
		return value{a.v - b.v, true}
	case unix.BPF_MUL:
		return value{a.v * b.v, true}
	case unix.BPF_DIV:
		if b.v == 0 {
			return value{}
		}
		return value{a.v / b.v, true}
	case unix.BPF_MOD:
		if b.v == 0 {
			return value{}
		}
		return value{a.v % b.v, true}
	case unix.BPF_AND:
		return value{a.v & b.v, true}
	case unix.BPF_OR:
		return value{a.v | b.v, true}
	case unix.BPF_XOR:
		return value{a.v ^ b.v, true}
	case unix.BPF_LSH:
		return value{a.v << (b.v & 31), true}
	case unix.BPF_RSH:
		return value{a.v >> (b.v & 31), true}
	}
	return value{}
}

// TrimUnreached returns prog without the instructions at its end that no
// run can reach (each after a return, and no jump lands on it), up to max
// of them: the same program, as the kernel runs it.
func TrimUnreached(prog []unix.SockFilter, max int) []unix.SockFilter {
	for i := 0; i < max; i++ {
		n := len(prog)
		if n < 2 || prog[n-2].Code&0x07 != unix.BPF_RET || landed(prog, n-1) {
			break
		}
		prog = prog[:n-1]
	}
	return prog
}

// landed reports whether a jump of prog lands on instruction at.
func landed(prog []unix.SockFilter, at int) bool {
	for pc, f := range prog[:at] {
		if f.Code&0x07 != unix.BPF_JMP {
			continue
		}
		if f.Code&0xf0 == unix.BPF_JA {
			if pc+1+int(f.K) == at {
				return true
			}
		} else if pc+1+int(f.Jt) == at || pc+1+int(f.Jf) == at {
			return true
		}
	}
	return false
}
