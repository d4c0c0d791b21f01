package enforce

import (
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

// TestNativePathNoArgs walks the native path of many programs: it must
// load only the arch and the number, so the kernel's action cache holds
// for every native call.
func TestNativePathNoArgs(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		for name, deny := range denySets(a) {
			for _, mode := range []Mode{ModeErrno, ModeNotify} {
				prog, err := Compile(a, deny, mode)
				if err != nil {
					t.Fatal(err)
				}
				walkArch(t, prog, a.Native.AuditArch, func(i int) {
					switch in := prog[i].(type) {
					case bpf.LoadAbsolute:
						if in.Off != offArch && in.Off != offNr || in.Size != 4 {
							t.Errorf("%s %s: native path loads %v at %d",
								a.Name, name, in, i)
						}
					case bpf.JumpIf, bpf.Jump, bpf.RetConstant:
					default:
						t.Errorf("%s %s: native path runs %v at %d", a.Name, name, in, i)
					}
				})
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
