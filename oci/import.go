package oci

import (
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// How a group can take each action of a profile: allowing (the default of
// every group), denying (ENOSYS), or not at all.
var (
	allowing = []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog}
	denying  = []specs.LinuxSeccompAction{specs.ActErrno}
	foreign  = []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess,
		specs.ActKillThread, specs.ActTrap, specs.ActTrace, specs.ActNotify}
)

// knownFlags are the seccomp flags of the runtime spec. None of them
// changes which calls fail, so Import ignores them with a warning.
var knownFlags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog,
	specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}

// Import returns the native numbers that profile p denies, for one write
// to a group's syscalls.deny, and warnings about what the group does
// differently from p. It accepts only what a group can express and
// returns the first obstacle otherwise:
//
//   - defaultAction must be SCMP_ACT_ALLOW or SCMP_ACT_LOG (calls are not
//     logged: a warning). A profile that denies by default, an allow list,
//     is refused: a group denies what its syscalls.deny lists, and turning
//     such a profile around would deny every number the profile's author
//     did not list, names and holes of this table alike.
//   - architectures, when given, must list this machine's native one; an
//     empty list means the native one, as in the runtime spec.
//   - Entries whose action is SCMP_ACT_ALLOW or SCMP_ACT_LOG do what the
//     default does and are skipped unread. An SCMP_ACT_ERRNO entry denies
//     its names; an errnoRet other than 38 (none means EPERM, the spec's
//     default) becomes ENOSYS, with a warning. The kill, trap, trace and
//     notify actions are refused, and so are conditions on arguments.
//   - A name is a syscall of the native table, or a compat one that the
//     native table lacks: an alias (i386 setuid32), which the profile must
//     deny together with its counterpart (setuid), or a compat call
//     without a counterpart (i386 vm86), which a group denies as soon as
//     it denies anything. socketcall and ipc, unknown names and the calls
//     no group may deny are refused.
//   - flags are ignored with a warning; listenerPath is refused.
func Import(a *arch.Arch, p *specs.LinuxSeccomp) (policy.Set, []string, error) {
	var none policy.Set
	var warnings []string
	switch act := p.DefaultAction; {
	case act == "":
		return none, nil, fmt.Errorf("profile has no defaultAction")
	case act == specs.ActLog:
		warnings = append(warnings, "defaultAction SCMP_ACT_LOG is taken as "+
			"SCMP_ACT_ALLOW: calls are not logged")
	case slices.Contains(allowing, act):
	case slices.Contains(denying, act) || slices.Contains(foreign, act):
		return none, nil, fmt.Errorf("cannot express defaultAction %s: a group denies "+
			"what its syscalls.deny lists, and this profile refuses every call it does "+
			"not list", act)
	default:
		return none, nil, fmt.Errorf("unknown defaultAction %q", act)
	}
	if p.DefaultErrnoRet != nil {
		return none, nil, fmt.Errorf("defaultErrnoRet is set, but defaultAction is %s",
			p.DefaultAction)
	}
	if p.ListenerPath != "" || p.ListenerMetadata != "" {
		return none, nil, fmt.Errorf("cannot express listenerPath or listenerMetadata: " +
			"a group has no seccomp agent")
	}
	for _, f := range p.Flags {
		if !slices.Contains(knownFlags, f) {
			return none, nil, fmt.Errorf("unknown flag %q", f)
		}
		warnings = append(warnings, fmt.Sprintf("flag %s is ignored: it changes no "+
			"call's result", f))
	}
	w, err := checkArches(a, p.Architectures)
	if err != nil {
		return none, nil, err
	}
	warnings = append(warnings, w...)

	var deny policy.Set
	var compat []compatName
	for i, e := range p.Syscalls {
		label := entryLabel(i, e.Names)
		if len(e.Names) == 0 {
			return none, nil, fmt.Errorf("syscalls entry %d has no names", i+1)
		}
		switch {
		case slices.Contains(allowing, e.Action):
			continue // what the default does
		case slices.Contains(foreign, e.Action):
			return none, nil, fmt.Errorf("cannot express action %s of %s: a group "+
				"denies with ENOSYS only", e.Action, label)
		case !slices.Contains(denying, e.Action):
			return none, nil, fmt.Errorf("unknown action %q in %s", e.Action, label)
		}
		if len(e.Args) > 0 {
			return none, nil, fmt.Errorf("cannot express the conditions on the arguments "+
				"of %s: a group denies a syscall whatever its arguments", label)
		}
		errno := uint(syscall.EPERM) // the runtime spec's default
		if e.ErrnoRet != nil {
			errno = *e.ErrnoRet
		}
		if errno != uint(syscall.ENOSYS) {
			warnings = append(warnings, fmt.Sprintf("%s: errno %d (%v) becomes ENOSYS, "+
				"the only errno a group returns", label, errno, syscall.Errno(errno)))
		}
		for _, name := range e.Names {
			if nr, ok := a.Native.SyscallNumber(name); ok {
				if policy.NeverDeny(a).Has(nr) {
					return none, nil, fmt.Errorf("cannot deny %s: no process can live "+
						"without it", name)
				}
				deny.Add(nr)
				continue
			}
			nr, ok := a.Compat.SyscallNumber(name)
			if !ok {
				return none, nil, fmt.Errorf("unknown syscall %q: neither %s nor %s has it",
					name, a.Native.Name, a.Compat.Name)
			}
			compat = append(compat, compatName{name, nr})
		}
	}
	for _, c := range compat {
		if err := c.check(a, deny); err != nil {
			return none, nil, err
		}
	}
	return deny, warnings, nil
}

