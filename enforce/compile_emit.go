package enforce

import (
	"fmt"
	"math"
	"slices"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/cgsyscall/cgsyscall/arch"
)

// prNoNewPrivs is PR_SET_NO_NEW_PRIVS, prctl's option that a filter never
// denies.
const prNoNewPrivs = 38

// gate is a denied native number that one value of one argument lets
// through: its call runs when the low 32 bits of argument arg are val, and
// gets the deny action otherwise.
type gate struct {
	nr  int
	arg int
	val uint32
}

// passRule is the argument value that lets a passed number run.
type passRule struct {
	arg int
	val uint32
}

// passRules are the numbers that CompilePass may let through, by name:
// tgkill and tkill with SIGURG, prlimit64 on the caller itself (pid 0).
var passRules = map[string]passRule{
	"tkill":     {1, sigURG},
	"tgkill":    {2, sigURG},
	"prlimit64": {0, 0},
}

// gates lists the argument checks of p's native path: prctl's when prctl
// is denied (PR_SET_NO_NEW_PRIVS only ever restricts its caller, and the
// daemon injects it to hold a process that dropped root), then the
// passRules check of each denied number of pass, in ascending order.
func (p *plan) gates(pass []int) ([]gate, error) {
	a := p.a
	var gs []gate
	if prctl, ok := a.Native.SyscallNumber("prctl"); ok && p.native(uint32(prctl)) {
		gs = append(gs, gate{nr: prctl, arg: 0, val: prNoNewPrivs})
	}
	pass = slices.Compact(slices.Sorted(slices.Values(pass)))
	for _, nr := range pass {
		if nr < 0 || nr > a.Native.NRMax {
			return nil, fmt.Errorf("enforce: syscall %d outside 0..%d: %w",
				nr, a.Native.NRMax, syscall.ERANGE)
		}
		name, _ := a.Native.SyscallName(nr)
		r, ok := passRules[name]
		if !ok {
			return nil, fmt.Errorf("enforce: no pass for syscall %d (%q): %w",
				nr, name, syscall.EINVAL)
		}
		if p.native(uint32(nr)) {
			gs = append(gs, gate{nr: nr, arg: r.arg, val: r.val})
		}
	}
	return gs, nil
}

