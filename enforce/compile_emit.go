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

// gate is a number whose verdict one argument decides: its call gets hit
// when the low 32 bits of argument arg, masked with mask, are val, and miss
// otherwise. A pass lets a denied number run for one value (hit is allow,
// miss the deny action); a refusal fails a clone that makes a sibling
// (hit an errno, miss the number's own verdict).
type gate struct {
	nr        int
	arg       int
	mask, val uint32
	hit, miss uint32
	// also are more values that get hit.
	also []uint32
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
// daemon injects it to hold a process that dropped root), clone's when p
// refuses siblings, then the passRules check of each denied number of
// pass, in ascending order. deny is the deny action.
func (p *plan) gates(pass []int, deny uint32) ([]gate, error) {
	a := p.a
	var gs []gate
	if prctl, ok := a.Native.SyscallNumber("prctl"); ok && p.native(uint32(prctl)) {
		g := gate{nr: prctl, arg: 0, mask: math.MaxUint32, val: prNoNewPrivs,
			hit: retAllow, miss: deny}
		if p.refuse {
			// A layer also lets through the question the daemon
			// asks at each hold, which only reads the caller's flag,
			// and the two calls with which the daemon clears the
			// dumpable flag before a stub goes in: a grown layer
			// denies prctl, and its listener is closed by then, so
			// they failed, and the stub was open to a process of the
			// user (adversary helper-82's pin).
			g.also = []uint32{prGetChildSubreaper, prGetDumpable, prSetDumpable}
		}
		gs = append(gs, g)
	}
	if clone, ok := a.Native.SyscallNumber("clone"); ok && p.refuse {
		gs = append(gs, p.siblingGate(clone, p.native(uint32(clone)), deny))
	}
	if prctl, ok := a.Native.SyscallNumber("prctl"); ok && p.refuse && deny == retNotify &&
		!p.native(uint32(prctl)) {
		gs = append(gs, subreaperGate(prctl))
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
			gs = append(gs, gate{nr: nr, arg: r.arg, mask: math.MaxUint32, val: r.val,
				hit: retAllow, miss: deny})
		}
	}
	return gs, nil
}

// Flags of clone(2) that a refusal reads: a new process (not a thread)
// whose parent is its creator's parent.
const (
	cloneParent = 0x00008000 // CLONE_PARENT
	cloneThread = 0x00010000 // CLONE_THREAD
)

// siblingGate is the refusal of clone number nr (native or compat, both
// take the flags first): EPERM when the flags ask for a process that is
// its creator's sibling (CLONE_PARENT without CLONE_THREAD), the number's
// verdict (denied is deny, else allow) for any other.
func (p *plan) siblingGate(nr int, denied bool, deny uint32) gate {
	miss := retAllow
	if denied {
		miss = deny
	}
	return gate{nr: nr, arg: 0, mask: cloneParent | cloneThread, val: cloneParent,
		hit: retErrno | uint32(syscall.EPERM), miss: miss}
}

// prGetDumpable and prSetDumpable are PR_GET_DUMPABLE and PR_SET_DUMPABLE,
// which a layer lets run where prctl is denied.
const (
	prGetDumpable = 3
	prSetDumpable = 4
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER, prctl's option that a
// layer hands over; prGetChildSubreaper, PR_GET_CHILD_SUBREAPER, the one a
// layer lets run where prctl is denied (the daemon asks it at each hold).
const (
	prSetChildSubreaper = 36
	prGetChildSubreaper = 37
)

// subreaperGate hands prctl number nr (native or compat) to the supervisor
// where its option is PR_SET_CHILD_SUBREAPER, and allows it otherwise: for
// a layer in a group that allows prctl (where it denies prctl, prctl is
// handed over anyway). The daemon marks the caller as one that may receive
// orphans before it lets the call run (package hold).
func subreaperGate(nr int) gate {
	return gate{nr: nr, arg: 0, mask: math.MaxUint32, val: prSetChildSubreaper,
		hit: retNotify, miss: retAllow}
}

// emit assembles the filter of p; deny is the return value of a denied
// call, and each of gates decides its native number by one argument.
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
	clone3 := -1
	if p.refuse {
		clone3 = nativeNumber(a, "clone3")
	}
	var nat runs
	for n := 0; n <= a.Native.NRMax; n++ {
		l := verdict(p.native(uint32(n)))
		if i, ok := gateOf[n]; ok {
			l = leaf{ret: deny, mux: muxGate - i}
		}
		if n == clone3 {
			l = retLeaf(retENOSYS)
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
	e.gateBlocks(gates, 0)

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

	// Compat block. Its refusals are gates of their own, after it: a
	// jump only goes forward.
	s.bind(compat)
	// By the compat table's own names: AArch32's fork and vfork, which
	// read no flags, stand for clone on aarch64.
	var compatGates []gate
	cclone, cclone3 := compatNumber(a, "clone"), compatNumber(a, "clone3")
	cprctl := -1
	if deny == retNotify {
		cprctl = compatNumber(a, "prctl")
	}
	gateLeaf := func(g gate) leaf {
		i := len(gates) + len(compatGates)
		compatGates = append(compatGates, g)
		e.gates = append(e.gates, s.newLabel())
		return leaf{ret: deny, mux: muxGate - i}
	}
	comp := pointRuns(p.compatPoints(), func(n uint32) leaf {
		d, m := p.compat(n)
		if m != nil {
			return muxLeaf[muxIndex(a, m)]
		}
		if p.refuse {
			switch int(n) {
			case cclone3:
				return retLeaf(retENOSYS)
			case cclone:
				return gateLeaf(p.siblingGate(int(n), d, deny))
			case cprctl:
				if !d {
					return gateLeaf(subreaperGate(int(n)))
				}
			}
		}
		return verdict(d)
	}, whenAny)
	if len(comp) > 1 {
		s.load(offNr)
	}
	e.tree(comp.fold())
	e.gateBlocks(compatGates, len(gates))

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

// nativeNumber is the native number of name, -1 if a has none.
func nativeNumber(a *arch.Arch, name string) int {
	if nr, ok := a.Native.SyscallNumber(name); ok {
		return nr
	}
	return -1
}

// compatNumber is the compat number of name, -1 if a has none.
func compatNumber(a *arch.Arch, name string) int {
	if a.Compat == nil {
		return -1
	}
	if nr, ok := a.Compat.SyscallNumber(name); ok {
		return nr
	}
	return -1
}

// gateBlocks emits the block of each of gs at its label, e.gates[first+i]
// for gs[i].
func (e *emitter) gateBlocks(gs []gate, first int) {
	s := e.s
	for i, g := range gs {
		// The argument is an int (an option, a signal, a pid) or clone's
		// flags, whose low word holds every flag a gate reads.
		s.bind(e.gates[first+i])
		s.load(argLow(g.arg))
		if g.mask != math.MaxUint32 {
			s.and(g.mask)
		}
		hit, other := s.newLabel(), s.newLabel()
		for _, v := range g.also {
			s.jumpIf(bpf.JumpEqual, v, hit, labelNext)
		}
		s.jumpIf(bpf.JumpEqual, g.val, labelNext, other)
		s.bind(hit)
		s.ret(g.hit)
		s.bind(other)
		s.ret(g.miss)
	}
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
