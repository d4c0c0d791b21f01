// Package oci converts a group's deny set to and from the seccomp profile of
// the OCI runtime spec (the linux.seccomp object of a config.json), so that
// a policy written for cgsyscall can be handed to a container runtime such
// as crun or runc, and a profile written for one can be loaded into a group.
//
// A profile names syscalls; libseccomp, which the runtimes use, resolves
// each name separately on every architecture the profile lists. A group
// judges a compat call as its native counterpart, found by name with the
// aliases of package arch (i386 setuid32 as setuid), and denies a compat
// call without a counterpart in any group that denies anything. [Export]
// therefore writes, beside the native names, the compat names that the
// group denies under other names; [Import] takes them back only where they
// agree with the native names of the same profile.
//
// The package is pure: it reads and writes no files and does not log.
// Messages for the user come back as warnings (strings) and errors.
package oci

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cgsyscall/cgsyscall/arch"
)

// Arches returns the libseccomp architectures of a's ABIs, the native one
// first: SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32 on x86_64,
// SCMP_ARCH_AARCH64 and SCMP_ARCH_ARM on aarch64. It is what [Export]
// lists by default. It returns nil for an architecture it does not know.
//
// x32 is listed so that a runtime judges x32 calls by name, as it does the
// other ABIs: the denied names are denied there too, with ENOSYS. Left
// out, libseccomp would treat every x32 call as a foreign architecture
// and kill the calling thread, which leaves a multi-threaded program (any
// Go program) hanging. A group denies every x32 call, named or not; a
// profile cannot say that, so under a runtime the x32 calls a group does
// not name reach the kernel (which refuses them all with ENOSYS unless it
// was built with CONFIG_X86_X32_ABI and booted with x32 enabled).
func Arches(a *arch.Arch) []specs.Arch {
	switch a.Name {
	case "x86_64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "aarch64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return nil
}

// archNames are the spellings ParseArch accepts besides the SCMP_ARCH_
// constants: the ABI names of package arch and uname -m.
var archNames = map[string]specs.Arch{
	"x86_64":  specs.ArchX86_64,
	"amd64":   specs.ArchX86_64,
	"i386":    specs.ArchX86,
	"x86":     specs.ArchX86,
	"x32":     specs.ArchX32,
	"aarch64": specs.ArchAARCH64,
	"arm64":   specs.ArchAARCH64,
	"arm":     specs.ArchARM,
}

// ParseArch returns the libseccomp architecture that name stands for: an
// SCMP_ARCH_ constant or one of x86_64, i386 (or x86), x32, aarch64 and
// arm. It must be one of a's ABIs: a group's numbers are those of a's
// tables and say nothing about another machine's.
func ParseArch(a *arch.Arch, name string) (specs.Arch, error) {
	sa, ok := archNames[name]
	if !ok {
		sa = specs.Arch(name)
	}
	own := Arches(a)
	if !slices.Contains(own, sa) {
		return "", fmt.Errorf("architecture %q is not one of this machine's (%s)",
			name, joinArches(own))
	}
	return sa, nil
}

// joinArches lists architectures for a message: "A", "A and B", "A, B and C".
func joinArches(list []specs.Arch) string {
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = string(x)
	}
	switch len(s) {
	case 0:
		return "no architecture"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// urings are the io_uring calls: a group that denies anything denies them
// too, because a ring opens files and sockets without making those
// syscalls. NOTE: keep in step with Holder.judged in enforce/hold.
var urings = []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}

// isMux reports whether compat number nr is a multiplexer (socketcall,
// ipc), which a group judges by its sub-call.
func isMux(a *arch.Arch, nr int) bool {
	for _, m := range a.Mux {
		if m.Nr == nr {
			return true
		}
	}
	return false
}
