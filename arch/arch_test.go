package arch

import (
	"runtime"
	"testing"
)

// abis returns every ABI of the package, by name.
func abis() map[string]*ABI {
	return map[string]*ABI{
		"x86_64":  X86_64.Native,
		"i386":    X86_64.Compat,
		"aarch64": AArch64.Native,
		"arm":     AArch64.Compat,
	}
}

func TestKnownNumbers(t *testing.T) {
	tests := []struct {
		abi  string
		name string
		nr   int
	}{
		{"x86_64", "read", 0},
		{"x86_64", "getpid", 39},
		{"x86_64", "execve", 59},
		{"x86_64", "execveat", 322},
		{"x86_64", "uretprobe", 335},
		{"x86_64", "setxattrat", 463},
		{"x86_64", "file_getattr", 468},
		{"x86_64", "file_setattr", 469},
		{"i386", "restart_syscall", 0},
		{"i386", "getpid", 20},
		{"i386", "setuid", 23},
		{"i386", "socketcall", 102},
		{"i386", "ipc", 117},
		{"i386", "sigreturn", 119},
		{"i386", "setuid32", 213},
		{"i386", "_llseek", 140},
		{"i386", "file_setattr", 469},
		{"aarch64", "io_setup", 0},
		{"aarch64", "getpid", 172},
		{"aarch64", "execve", 221},
		{"aarch64", "file_setattr", 469},
		{"arm", "restart_syscall", 0},
		{"arm", "getpid", 20},
		{"arm", "arm_fadvise64_64", 270},
		{"arm", "file_setattr", 469},
	}
	all := abis()
	for _, tt := range tests {
		a := all[tt.abi]
		if nr, ok := a.SyscallNumber(tt.name); !ok || nr != tt.nr {
			t.Errorf("%s SyscallNumber(%q) = %d, %v; want %d, true",
				tt.abi, tt.name, nr, ok, tt.nr)
		}
		if name, ok := a.SyscallName(tt.nr); !ok || name != tt.name {
			t.Errorf("%s SyscallName(%d) = %q, %v; want %q, true",
				tt.abi, tt.nr, name, ok, tt.name)
		}
	}
}

func TestNotInTable(t *testing.T) {
	tests := []struct {
		abi  string
		name string
	}{
		{"aarch64", "open"}, // aarch64 has only openat
		{"aarch64", "fork"},
		{"arm", "socketcall"}, // OABI only
		{"arm", "ipc"},
		{"arm", "syscall_mask"},              // an x/sys constant, no syscall
		{"aarch64", "arch_specific_syscall"}, // likewise
		{"x86_64", "listns"},                 // Linux 6.19, past the cut
		{"x86_64", "SETUID"},                 // names are lower case
	}
	all := abis()
	for _, tt := range tests {
		if nr, ok := all[tt.abi].SyscallNumber(tt.name); ok {
			t.Errorf("%s SyscallNumber(%q) = %d, true; want false", tt.abi, tt.name, nr)
		}
	}
}

func TestNRMax(t *testing.T) {
	for name, a := range abis() {
		if a.NRMax != 469 {
			t.Errorf("%s NRMax = %d, want 469", name, a.NRMax)
		}
		for _, nr := range []int{-1, a.NRMax + 1, 0x0f0005} {
			if n, ok := a.SyscallName(nr); ok {
				t.Errorf("%s SyscallName(%d) = %q, true; want false", name, nr, n)
			}
		}
	}
	// Holes lie inside the table and have no name.
	if n, ok := X86_64.Native.SyscallName(400); ok {
		t.Errorf("x86_64 SyscallName(400) = %q, true; want a hole", n)
	}
}

func TestRoundTrip(t *testing.T) {
	for name, a := range abis() {
		count := 0
		for nr := 0; nr <= a.NRMax; nr++ {
			n, ok := a.SyscallName(nr)
			if !ok {
				continue
			}
			count++
			if back, ok := a.SyscallNumber(n); !ok || back != nr {
				t.Errorf("%s: %d -> %q -> %d, %v", name, nr, n, back, ok)
			}
		}
		if count != len(a.byName) {
			t.Errorf("%s: %d numbered names, %d in byName", name, count, len(a.byName))
		}
		if count < 300 {
			t.Errorf("%s: only %d syscalls", name, count)
		}
	}
}

func TestFacts(t *testing.T) {
	tests := []struct {
		abi   *ABI
		name  string
		audit uint32
	}{
		{X86_64.Native, "x86_64", 0xc000003e},
		{X86_64.Compat, "i386", 0x40000003},
		{AArch64.Native, "aarch64", 0xc00000b7},
		{AArch64.Compat, "arm", 0x40000028},
	}
	for _, tt := range tests {
		if tt.abi.Name != tt.name || tt.abi.AuditArch != tt.audit {
			t.Errorf("ABI %s audit %#x; want %s %#x",
				tt.abi.Name, tt.abi.AuditArch, tt.name, tt.audit)
		}
	}
	if X86_64.Name != "x86_64" || AArch64.Name != "aarch64" {
		t.Errorf("arch names %q, %q", X86_64.Name, AArch64.Name)
	}
	if X86_64.X32Bit != 0x40000000 || AArch64.X32Bit != 0 {
		t.Errorf("X32Bit = %#x, %#x; want 0x40000000, 0", X86_64.X32Bit, AArch64.X32Bit)
	}
}

func TestHostAndByName(t *testing.T) {
	want := map[string]*Arch{"amd64": X86_64, "arm64": AArch64}[runtime.GOARCH]
	if got := Host(); got != want {
		t.Errorf("Host() on %s = %v, want %v", runtime.GOARCH, got, want)
	}

	tests := []struct {
		name string
		want *Arch
	}{
		{"x86_64", X86_64}, {"amd64", X86_64},
		{"aarch64", AArch64}, {"arm64", AArch64},
		{"i386", nil}, {"arm", nil}, {"X86_64", nil}, {"", nil},
	}
	for _, tt := range tests {
		got, ok := ByName(tt.name)
		if got != tt.want || ok != (tt.want != nil) {
			t.Errorf("ByName(%q) = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
}