// emit assembles the filter of p; deny is the return value of a denied
// call, and each of gates lets its number through for one argument value.
func (p *plan) emit(deny uint32, gates []gate) ([]bpf.Instruction, error) {
	a := p.a
	allow, denied := retLeaf(retAllow), retLeaf(deny)
	whenAny := allow // for calls that are denied when anything is
	foreign := retAllow
	if p.any {
		whenAny, foreign = denied, retENOSYS
	}
	verdict := func(d bool) leaf {
		if d {
			return denied
		}
		return allow
	}

	s := newAsm()
	e := &emitter{s: s, chunk: maxSkip - 2 - len(a.Mux) - 1}

	// Header: compat arch -> its block, native arch -> straight on.
	compat := s.newLabel()
	s.load(offArch)
	if a.Compat != nil {
		after := s.newLabel()
		s.jumpIf(bpf.JumpEqual, a.Compat.AuditArch, labelNext, after)
		s.jumpTo(compat)
		s.bind(after)
	}
	native := s.newLabel()
	s.jumpIf(bpf.JumpEqual, a.Native.AuditArch, native, labelNext)
	s.ret(foreign)

	// Native block: numbers only, never an argument, but in the block of
	// a gate (a denied prctl, a passed tgkill or tkill).
	s.bind(native)
	gateOf := map[int]int{}
	for i, g := range gates {
		gateOf[g.nr] = i
		e.gates = append(e.gates, s.newLabel())
	}
	var nat runs
	for n := 0; n <= a.Native.NRMax; n++ {
		l := verdict(p.native(uint32(n)))
		if i, ok := gateOf[n]; ok {
			l = leaf{ret: deny, mux: muxGate - i}
		}
		nat.add(uint32(n), l)
	}
	nat.add(uint32(a.Native.NRMax+1), allow)
	x32 := a.X32Bit != 0 && p.any
	if x32 || len(nat) > 1 {
		s.load(offNr)
	}
	if x32 {
		after := s.newLabel()
		s.jumpIf(bpf.JumpBitsSet, a.X32Bit, labelNext, after)
		s.ret(deny)
		s.bind(after)
	}
	e.tree(nat.fold())
	for i, g := range gates {
		// The argument is an int (an option, a signal, a pid): its low
		// word.
		s.bind(e.gates[i])
		s.load(argLow(g.arg))
		other := s.newLabel()
		s.jumpIf(bpf.JumpEqual, g.val, labelNext, other)
		s.ret(retAllow)
		s.bind(other)
		s.ret(deny)
	}

	if a.Compat == nil {
		return s.resolve()
	}

	// Multiplexers: a block for each one whose sub-calls differ.
	subs := make([]runs, len(a.Mux))
	muxLeaf := make([]leaf, len(a.Mux))
	for i := range a.Mux {
		subs[i] = p.subRuns(&a.Mux[i], verdict)
		muxLeaf[i] = subs[i][0].to.to
		if len(subs[i]) > 1 {
			muxLeaf[i] = leaf{mux: i}
		}
		e.mux = append(e.mux, s.newLabel())
	}

	// Compat block.
	s.bind(compat)
	comp := pointRuns(p.compatPoints(), func(n uint32) leaf {
		d, m := p.compat(n)
		if m != nil {
			return muxLeaf[muxIndex(a, m)]
		}
		return verdict(d)
	}, whenAny)
	if len(comp) > 1 {
		s.load(offNr)
	}
	e.tree(comp.fold())

	for i := range a.Mux {
		if muxLeaf[i].mux < 0 {
			continue
		}
		m := &a.Mux[i]
		s.bind(e.mux[i])
		s.load(argLow(m.Arg))
		if m.Mask != math.MaxUint32 {
			s.and(m.Mask)
		}
		e.tree(subs[i].fold())
	}
	return s.resolve()
}

// subRuns gives the runs of sub-call values of m; values that m does not
// know are judged like calls without a native counterpart.
func (p *plan) subRuns(m *arch.Mux, verdict func(bool) leaf) runs {
	keys := make([]uint32, 0, len(m.Sub))
	for k := range m.Sub {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	at := func(v uint32) leaf { return verdict(p.sub(m, v)) }
	return pointRuns(keys, at, verdict(p.any))
}

// compatPoints lists the compat numbers that the table or CompatAllow
// names, in ascending order.
func (p *plan) compatPoints() []uint32 {
	pts := make([]uint32, 0, p.compatSize()+len(p.a.CompatAllow))
	for n := 0; n < p.compatSize(); n++ {
		pts = append(pts, uint32(n))
	}
	for _, n := range p.a.CompatAllow {
		if n >= p.compatSize() && uint64(n) <= math.MaxUint32 {
			pts = append(pts, uint32(n))
		}
	}
	slices.Sort(pts)
	return slices.Compact(pts)
}

// pointRuns gives the runs of the whole 32-bit space where each of points
// (ascending, no duplicates) leads to at(point) and every other number to
// gap.
func pointRuns(points []uint32, at func(uint32) leaf, gap leaf) runs {
	var rs runs
	next := uint64(0)
	for _, v := range points {
		if uint64(v) > next {
			rs.add(uint32(next), gap)
		}
		rs.add(v, at(v))
		next = uint64(v) + 1
	}
	if next <= math.MaxUint32 {
		rs.add(uint32(next), gap)
	}
	return rs
}

// muxIndex finds m in a.Mux.
func muxIndex(a *arch.Arch, m *arch.Mux) int {
	for i := range a.Mux {
		if &a.Mux[i] == m {
			return i
		}
	}
	return -1
}
