package enforce

import (
	"fmt"
	"slices"
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Judge tells whether the filter that Compile(a, deny, mode) builds denies
// a call with the given seccomp_data fields (true = denied), whatever the
// mode. The supervisor of ModeNotify answers notifications with it; it
// allocates nothing and scans deny, so it costs well under a microsecond.
//
// nr is seccomp_data.nr; like the filter, Judge compares it as an unsigned
// 32-bit value, so -1 is a very large number (and has the x32 bit set on
// x86_64). Numbers of deny outside 0..a.Native.NRMax, which Compile
// refuses, are ignored here.
func Judge(a *arch.Arch, deny []int, auditArch uint32, nr int, args [6]uint64) bool {
	p := plan{a: a, deny: deny}
	p.any = p.anyDenied()
	n := uint32(nr)

	switch {
	case auditArch == a.Native.AuditArch:
		if a.X32Bit != 0 && n&a.X32Bit != 0 {
			return p.any
		}
		if !p.native(n) {
			return false
		}
		prctl, ok := a.Native.SyscallNumber("prctl")
		return !ok || int(n) != prctl || uint32(args[0]) != prNoNewPrivs
	case a.Compat != nil && auditArch == a.Compat.AuditArch:
		denied, mux := p.compat(n)
		if mux == nil {
			return denied
		}
		if mux.Arg < 0 || mux.Arg > 5 {
			return p.any // Compile refuses such a table
		}
		return p.sub(mux, uint32(args[mux.Arg])&mux.Mask)
	}
	return p.any
}

// plan is a deny set seen through one architecture: the single source of
// the filter's semantics, shared by Compile and Judge.
type plan struct {
	a    *arch.Arch
	deny []int
	bits []bool // Compile's lookup table of native numbers; nil in Judge
	any  bool   // some number is denied
	// refuse: every ABI's clone fails with EPERM where it would make a
	// sibling of its caller, and clone3 with ENOSYS (CompileLayer).
	refuse bool
}

// newPlan prepares deny for Compile. It fails for numbers outside the
// native table or a multiplexer that reads no argument.
func newPlan(a *arch.Arch, deny []int) (*plan, error) {
	for _, nr := range deny {
		if nr < 0 || nr > a.Native.NRMax {
			return nil, fmt.Errorf("enforce: syscall %d outside 0..%d: %w",
				nr, a.Native.NRMax, syscall.ERANGE)
		}
	}
	for _, m := range a.Mux {
		if m.Arg < 0 || m.Arg > 5 {
			return nil, fmt.Errorf("enforce: mux %d reads argument %d: %w",
				m.Nr, m.Arg, syscall.EINVAL)
		}
	}
	p := &plan{a: a, deny: deny}
	bits := make([]bool, a.Native.NRMax+1)
	for n := range bits {
		bits[n] = p.native(uint32(n))
		p.any = p.any || bits[n]
	}
	p.bits = bits
	return p, nil
}

// anyDenied tells whether deny holds a number that may be denied.
func (p *plan) anyDenied() bool {
	for _, nr := range p.deny {
		if p.native(uint32(nr)) {
			return true
		}
	}
	return false
}

// native tells whether native number n (x32 bit clear) is denied: it is
// in deny, in the table, and not one of a.NeverDeny.
func (p *plan) native(n uint32) bool {
	if n > uint32(p.a.Native.NRMax) {
		return false
	}
	if p.bits != nil {
		return p.bits[n]
	}
	return slices.Contains(p.deny, int(n)) && !slices.Contains(p.a.NeverDeny, int(n))
}

// mapped tells whether a compat call whose native counterpart is nat (-1
// for none) is denied.
func (p *plan) mapped(nat int) bool {
	if nat < 0 || nat > p.a.Native.NRMax {
		return p.any
	}
	return p.native(uint32(nat))
}

// compatSize is the number of entries of the compat table.
func (p *plan) compatSize() int {
	if p.a.Compat == nil {
		return 0
	}
	return min(p.a.Compat.NRMax+1, len(p.a.CompatNative))
}

// compat judges compat number n. For a multiplexer it returns the Mux,
// and the verdict depends on the sub-call (see sub).
func (p *plan) compat(n uint32) (deny bool, mux *arch.Mux) {
	for _, nr := range p.a.CompatAllow {
		if nr >= 0 && uint64(nr) == uint64(n) {
			return false, nil
		}
	}
	if uint64(n) >= uint64(p.compatSize()) {
		return p.any, nil
	}
	for i := range p.a.Mux {
		if uint64(p.a.Mux[i].Nr) == uint64(n) {
			return false, &p.a.Mux[i]
		}
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
