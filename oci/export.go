package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// Export returns the profile that denies what a group with deny set deny
// denies: defaultAction SCMP_ACT_ALLOW and one entry SCMP_ACT_ERRNO with
// errnoRet 38 (ENOSYS) that names
//
//   - every number of deny, by its native name, in ascending order;
//   - when deny is not empty, the io_uring calls, which such a group denies
//     too (README, "Running processes");
//   - when arches lists the compat ABI, the compat calls the group denies
//     under a name the native table lacks: the aliases of a denied call
//     (i386 setuid32 and chown32 for setuid and chown, olduname for uname)
//     and, when deny is not empty, the compat calls without a native
//     counterpart (i386 vm86). socketcall and ipc are left out: libseccomp
//     judges their sub-calls by the native names already listed.
//
// arches is the profile's architectures list; nil means [Arches]. It must
// hold a's native architecture. A denied number that has no name in the
// native table (a hole: no syscall is assigned there, and the kernel
// answers it with ENOSYS whatever the filter says) cannot be named in a
// profile; it is left out, and one warning lists every such number. An
// empty deny set gives a profile without a syscalls entry, which allows
// everything, as the group does.
func Export(a *arch.Arch, deny policy.Set, arches []specs.Arch) (*specs.LinuxSeccomp,
	[]string, error) {
	own := Arches(a)
	if own == nil {
		return nil, nil, fmt.Errorf("no OCI architecture for %s", a.Name)
	}
	if arches == nil {
		arches = own
	}
	for _, x := range arches {
		if !slices.Contains(own, x) {
			return nil, nil, fmt.Errorf("architecture %s is not one of this machine's (%s)",
				x, joinArches(own))
		}
	}
	if !slices.Contains(arches, own[0]) {
		return nil, nil, fmt.Errorf("the architectures must include %s, the one the "+
			"group's numbers are of", own[0])
	}
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: slices.Clone(arches),
	}
	eff := deny
	if !eff.Empty() {
		for _, name := range urings {
			if nr, ok := a.Native.SyscallNumber(name); ok {
				eff.Add(nr)
			}
		}
	}
	var names []string
	var holes []int
	for _, nr := range eff.Numbers() {
		if name, ok := a.Native.SyscallName(nr); ok {
			names = append(names, name)
		} else {
			holes = append(holes, nr)
		}
	}
	if slices.Contains(arches, own[1]) {
		names = append(names, compatNames(a, eff)...)
	}
	var warnings []string
	if len(holes) > 0 {
		warnings = append(warnings, fmt.Sprintf("left out %d denied number%s without a "+
			"syscall name (nothing is assigned there, so the kernel answers ENOSYS "+
			"anyway): %s", len(holes), plural(len(holes)), ranges(holes)))
	}
	if len(names) > 0 {
		errno := uint(syscall.ENOSYS)
		p.Syscalls = []specs.LinuxSyscall{{
			Names:    names,
			Action:   specs.ActErrno,
			ErrnoRet: &errno,
		}}
	}
	return p, warnings, nil
}

// compatNames lists, in compat number order, the compat calls a group with
// effective set eff denies whose name the native table lacks.
func compatNames(a *arch.Arch, eff policy.Set) []string {
	var out []string
	for nr := 0; nr <= a.Compat.NRMax; nr++ {
		name, ok := a.Compat.SyscallName(nr)
		if !ok || isMux(a, nr) {
			continue
		}
		if _, native := a.Native.SyscallNumber(name); native {
			continue
		}
		if to := a.CompatToNative(nr); (to >= 0 && eff.Has(to)) || (to < 0 && !eff.Empty()) {
			out = append(out, name)
		}
	}
	return out
}

// Marshal returns p as indented JSON with a final newline, as export
// prints it.
func Marshal(p *specs.LinuxSeccomp) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ranges writes ascending numbers compactly: "335-423 500".
func ranges(nrs []int) string {
	var parts []string
	for i := 0; i < len(nrs); {
		j := i
		for j+1 < len(nrs) && nrs[j+1] == nrs[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, strconv.Itoa(nrs[i])+"-"+strconv.Itoa(nrs[j]))
		} else {
			parts = append(parts, strconv.Itoa(nrs[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, " ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
