package policy

import (
	"strconv"

	"github.com/cgsyscall/cgsyscall/arch"
)

// nrMax returns the highest number of a's native table. It panics when a
// Set could not hold that number: such an architecture needs a larger
// [Capacity], and going on would silently drop numbers.
func nrMax(a *arch.Arch) int {
	m := a.Native.NRMax
	if m < 0 || m >= Capacity {
		panic("policy: native table of " + a.Name + " ends at " + strconv.Itoa(m) +
			", beyond the set capacity")
	}
	return m
}

// Full returns every number of a's native table, 0..NRMax, holes included:
// what syscalls.allow lists when nothing is denied.
func Full(a *arch.Arch) Set {
	return span(0, nrMax(a))
}

// NeverDeny returns the native numbers no group may deny (a.NeverDeny),
// keeping only those inside the table.
func NeverDeny(a *arch.Arch) Set {
	m := nrMax(a)
	var s Set
	for _, n := range a.NeverDeny {
		if n >= 0 && n <= m {
			s.Add(n)
		}
	}
	return s
}

// Deniable returns the numbers a group may deny: [Full] minus [NeverDeny].
// It is what the token "all" stands for.
func Deniable(a *arch.Arch) Set {
	return Full(a).Minus(NeverDeny(a))
}
