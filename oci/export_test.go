package oci

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// set parses a control-file write on a, for test inputs.
func set(t *testing.T, a *arch.Arch, text string) policy.Set {
	t.Helper()
	s, err := policy.Parse(a, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// x86NoCounterpart are the i386 calls without an x86_64 counterpart (the
// multiplexers aside), which every export of a non-empty set names.
var x86NoCounterpart = []string{"break", "stty", "gtty", "ftime", "prof", "lock", "mpx",
	"ulimit", "profil", "idle", "vm86old", "bdflush", "vm86"}

func TestExportX86_64(t *testing.T) {
	p, warnings, err := Export(arch.X86_64, set(t, arch.X86_64, "getppid uname setuid"), nil)
	if err != nil || warnings != nil {
		t.Fatalf("Export: %v, warnings %q", err, warnings)
	}
	got, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": [
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32"
  ],
  "syscalls": [
    {
      "names": [
        "uname",
        "setuid",
        "getppid",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "break",
        "stty",
        "gtty",
        "ftime",
        "prof",
        "lock",
        "mpx",
        "ulimit",
        "oldolduname",
        "profil",
        "olduname",
        "idle",
        "vm86old",
        "bdflush",
        "vm86",
        "setuid32"
      ],
      "action": "SCMP_ACT_ERRNO",
      "errnoRet": 38
    }
  ]
}
`
	if string(got) != want {
		t.Errorf("profile:\n%s\nwant:\n%s", got, want)
	}
}

func TestExportEmpty(t *testing.T) {
	p, warnings, err := Export(arch.X86_64, policy.Set{}, nil)
	if err != nil || warnings != nil {
		t.Fatalf("Export: %v, warnings %q", err, warnings)
	}
	got, _ := Marshal(p)
	want := `{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": [
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32"
  ]
}
`
	if string(got) != want {
		t.Errorf("profile:\n%s\nwant:\n%s", got, want)
	}
}

func TestExportNativeOnly(t *testing.T) {
	p, _, err := Export(arch.X86_64, set(t, arch.X86_64, "setuid"),
		[]specs.Arch{specs.ArchX86_64, specs.ArchX32})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"setuid", "io_uring_setup", "io_uring_enter", "io_uring_register"}
	if !slices.Equal(p.Syscalls[0].Names, want) {
		t.Errorf("names %q, want %q (no i386 names without SCMP_ARCH_X86)",
			p.Syscalls[0].Names, want)
	}
	if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX32}) {
		t.Errorf("architectures %q", p.Architectures)
	}
}

func TestExportAArch64(t *testing.T) {
	p, _, err := Export(arch.AArch64, set(t, arch.AArch64, "openat getppid"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"openat", "getppid", "io_uring_setup", "io_uring_enter",
		"io_uring_register", "open", "creat", "ustat", "uselib", "bdflush", "sysfs",
		"_sysctl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "vserver"}
	if !slices.Equal(p.Syscalls[0].Names, want) {
		t.Errorf("names %q,\nwant %q", p.Syscalls[0].Names, want)
	}
	if !slices.Equal(p.Architectures, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}) {
		t.Errorf("architectures %q", p.Architectures)
	}
}

func TestExportHoles(t *testing.T) {
	p, warnings, err := Export(arch.X86_64, set(t, arch.X86_64, "getppid 340-345 400"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"left out 7 denied numbers without a syscall name (nothing is " +
		"assigned there, so the kernel answers ENOSYS anyway): 340-345 400"}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings %q, want %q", warnings, want)
	}
	if got := p.Syscalls[0].Names[:2]; !slices.Equal(got, []string{"getppid",
		"io_uring_setup"}) {
		t.Errorf("names start %q", got)
	}
}

func TestExportArchErrors(t *testing.T) {
	for _, tc := range []struct {
		arches []specs.Arch
		want   string
	}{
		{[]specs.Arch{specs.ArchX86}, "the architectures must include SCMP_ARCH_X86_64, " +
			"the one the group's numbers are of"},
		{[]specs.Arch{specs.ArchX86_64, specs.ArchAARCH64}, "architecture " +
			"SCMP_ARCH_AARCH64 is not one of this machine's (SCMP_ARCH_X86_64, " +
			"SCMP_ARCH_X86 and SCMP_ARCH_X32)"},
	} {
		_, _, err := Export(arch.X86_64, policy.NewSet(110), tc.arches)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Export(%q) = %v, want %q", tc.arches, err, tc.want)
		}
	}
}

func TestParseArch(t *testing.T) {
	for _, tc := range []struct {
		a    *arch.Arch
		name string
		want specs.Arch
		err  string
	}{
		{arch.X86_64, "x86_64", specs.ArchX86_64, ""},
		{arch.X86_64, "i386", specs.ArchX86, ""},
		{arch.X86_64, "x86", specs.ArchX86, ""},
		{arch.X86_64, "x32", specs.ArchX32, ""},
		{arch.X86_64, "SCMP_ARCH_X86", specs.ArchX86, ""},
		{arch.AArch64, "arm", specs.ArchARM, ""},
		{arch.AArch64, "SCMP_ARCH_AARCH64", specs.ArchAARCH64, ""},
		{arch.X86_64, "aarch64", "", `architecture "aarch64" is not one of this ` +
			`machine's (SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32)`},
		{arch.AArch64, "x32", "", `architecture "x32" is not one of this machine's ` +
			`(SCMP_ARCH_AARCH64 and SCMP_ARCH_ARM)`},
		{arch.X86_64, "mips", "", `architecture "mips" is not one of this machine's ` +
			`(SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32)`},
	} {
		got, err := ParseArch(tc.a, tc.name)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseArch(%s, %q) = %v, want %q", tc.a.Name, tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseArch(%s, %q) = %q, %v, want %q", tc.a.Name, tc.name, got, err,
				tc.want)
		}
	}
}

