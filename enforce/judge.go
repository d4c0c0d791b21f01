package enforce

import (
	"fmt"
	"math"
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Judge tells whether the filter that Compile(a, deny, mode) builds denies
// a call with the given seccomp_data fields (true = denied), whatever the
// mode. The supervisor of ModeNotify answers notifications with it.
//
// nr is seccomp_data.nr; like the filter, Judge compares it as an unsigned
// 32-bit value, so -1 is a very large number (and has the x32 bit set on
// x86_64). Numbers of deny outside 0..a.Native.NRMax, which Compile
// refuses, are ignored here.
func Judge(a *arch.Arch, deny []int, auditArch uint32, nr int, args [6]uint64) bool {
	p, _ := newPlan(a, deny)
	n := uint32(nr)

	switch {
	case auditArch == a.Native.AuditArch:
		if a.X32Bit != 0 && n&a.X32Bit != 0 {
			return p.any
		}
		return p.native(n)
	case a.Compat != nil && auditArch == a.Compat.AuditArch:
		deny, mux := p.compat(n)
		if mux == nil {
			return deny
		}
		return p.sub(mux, uint32(args[mux.Arg])&mux.Mask)
	}
	return p.any
}

// plan is a deny set prepared for one architecture: the single source of
// the filter's semantics, shared by Compile and Judge.
type plan struct {
	a      *arch.Arch
	denied []bool // indexed by native number, 0..NRMax
	any    bool   // some number is denied
	compN  int    // size of the compat table
	allow  map[int]bool
	muxes  map[int]*arch.Mux
}

// newPlan drops a.NeverDeny from deny. It fails for numbers outside the
// native table but still returns a plan without them.
func newPlan(a *arch.Arch, deny []int) (*plan, error) {
	p := &plan{
		a:      a,
		denied: make([]bool, a.Native.NRMax+1),
		allow:  map[int]bool{},
		muxes:  map[int]*arch.Mux{},
	}
	var err error
	for _, nr := range deny {
		if nr < 0 || nr >= len(p.denied) {
			err = fmt.Errorf("enforce: syscall %d outside 0..%d: %w",
				nr, a.Native.NRMax, syscall.ERANGE)
			continue
		}
		p.denied[nr] = true
	}
	for _, nr := range a.NeverDeny {
		if nr >= 0 && nr < len(p.denied) {
			p.denied[nr] = false
		}
	}
	for _, d := range p.denied {
		p.any = p.any || d
	}
	if a.Compat != nil {
		p.compN = a.Compat.NRMax + 1
		if len(a.CompatNative) < p.compN {
			p.compN = len(a.CompatNative)
		}
	}
	for _, nr := range a.CompatAllow {
		p.allow[nr] = true
	}
	for i := range a.Mux {
		if a.Mux[i].Arg < 0 || a.Mux[i].Arg > 5 {
			err = fmt.Errorf("enforce: mux %d reads argument %d: %w",
				a.Mux[i].Nr, a.Mux[i].Arg, syscall.EINVAL)
			continue
		}
		if _, dup := p.muxes[a.Mux[i].Nr]; !dup {
			p.muxes[a.Mux[i].Nr] = &a.Mux[i]
		}
	}
	return p, err
}

// native tells whether native number n (x32 bit clear) is denied.
func (p *plan) native(n uint32) bool {
	return n < uint32(len(p.denied)) && p.denied[n]
}

// mapped tells whether a compat call whose native counterpart is nat (-1
// for none) is denied.
func (p *plan) mapped(nat int) bool {
	if nat < 0 || nat >= len(p.denied) {
		return p.any
	}
	return p.denied[nat]
}

// compat judges compat number n. For a multiplexer it returns the Mux,
// and the verdict depends on the sub-call (see sub).
func (p *plan) compat(n uint32) (deny bool, mux *arch.Mux) {
	if uint64(n) <= math.MaxInt32 && p.allow[int(n)] {
		return false, nil
	}
	if n >= uint32(p.compN) {
		return p.any, nil
	}
	if m := p.muxes[int(n)]; m != nil {
		return false, m
	}
	return p.mapped(p.a.CompatNative[n]), nil
}

// sub judges sub-call v (already masked) of multiplexer m.
func (p *plan) sub(m *arch.Mux, v uint32) bool {
	nat, ok := m.Sub[v]
	if !ok {
		return p.any
	}
	return p.mapped(nat)
}
