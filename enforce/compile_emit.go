package enforce

import (
	"math"
	"slices"

	"golang.org/x/net/bpf"

	"github.com/cgsyscall/cgsyscall/arch"
)

// prNoNewPrivs is PR_SET_NO_NEW_PRIVS, prctl's option that a filter never
// denies.
const prNoNewPrivs = 38

// emit assembles the filter of p; deny is the return value of a denied call.
func (p *plan) emit(deny uint32) ([]bpf.Instruction, error) {
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

	// Native block: numbers only, never an argument, but in the prctl
	// block of a denied prctl.
	s.bind(native)
	prctl, hasPrctl := a.Native.SyscallNumber("prctl")
	nnp := hasPrctl && p.native(uint32(prctl))
	e.nnp = s.newLabel()
	var nat runs
	for n := 0; n <= a.Native.NRMax; n++ {
		l := verdict(p.native(uint32(n)))
		if nnp && n == prctl {
			l = leaf{ret: deny, mux: muxNNP}
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
	if nnp {
		// prctl(PR_SET_NO_NEW_PRIVS) only ever restricts its caller, and
		// the daemon injects it to hold a process that dropped root: it
		// stays allowed (the option is an int: the low word).
		s.bind(e.nnp)
		s.load(argLow(0))
		other := s.newLabel()
		s.jumpIf(bpf.JumpEqual, prNoNewPrivs, labelNext, other)
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