// checkArches checks a profile's architectures list against a.
func checkArches(a *arch.Arch, list []specs.Arch) ([]string, error) {
	own := Arches(a)
	if own == nil {
		return nil, fmt.Errorf("no OCI architecture for %s", a.Name)
	}
	if len(list) == 0 {
		list = own[:1] // the runtime spec: only the native architecture
	}
	if !slices.Contains(list, own[0]) {
		return nil, fmt.Errorf("profile is for %s, this machine is %s", joinArches(list),
			a.Name)
	}
	if !slices.Contains(list, own[1]) {
		return []string{fmt.Sprintf("the profile does not list %s, so a runtime refuses "+
			"every %s call; a group judges each as its %s counterpart", own[1],
			a.Compat.Name, a.Native.Name)}, nil
	}
	return nil, nil
}

// compatName is a compat syscall a profile names that the native table
// lacks.
type compatName struct {
	name string
	nr   int // in the compat table
}

// check tells whether a group whose set is deny denies c, as the profile
// does.
func (c compatName) check(a *arch.Arch, deny policy.Set) error {
	if isMux(a, c.nr) {
		return fmt.Errorf("cannot deny %s %s as a whole: a group judges it by its sub-call",
			a.Compat.Name, c.name)
	}
	to := a.CompatToNative(c.nr)
	if to < 0 {
		if deny.Empty() {
			return fmt.Errorf("cannot deny %s %s alone: a group denies it exactly when it "+
				"denies anything", a.Compat.Name, c.name)
		}
		return nil
	}
	if !deny.Has(to) {
		native, _ := a.Native.SyscallName(to)
		return fmt.Errorf("cannot deny %s %s without %s: a group judges it as %s",
			a.Compat.Name, c.name, native, native)
	}
	return nil
}

// entryLabel names a syscalls entry in messages: "syscalls entry 2 (chmod,
// chown, fchmod, ...)".
func entryLabel(i int, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("syscalls entry %d", i+1)
	}
	shown := names[:min(len(names), 3)]
	more := ""
	if len(names) > 3 {
		more = ", ..."
	}
	return fmt.Sprintf("syscalls entry %d (%s%s)", i+1, strings.Join(shown, ", "), more)
}

// DenyText is what import writes to syscalls.deny for s: the names of its
// numbers in ascending order, separated by spaces, and a newline. Every
// number of a set that [Import] returned has a name.
func DenyText(a *arch.Arch, s policy.Set) []byte {
	var names []string
	for _, nr := range s.Numbers() {
		if name, ok := a.Native.SyscallName(nr); ok {
			names = append(names, name)
		} else {
			names = append(names, fmt.Sprint(nr))
		}
	}
	return []byte(strings.Join(names, " ") + "\n")
}
