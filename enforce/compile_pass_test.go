package enforce

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/cgsyscall/cgsyscall/arch"
)

// passVM compiles deny with the passes of pass and loads the program into
// x/net/bpf's VM (newVM is passVM without passes).
func passVM(t *testing.T, a *arch.Arch, deny []int, mode Mode, pass []int) *vm {
	t.Helper()
	prog, err := CompilePass(a, deny, mode, pass)
	if err != nil {
		t.Fatalf("CompilePass(%s, %d numbers, %v, %v): %v", a.Name, len(deny), mode, pass, err)
	}
	return vmOf(t, prog)
}

// vmOf loads prog, which must assemble, into x/net/bpf's VM.
func vmOf(t *testing.T, prog []bpf.Instruction) *vm {
	t.Helper()
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatalf("bpf.Assemble: %v", err)
	}
	v, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	return &vm{t: t, v: v, prog: prog}
}

// sigArgs gives the arguments of tgkill(1, 2, sig) or tkill(2, sig).
func sigArgs(tgkill bool, sig uint64) [6]uint64 {
	if tgkill {
		return [6]uint64{1, 2, sig}
	}
	return [6]uint64{2, sig}
}

// TestCompilePassSignals: with the pass, a denied tgkill or tkill of the
// native ABI runs with SIGURG (23, the low 32 bits of the signal argument)
// and gets the deny action with any other signal, SIGKILL and 0 among
// them; SIGURG in another argument does not count. Where the deny set
// does not deny them they are allowed whatever the signal. The compat
// twins get no pass.
func TestCompilePassSignals(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		tgkill, tkill, getppid := nr(t, a, "tgkill"), nr(t, a, "tkill"), nr(t, a, "getppid")
		ctgkill, _ := a.Compat.SyscallNumber("tgkill")
		ctkill, _ := a.Compat.SyscallNumber("tkill")
		pass := []int{tgkill, tkill}
		for _, mode := range []Mode{ModeErrno, ModeNotify} {
			deniedV := deniedValue(mode)
			m := passVM(t, a, []int{getppid, tgkill, tkill}, mode, pass)
			m.check(t, a.Name+" "+mode.String(), []passCase{
				{"tgkill SIGURG", a.Native.AuditArch, tgkill, sigArgs(true, 23), allowV},
				{"tgkill SIGURG high bits", a.Native.AuditArch, tgkill,
					sigArgs(true, 1<<32|23), allowV},
				{"tgkill SIGKILL", a.Native.AuditArch, tgkill, sigArgs(true, 9), deniedV},
				{"tgkill 0", a.Native.AuditArch, tgkill, sigArgs(true, 0), deniedV},
				{"tgkill 23<<32", a.Native.AuditArch, tgkill, sigArgs(true, 23<<32), deniedV},
				{"tgkill 23 as tid", a.Native.AuditArch, tgkill, [6]uint64{1, 23, 9}, deniedV},
				{"tkill SIGURG", a.Native.AuditArch, tkill, sigArgs(false, 23), allowV},
				{"tkill SIGKILL", a.Native.AuditArch, tkill, sigArgs(false, 9), deniedV},
				{"tkill 0", a.Native.AuditArch, tkill, sigArgs(false, 0), deniedV},
				{"tkill 23 as tid", a.Native.AuditArch, tkill, [6]uint64{23, 0}, deniedV},
				{"getppid", a.Native.AuditArch, getppid, sigArgs(true, 23), deniedV},
				{"compat tgkill SIGURG", a.Compat.AuditArch, ctgkill, sigArgs(true, 23),
					deniedV},
				{"compat tkill SIGURG", a.Compat.AuditArch, ctkill, sigArgs(false, 23),
					deniedV},
			})
			// Not denied: allowed with every signal, pass or no pass.
			m = passVM(t, a, []int{getppid}, mode, pass)
			for _, sig := range []uint64{0, 9, 23} {
				got := m.run(a.Native.AuditArch, int32(tgkill), sigArgs(true, sig))
				if got != allowV {
					t.Errorf("%s %v tgkill(%d), not denied: %#x, want allow", a.Name, mode,
						sig, got)
				}
			}
			// Denied without the pass: denied with SIGURG too.
			m = newVM(t, a, []int{getppid, tgkill, tkill}, mode)
			if got := m.run(a.Native.AuditArch, int32(tgkill), sigArgs(true, 23)); got != deniedV {
				t.Errorf("%s %v tgkill SIGURG without the pass: %#x, want %#x", a.Name, mode,
					got, deniedV)
			}
			// A pass for one of them leaves the other denied.
			m = passVM(t, a, []int{tgkill, tkill}, mode, []int{tkill})
			if got := m.run(a.Native.AuditArch, int32(tgkill), sigArgs(true, 23)); got != deniedV {
				t.Errorf("%s %v tgkill SIGURG, pass for tkill only: %#x", a.Name, mode, got)
			}
			if got := m.run(a.Native.AuditArch, int32(tkill), sigArgs(false, 23)); got != allowV {
				t.Errorf("%s %v tkill SIGURG, pass for tkill: %#x", a.Name, mode, got)
			}
		}
	}
}

