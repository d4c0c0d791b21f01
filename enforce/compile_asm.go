package enforce

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// label names a place in a program under construction. labelNext is the
// instruction right after a jump, so a jump to it skips nothing.
type label int

const labelNext label = 0

// maxSkip is the farthest a classic BPF conditional jump reaches.
const maxSkip = 255

// fixup is a jump whose targets are resolved once every label is bound.
type fixup struct {
	at     int
	jt, jf label // targets of a conditional jump, or jt alone for ja
	always bool  // an unconditional ja, whose reach is 32 bits
}

// asm assembles a program with forward jumps to labels. It never moves an
// instruction: the code that calls it keeps conditional jumps short by its
// shape, and resolve reports any that is not.
type asm struct {
	insns []bpf.Instruction
	at    []int // label -> instruction index, -1 while unbound
	fix   []fixup
}

func newAsm() *asm { return &asm{at: []int{-1}} }

func (s *asm) newLabel() label {
	s.at = append(s.at, -1)
	return label(len(s.at) - 1)
}

// bind places l at the next instruction to be added.
func (s *asm) bind(l label) { s.at[l] = len(s.insns) }

func (s *asm) load(off uint32) {
	s.insns = append(s.insns, bpf.LoadAbsolute{Off: off, Size: 4})
}

func (s *asm) and(mask uint32) {
	s.insns = append(s.insns, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
}

func (s *asm) ret(v uint32) {
	s.insns = append(s.insns, bpf.RetConstant{Val: v})
}

// jumpIf adds a conditional jump to jt when cond holds for A and val,
// else to jf.
func (s *asm) jumpIf(cond bpf.JumpTest, val uint32, jt, jf label) {
	s.fix = append(s.fix, fixup{at: len(s.insns), jt: jt, jf: jf})
	s.insns = append(s.insns, bpf.JumpIf{Cond: cond, Val: val})
}

// jumpTo adds an unconditional jump to l.
func (s *asm) jumpTo(l label) {
	s.fix = append(s.fix, fixup{at: len(s.insns), jt: l, always: true})
	s.insns = append(s.insns, bpf.Jump{})
}

// skip is how many instructions a jump at index at skips to reach l.
func (s *asm) skip(at int, l label) (int, error) {
	if l == labelNext {
		return 0, nil
	}
	to := s.at[l]
	if to < 0 {
		return 0, fmt.Errorf("enforce: jump at %d to an unbound label", at)
	}
	if to <= at {
		return 0, fmt.Errorf("enforce: backward jump at %d", at)
	}
	return to - at - 1, nil
}

// resolve fills in every jump and returns the program.
func (s *asm) resolve() ([]bpf.Instruction, error) {
	for _, f := range s.fix {
		t, err := s.skip(f.at, f.jt)
		if err != nil {
			return nil, err
		}
		if f.always {
			s.insns[f.at] = bpf.Jump{Skip: uint32(t)}
			continue
		}
		e, err := s.skip(f.at, f.jf)
		if err != nil {
			return nil, err
		}
		if t > maxSkip || e > maxSkip {
			return nil, fmt.Errorf("enforce: jump at %d reaches %d/%d", f.at, t, e)
		}
		j := s.insns[f.at].(bpf.JumpIf)
		j.SkipTrue, j.SkipFalse = uint8(t), uint8(e)
		s.insns[f.at] = j
	}
	if len(s.insns) > bpfMaxInsns {
		return nil, fmt.Errorf("enforce: program of %d instructions exceeds %d",
			len(s.insns), bpfMaxInsns)
	}
	return s.insns, nil
}

// bpfMaxInsns is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const bpfMaxInsns = 4096
