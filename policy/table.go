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

// Uring returns the native numbers of the io_uring calls (io_uring_setup,
// io_uring_enter, io_uring_register). A ring makes reads, writes, opens
// and connects without those syscalls, past any filter, so a group that
// denies anything denies them too: the daemon judges its members so, and
// refuses an allow of one there (EPERM).
func Uring(a *arch.Arch) Set {
	var s Set
	for _, name := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register"} {
		if nr, ok := a.Native.SyscallNumber(name); ok {
			s.Add(nr)
		}
	}
	return s
}