// TestCompilePassElsewhereUnchanged: for every number of every arch value,
// with sampled arguments, the program with the pass answers as the one
// without, but for native tgkill and tkill with SIGURG. The deny sets are
// the structural ones with tgkill, tkill and prctl added.
func TestCompilePassElsewhereUnchanged(t *testing.T) {
	sigs := []uint64{0, 9, 23, 1<<32 | 23, 38, 0xffffffff}
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		tgkill, tkill, prctl := nr(t, a, "tgkill"), nr(t, a, "tkill"), nr(t, a, "prctl")
		audits := []uint32{a.Native.AuditArch, a.Compat.AuditArch, 0, arch.AuditArchI386}
		for name, deny := range denySets(a) {
			deny = append(slices.Clone(deny), tgkill, tkill, prctl)
			for _, mode := range []Mode{ModeErrno, ModeNotify} {
				with := passVM(t, a, deny, mode, []int{tgkill, tkill})
				without := newVM(t, a, deny, mode)
				bad := 0
				for _, audit := range audits {
					for _, n := range numbersToTry(a) {
						for _, sig := range sigs {
							for _, args := range [][6]uint64{{sig}, sigArgs(false, sig),
								sigArgs(true, sig)} {
								got, want := with.run(audit, n, args), without.run(audit, n, args)
								passed := audit == a.Native.AuditArch &&
									(int(n) == tgkill && args == sigArgs(true, sig) ||
										int(n) == tkill && args == sigArgs(false, sig)) &&
									uint32(sig) == 23
								if passed {
									want = allowV
								}
								if got != want && bad < 5 {
									bad++
									t.Errorf("%s %s %v: arch %#x nr %d args %v: %#x, want %#x",
										a.Name, name, mode, audit, n, args[:3], got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestCompilePassErrors: a pass names tgkill or tkill of the native table
// only.
func TestCompilePassErrors(t *testing.T) {
	a := arch.X86_64
	getpid := nr(t, a, "getpid")
	if _, err := CompilePass(a, []int{getpid}, ModeNotify, []int{getpid}); !errors.Is(err,
		syscall.EINVAL) {
		t.Errorf("a pass for getpid: %v, want EINVAL", err)
	}
	for _, n := range []int{-1, a.Native.NRMax + 1} {
		if _, err := CompilePass(a, []int{getpid}, ModeNotify, []int{n}); !errors.Is(err,
			syscall.ERANGE) {
			t.Errorf("a pass for %d: %v, want ERANGE", n, err)
		}
	}
}

// TestCompilePassPaths: with the pass, the native path loads an argument
// for a denied prctl, tgkill and tkill only, so that the kernel's action
// cache keeps every other number; and the program stays within the size
// bounds of TestCompileSize.
func TestCompilePassPaths(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		tgkill, tkill, prctl := nr(t, a, "tgkill"), nr(t, a, "tkill"), nr(t, a, "prctl")
		for name, deny := range denySets(a) {
			for _, extra := range [][]int{nil, {tgkill}, {tgkill, tkill, prctl}} {
				deny := append(slices.Clone(deny), extra...)
				prog, err := CompilePass(a, deny, ModeNotify, []int{tgkill, tkill})
				if err != nil {
					t.Fatal(err)
				}
				for nr := uint32(0); nr <= uint32(a.Native.NRMax)+2; nr++ {
					n := int(nr)
					want := (n == prctl || n == tgkill || n == tkill) && slices.Contains(deny, n)
					if got := loadsArg(t, prog, a.Native.AuditArch, nr); got != want {
						t.Errorf("%s %s+%v: the path of %d loads an argument: %v, want %v",
							a.Name, name, extra, nr, got, want)
					}
				}
				limit := 400 + 10
				if name == "alternate" {
					limit = 600 + 10
				}
				if len(prog) > limit || longestPath(prog) > 24 {
					t.Errorf("%s %s+%v: %d instructions, longest path %d", a.Name, name, extra,
						len(prog), longestPath(prog))
				}
			}
		}
	}
}

// TestCompilePassPrlimit: with the pass, a denied prlimit64 of the native
// ABI runs on the caller itself (pid 0 in the low 32 bits of argument 0)
// and gets the deny action for any other pid; its path alone loads the
// argument. The compat twin gets no pass, and a pass changes nothing where
// prlimit64 is not denied.
func TestCompilePassPrlimit(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		prlimit, getppid := nr(t, a, "prlimit64"), nr(t, a, "getppid")
		cprlimit, ok := a.Compat.SyscallNumber("prlimit64")
		if !ok {
			t.Fatalf("%s: no compat prlimit64", a.Name)
		}
		for _, mode := range []Mode{ModeErrno, ModeNotify} {
			deniedV := deniedValue(mode)
			deny := []int{getppid, prlimit}
			m := passVM(t, a, deny, mode, []int{prlimit})
			m.check(t, a.Name+" "+mode.String()+" prlimit64", []passCase{
				{"self", a.Native.AuditArch, prlimit, [6]uint64{0, 7, 0, 0x1000}, allowV},
				{"self, high word set", a.Native.AuditArch, prlimit, [6]uint64{1 << 32, 7},
					allowV},
				{"pid 1", a.Native.AuditArch, prlimit, [6]uint64{1, 7}, deniedV},
				{"pid 23", a.Native.AuditArch, prlimit, [6]uint64{23, 7}, deniedV},
				{"pid -1", a.Native.AuditArch, prlimit, [6]uint64{0xffffffff, 7}, deniedV},
				{"compat self", a.Compat.AuditArch, cprlimit, [6]uint64{0, 7}, deniedV},
				{"getppid", a.Native.AuditArch, getppid, [6]uint64{}, deniedV},
			})
			prog, err := CompilePass(a, deny, mode, []int{prlimit})
			if err != nil {
				t.Fatal(err)
			}
			prctl := nr(t, a, "prctl")
			for n := uint32(0); n <= uint32(a.Native.NRMax); n++ {
				want := int(n) == prlimit || int(n) == prctl && slices.Contains(deny, prctl)
				if got := loadsArg(t, prog, a.Native.AuditArch, n); got != want {
					t.Errorf("%s %v: the path of %d loads an argument: %v, want %v", a.Name,
						mode, n, got, want)
				}
			}
			m = passVM(t, a, []int{getppid}, mode, []int{prlimit})
			for _, pid := range []uint64{0, 1} {
				if got := m.run(a.Native.AuditArch, int32(prlimit), [6]uint64{pid, 7}); got !=
					allowV {
					t.Errorf("%s %v prlimit64(%d), not denied: %#x, want allow", a.Name, mode,
						pid, got)
				}
			}
		}
	}
}

// passCase is one call run through a filter in a VM, and what the filter
// must return for it.
type passCase struct {
	name  string
	audit uint32
	nr    int
	args  [6]uint64
	want  uint32
}

// check runs every case through m and reports each wrong answer under
// label.
func (m *vm) check(t *testing.T, label string, cases []passCase) {
	t.Helper()
	for _, c := range cases {
		if got := m.run(c.audit, int32(c.nr), c.args); got != c.want {
			t.Errorf("%s %s: %#x, want %#x", label, c.name, got, c.want)
		}
	}
}

// deniedValue is what a filter of mode returns for a denied call.
func deniedValue(mode Mode) uint32 {
	if mode == ModeNotify {
		return notifyV
	}
	return enosysV
}