// named is every deniable number of a that has a name.
func named(a *arch.Arch) policy.Set {
	var s policy.Set
	for _, nr := range policy.Deniable(a).Numbers() {
		if _, ok := a.Native.SyscallName(nr); ok {
			s.Add(nr)
		}
	}
	return s
}

// TestRoundTrip imports exported profiles: each gives back its set with
// the io_uring calls added, and exporting that gives the same profile.
func TestRoundTrip(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		var uring policy.Set
		for _, name := range urings {
			nr, _ := a.Native.SyscallNumber(name)
			uring.Add(nr)
		}
		sets := []policy.Set{{}, set(t, a, "getppid"), set(t, a, "setuid fchown uname"),
			uring, named(a)}
		for _, nr := range policy.Deniable(a).Numbers() {
			if _, ok := a.Native.SyscallName(nr); ok {
				sets = append(sets, policy.NewSet(nr))
			}
		}
		for _, arches := range [][]specs.Arch{nil, Arches(a)[:1]} {
			for _, s := range sets {
				p, _, err := Export(a, s, arches)
				if err != nil {
					t.Fatal(err)
				}
				back, warnings, err := Import(a, p)
				if err != nil {
					t.Fatalf("%s %v: import of the export: %v", a.Name, s, err)
				}
				want := s
				if !s.Empty() {
					want = s.Union(uring)
				}
				if back != want {
					t.Errorf("%s %v: imported %v, want %v", a.Name, s, back, want)
				}
				if arches == nil && warnings != nil {
					t.Errorf("%s %v: warnings %q", a.Name, s, warnings)
				}
				p2, _, _ := Export(a, back, arches)
				j1, _ := Marshal(p)
				j2, _ := Marshal(p2)
				if string(j1) != string(j2) {
					t.Errorf("%s %v: second export differs:\n%s\n%s", a.Name, s, j1, j2)
				}
			}
		}
	}
}

func TestDenyText(t *testing.T) {
	got := string(DenyText(arch.X86_64, set(t, arch.X86_64, "getppid uname 425")))
	if want := "uname getppid io_uring_setup\n"; got != want {
		t.Errorf("DenyText = %q, want %q", got, want)
	}
	if got := string(DenyText(arch.X86_64, policy.Set{})); got != "\n" {
		t.Errorf("DenyText of the empty set = %q", got)
	}
	if !strings.HasSuffix(string(DenyText(arch.AArch64, policy.NewSet(56))), "openat\n") {
		t.Errorf("aarch64 56 is not openat")
	}
}
