package enforce

import (
	"math/rand"
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
)

// numbersToTry lists the numbers tried on every arch value: the whole
// native and compat tables and a little past them, the x32 numbers of
// x86_64, and the edges of the 32-bit space.
func numbersToTry(a *arch.Arch) []int32 {
	var nrs []int32
	top := max(a.Native.NRMax, a.Compat.NRMax) + 16
	for n := 0; n <= top; n++ {
		nrs = append(nrs, int32(n))
	}
	for n := 0; n <= 600; n += 7 {
		nrs = append(nrs, x32|int32(n))
	}
	return append(nrs, 0x0f0005, 0x3fffffff, 0x7fffffff, -1, -0x80000000)
}

// argsToTry samples first arguments: the sub-calls of each multiplexer
// around its known values, with and without bits above the mask and
// above 32 bits.
var argsToTry = func() []uint64 {
	var args []uint64
	for v := uint64(0); v <= 26; v++ {
		args = append(args, v, 1<<16|v, 0xffff0000|v, 1<<32|v)
	}
	return append(args, 0xffffffff, 0xffffffffffffffff)
}()

// TestJudgeAgrees runs every (arch, nr) of both architectures, and the
// sampled arguments for the multiplexers, through the compiled program
// and through Judge.
func TestJudgeAgrees(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		audits := []uint32{a.Native.AuditArch, a.Compat.AuditArch, 0,
			arch.AuditArchX86_64, arch.AuditArchAArch64, arch.AuditArchI386}
		mux := map[int32]bool{}
		for _, m := range a.Mux {
			mux[int32(m.Nr)] = true
		}
		sets := denySets(a)
		sets["setuid+socket"] = []int{nr(t, a, "setuid"), nr(t, a, "socket")}
		for name, deny := range sets {
			for _, mode := range []Mode{ModeErrno, ModeNotify} {
				m := newVM(t, a, deny, mode)
				deniedV := deniedValue(mode)
				bad := 0
				check := func(audit uint32, n int32, args [6]uint64) {
					want := uint32(allowV)
					if Judge(a, deny, audit, int(n), args) {
						want = deniedV
						if audit != a.Native.AuditArch && audit != a.Compat.AuditArch {
							want = enosysV
						}
					}
					if got := m.run(audit, n, args); got != want && bad < 10 {
						bad++
						t.Errorf("%s %s %v: arch %#x nr %d args %#x: BPF %#x, Judge %#x",
							a.Name, name, mode, audit, n, args[0], got, want)
					}
				}
				for _, audit := range audits {
					for _, n := range numbersToTry(a) {
						check(audit, n, arg0(0))
						if !mux[n] {
							check(audit, n, arg0(2))
							continue
						}
						for _, v := range argsToTry {
							check(audit, n, arg0(v))
							check(audit, n, [6]uint64{99, v, v, v, v, v})
						}
					}
				}
			}
		}
	}
}

// TestJudge pins a few verdicts down directly.
func TestJudge(t *testing.T) {
	a := arch.X86_64
	deny := []int{110, 41, 15}
	for _, c := range []struct {
		audit uint32
		nr    int
		arg   uint64
		want  bool
	}{
		{arch.AuditArchX86_64, 110, 0, true},
		{arch.AuditArchX86_64, 39, 0, false},
		{arch.AuditArchX86_64, 15, 0, false}, // never denied
		{arch.AuditArchX86_64, x32 | 39, 0, true},
		{arch.AuditArchX86_64, 470, 0, false},
		{arch.AuditArchI386, 64, 0, true},
		{arch.AuditArchI386, 20, 0, false},
		{arch.AuditArchI386, 102, 1, true},
		{arch.AuditArchI386, 102, 2, false},
		{arch.AuditArchI386, 17, 0, true},
		{arch.AuditArchI386, 119, 0, false},
		{arch.AuditArchAArch64, 39, 0, true},
	} {
		if got := Judge(a, deny, c.audit, c.nr, arg0(c.arg)); got != c.want {
			t.Errorf("Judge(arch %#x, nr %d, arg %d) = %v, want %v",
				c.audit, c.nr, c.arg, got, c.want)
		}
	}
	if Judge(a, nil, 0, 1, arg0(0)) || Judge(a, []int{15}, 0, 1, arg0(0)) {
		t.Error("an empty deny set denies a foreign call")
	}
}

func nr(t *testing.T, a *arch.Arch, name string) int {
	t.Helper()
	n, ok := a.Native.SyscallNumber(name)
	if !ok {
		t.Fatalf("%s has no %s", a.Name, name)
	}
	return n
}

// TestCompileLarge compiles for a made-up architecture with tables far
// larger than the real ones, so that trees split into many chunks, and
// checks every number against Judge.
func TestCompileLarge(t *testing.T) {
	const n = 3000
	comp := make([]int, n+1)
	for i := range comp {
		comp[i] = (i * 7) % (n + 1) // a scrambled mapping
		if i%11 == 0 {
			comp[i] = -1
		}
	}
	a := &arch.Arch{
		Name:         "large",
		Native:       &arch.ABI{Name: "large", AuditArch: 0xc0001234, NRMax: n},
		Compat:       &arch.ABI{Name: "small", AuditArch: 0x40001234, NRMax: n},
		X32Bit:       0x20000000,
		CompatNative: comp,
		Mux: []arch.Mux{{Nr: 5, Arg: 2, Mask: 0xff,
			Sub: map[uint32]int{1: 1, 2: 2, 3: 3, 4: -1, 9: 9, 200: 200}}},
		NeverDeny:   []int{4, 1000},
		CompatAllow: []int{7, 0x0f0005},
	}
	r := rand.New(rand.NewSource(2))
	var alt, third []int
	for i := 0; i <= n; i++ {
		if i%2 == 0 {
			alt = append(alt, i)
		}
		if r.Intn(3) == 0 {
			third = append(third, i)
		}
	}
	for name, deny := range map[string][]int{"alternate": alt, "third": third} {
		m := newVM(t, a, deny, ModeErrno)
		t.Logf("%s: %d instructions", name, len(m.prog))
		bad := 0
		for _, audit := range []uint32{a.Native.AuditArch, a.Compat.AuditArch, 9} {
			nrs := []int32{0x20000001, 0x0f0005, 0x0f0004, -1}
			for i := int32(0); i <= n+2; i++ {
				nrs = append(nrs, i)
			}
			for _, nr := range nrs {
				for _, v := range []uint64{0, 1, 2, 4, 9, 200, 0x103, 0xfff09} {
					args := [6]uint64{0, 0, v}
					want := uint32(allowV)
					if Judge(a, deny, audit, int(nr), args) {
						want = enosysV
					}
					if got := m.run(audit, nr, args); got != want && bad < 10 {
						bad++
						t.Errorf("%s: arch %#x nr %d arg2 %#x: BPF %#x, Judge %#x",
							name, audit, nr, v, got, want)
					}
					if nr != 5 {
						break
					}
				}
			}
		}
	}
}

func BenchmarkJudge(b *testing.B) {
	a := arch.X86_64
	deny := rand.New(rand.NewSource(1)).Perm(a.Native.NRMax + 1)[:300]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Judge(a, deny, arch.AuditArchI386, 102, arg0(uint64(i%20)))
	}
}
