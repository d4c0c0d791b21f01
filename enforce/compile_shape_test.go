package enforce

import (
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/cgsyscall/cgsyscall/arch"
)

// successors gives the instructions that may follow instruction i.
func successors(prog []bpf.Instruction, i int) []int {
	switch in := prog[i].(type) {
	case bpf.RetConstant, bpf.RetA:
		return nil
	case bpf.Jump:
		return []int{i + 1 + int(in.Skip)}
	case bpf.JumpIf:
		return []int{i + 1 + int(in.SkipTrue), i + 1 + int(in.SkipFalse)}
	}
	return []int{i + 1}
}

// walkArch visits every instruction reachable when seccomp_data.arch is
// audit. Jumps right after the load of the arch field are decided with
// audit; every other jump is followed both ways.
func walkArch(t *testing.T, prog []bpf.Instruction, audit uint32, visit func(int)) {
	seen := make([]bool, len(prog))
	var walk func(i int, archInA bool)
	walk = func(i int, archInA bool) {
		if i >= len(prog) {
			t.Fatalf("path runs off the program at %d", i)
		}
		if seen[i] {
			return
		}
		seen[i] = true
		visit(i)
		switch in := prog[i].(type) {
		case bpf.LoadAbsolute:
			walk(i+1, in.Off == offArch)
			return
		case bpf.JumpIf:
			if archInA {
				if in.Cond != bpf.JumpEqual {
					t.Fatalf("arch tested with %v at %d", in.Cond, i)
				}
				skip := in.SkipFalse
				if in.Val == audit {
					skip = in.SkipTrue
				}
				walk(i+1+int(skip), true)
				return
			}
		case bpf.Jump:
			walk(i+1+int(in.Skip), archInA)
			return
		}
		for _, n := range successors(prog, i) {
			walk(n, false)
		}
	}
	walk(0, false)
}

// loadsArg runs prog for a call of arch audit and number nr and tells
// whether its path loads an argument (where it stops: the rest depends on
// the argument), or anything but the arch and the number.
func loadsArg(t *testing.T, prog []bpf.Instruction, audit, nr uint32) bool {
	var a uint32
	for i := 0; i < len(prog); {
		switch in := prog[i].(type) {
		case bpf.LoadAbsolute:
			switch {
			case in.Off == offArch && in.Size == 4:
				a = audit
			case in.Off == offNr && in.Size == 4:
				a = nr
			default:
				return true
			}
			i++
		case bpf.JumpIf:
			var hold bool
			switch in.Cond {
			case bpf.JumpEqual:
				hold = a == in.Val
			case bpf.JumpGreaterOrEqual:
				hold = a >= in.Val
			case bpf.JumpBitsSet:
				hold = a&in.Val != 0
			default:
				t.Fatalf("jump %v at %d", in, i)
			}
			if hold {
				i += 1 + int(in.SkipTrue)
			} else {
				i += 1 + int(in.SkipFalse)
			}
		case bpf.Jump:
			i += 1 + int(in.Skip)
		case bpf.RetConstant:
			return false
		default:
			t.Fatalf("native path runs %v at %d", in, i)
		}
	}
	t.Fatal("path runs off the program")
	return false
}

// TestNativePathNoArgs runs the native path of every number through many
// programs: it loads only the arch and the number, so the kernel's action
// cache holds for every native call, but for a denied prctl, whose block
// reads the option to let PR_SET_NO_NEW_PRIVS through.
func TestNativePathNoArgs(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		prctl, _ := a.Native.SyscallNumber("prctl")
		for name, deny := range denySets(a) {
			for _, mode := range []Mode{ModeErrno, ModeNotify} {
				prog, err := Compile(a, deny, mode)
				if err != nil {
					t.Fatal(err)
				}
				for nr := uint32(0); nr <= uint32(a.Native.NRMax)+2; nr++ {
					want := int(nr) == prctl && slices.Contains(deny, prctl)
					if got := loadsArg(t, prog, a.Native.AuditArch, nr); got != want {
						t.Errorf("%s %s %v: the path of %d loads an argument: %v, want %v",
							a.Name, name, mode, nr, got, want)
					}
				}
			}
		}
	}
}

// TestForeignArchStatic checks that a foreign arch value meets a lone
// return right after the arch checks.
func TestForeignArchStatic(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		prog, err := Compile(a, []int{1}, ModeNotify)
		if err != nil {
			t.Fatal(err)
		}
		var rets []uint32
		walkArch(t, prog, 0x12345678, func(i int) {
			if r, ok := prog[i].(bpf.RetConstant); ok {
				rets = append(rets, r.Val)
			}
		})
		if len(rets) != 1 || rets[0] != enosysV {
			t.Errorf("%s: foreign arch returns %#x, want only %#x", a.Name, rets, enosysV)
		}
	}
}

// longestPath counts the instructions on the longest path through prog
// (jumps only go forward, so the program is a DAG).
func longestPath(prog []bpf.Instruction) int {
	depth := make([]int, len(prog)+1)
	for i := len(prog) - 1; i >= 0; i-- {
		d := 0
		for _, n := range successors(prog, i) {
			d = max(d, depth[n])
		}
		depth[i] = d + 1
	}
	return depth[0]
}

// TestCompileSize keeps programs small and paths short: filter load time
// and the cost of a denied call both grow with them.
func TestCompileSize(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		for name, deny := range denySets(a) {
			prog, err := Compile(a, deny, ModeErrno)
			if err != nil {
				t.Fatal(err)
			}
			n, depth := len(prog), longestPath(prog)
			t.Logf("%s %s (%d numbers): %d instructions, longest path %d",
				a.Name, name, len(deny), n, depth)
			limit := 400
			if name == "alternate" {
				limit = 600 // the worst case: every other number denied
			}
			if n > limit {
				t.Errorf("%s %s: %d instructions, want at most %d", a.Name, name, n, limit)
			}
			if depth > 24 {
				t.Errorf("%s %s: longest path %d, want at most 24", a.Name, name, depth)
			}
		}
	}
}
