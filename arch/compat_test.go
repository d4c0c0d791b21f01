package arch

import (
	"slices"
	"testing"
)

// nativeOf returns the native name that compat call name maps to, or ""
// for -1.
func nativeOf(t *testing.T, a *Arch, name string) string {
	t.Helper()
	nr, ok := a.Compat.SyscallNumber(name)
	if !ok {
		t.Fatalf("%s has no %s", a.Compat.Name, name)
	}
	n, _ := a.Native.SyscallName(a.CompatToNative(nr))
	return n
}

func TestCompatNative(t *testing.T) {
	tests := []struct {
		arch   *Arch
		compat string
		native string // "" for none
	}{
		{X86_64, "getpid", "getpid"},
		{X86_64, "setuid", "setuid"},
		{X86_64, "execve", "execve"},
		{X86_64, "fstat64", "fstat"},
		{X86_64, "stat64", "stat"},
		{X86_64, "lstat64", "lstat"},
		{X86_64, "fstatat64", "newfstatat"},
		{X86_64, "fcntl64", "fcntl"},
		{X86_64, "truncate64", "truncate"},
		{X86_64, "ftruncate64", "ftruncate"},
		{X86_64, "statfs64", "statfs"},
		{X86_64, "fstatfs64", "fstatfs"},
		{X86_64, "sendfile64", "sendfile"},
		{X86_64, "fadvise64_64", "fadvise64"},
		{X86_64, "mmap2", "mmap"},
		{X86_64, "_llseek", "lseek"},
		{X86_64, "_newselect", "select"},
		{X86_64, "clock_gettime64", "clock_gettime"},
		{X86_64, "futex_time64", "futex"},
		{X86_64, "semtimedop_time64", "semtimedop"},
		{X86_64, "ugetrlimit", "getrlimit"},
		{X86_64, "waitpid", "wait4"},
		{X86_64, "umount", "umount2"},
		{X86_64, "sigreturn", "rt_sigreturn"},
		{X86_64, "open", "open"},
		{X86_64, "fork", "fork"},
		{X86_64, "socketcall", ""}, // judged by its Mux
		{X86_64, "ipc", ""},
		{X86_64, "vm86", ""},
		{X86_64, "break", ""},
		{AArch64, "getpid", "getpid"},
		{AArch64, "open", "openat"},
		{AArch64, "creat", "openat"},
		{AArch64, "fork", "clone"},
		{AArch64, "vfork", "clone"},
		{AArch64, "stat64", "newfstatat"},
		{AArch64, "lstat64", "newfstatat"},
		{AArch64, "fstat64", "fstat"},
		{AArch64, "chown32", "fchownat"},
		{AArch64, "dup2", "dup3"},
		{AArch64, "pipe", "pipe2"},
		{AArch64, "send", "sendto"},
		{AArch64, "recv", "recvfrom"},
		{AArch64, "_newselect", "pselect6"},
		{AArch64, "arm_fadvise64_64", "fadvise64"},
		{AArch64, "arm_sync_file_range", "sync_file_range"},
		{AArch64, "_sysctl", ""},
		{AArch64, "uselib", ""},
		{AArch64, "pciconfig_read", ""},
	}
	for _, tt := range tests {
		if got := nativeOf(t, tt.arch, tt.compat); got != tt.native {
			t.Errorf("%s %s -> %q, want %q", tt.arch.Compat.Name, tt.compat, got, tt.native)
		}
	}
}

// TestTwins checks that both the 16-bit and the 32-bit uid/gid calls of
// the compat ABIs map to the one native call.
func TestTwins(t *testing.T) {
	twins := []string{
		"setuid", "chown", "lchown", "fchown", "getuid", "getgid", "geteuid",
		"getegid", "setgid", "setreuid", "setregid", "getgroups", "setgroups",
		"setresuid", "getresuid", "setresgid", "getresgid", "setfsuid", "setfsgid",
	}
	for _, a := range []*Arch{X86_64, AArch64} {
		for _, n := range twins {
			want := nativeName(a.Native, n)
			if want == "" {
				t.Errorf("%s: no native call for %s", a.Name, n)
				continue
			}
			if got := nativeOf(t, a, n); got != want {
				t.Errorf("%s %s -> %q, want %q", a.Compat.Name, n, got, want)
			}
			if got := nativeOf(t, a, n+"32"); got != want {
				t.Errorf("%s %s32 -> %q, want %q", a.Compat.Name, n, got, want)
			}
		}
	}
	// x86_64 has all of them under their own names.
	if got := nativeOf(t, X86_64, "setuid32"); got != "setuid" {
		t.Errorf("i386 setuid32 -> %q, want setuid", got)
	}
}

func TestCompatNativeShape(t *testing.T) {
	for _, a := range []*Arch{X86_64, AArch64} {
		if len(a.CompatNative) != a.Compat.NRMax+1 {
			t.Errorf("%s: len(CompatNative) = %d, want %d",
				a.Name, len(a.CompatNative), a.Compat.NRMax+1)
		}
		for nr, native := range a.CompatNative {
			name, named := a.Compat.SyscallName(nr)
			switch {
			case !named && native != -1:
				t.Errorf("%s: hole %d maps to %d", a.Name, nr, native)
			case native == -1:
			case native < 0 || native > a.Native.NRMax:
				t.Errorf("%s: %s maps to %d, out of range", a.Name, name, native)
			default:
				if _, ok := a.Native.SyscallName(native); !ok {
					t.Errorf("%s: %s maps to hole %d", a.Name, name, native)
				}
			}
			// A compat call with a native namesake is that call.
			if want, ok := a.Native.SyscallNumber(name); named && ok && native != want {
				t.Errorf("%s: %s maps to %d, want %d", a.Name, name, native, want)
			}
		}
		for _, nr := range []int{-1, a.Compat.NRMax + 1, 0x0f0002, 0x0f0005} {
			if got := a.CompatToNative(nr); got != -1 {
				t.Errorf("%s: CompatToNative(%#x) = %d, want -1", a.Name, nr, got)
			}
		}
	}
	// x86_64 getpid is 39, i386 getpid is 20.
	if got := X86_64.CompatToNative(20); got != 39 {
		t.Errorf("CompatToNative(20) = %d, want 39", got)
	}
}

func TestMux(t *testing.T) {
	if len(AArch64.Mux) != 0 {
		t.Errorf("AArch64.Mux = %v, want none (EABI has no socketcall, ipc)", AArch64.Mux)
	}
	if len(X86_64.Mux) != 2 {
		t.Fatalf("X86_64.Mux has %d entries, want 2", len(X86_64.Mux))
	}

	tests := []struct {
		mux  Mux
		nr   int
		mask uint32
		sub  map[uint32]string
	}{
		{X86_64.Mux[0], 102, 0xffffffff, map[uint32]string{
			1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept",
			6: "getsockname", 7: "getpeername", 8: "socketpair", 9: "sendto",
			10: "recvfrom", 11: "sendto", 12: "recvfrom", 13: "shutdown",
			14: "setsockopt", 15: "getsockopt", 16: "sendmsg", 17: "recvmsg",
			18: "accept4", 19: "recvmmsg", 20: "sendmmsg",
		}},
		{X86_64.Mux[1], 117, 0xffff, map[uint32]string{
			1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop",
			11: "msgsnd", 12: "msgrcv", 13: "msgget", 14: "msgctl",
			21: "shmat", 22: "shmdt", 23: "shmget", 24: "shmctl",
		}},
	}
	for _, tt := range tests {
		m := tt.mux
		if m.Nr != tt.nr || m.Arg != 0 || m.Mask != tt.mask {
			t.Errorf("mux %d: arg %d mask %#x; want %d, 0, %#x",
				m.Nr, m.Arg, m.Mask, tt.nr, tt.mask)
		}
		if len(m.Sub) != len(tt.sub) {
			t.Errorf("mux %d: %d sub-calls, want %d", m.Nr, len(m.Sub), len(tt.sub))
		}
		for sub, name := range tt.sub {
			want, _ := X86_64.Native.SyscallNumber(name)
			if got, ok := m.Sub[sub]; !ok || got != want {
				t.Errorf("mux %d sub %d = %d, %v; want %s (%d)",
					m.Nr, sub, got, ok, name, want)
			}
		}
	}
	// Numbers pinned by hand: socket 41, sendto 44, semop 65, shmat 30.
	if s, i := X86_64.Mux[0].Sub, X86_64.Mux[1].Sub; s[1] != 41 || s[9] != 44 ||
		i[1] != 65 || i[21] != 30 {
		t.Errorf("socketcall %v, ipc %v", s, i)
	}
}

func TestNeverDeny(t *testing.T) {
	tests := []struct {
		arch        *Arch
		neverDeny   []int
		compatAllow []int
	}{
		// x86_64: rt_sigreturn 15, exit 60, restart_syscall 219, exit_group 231.
		// i386: restart_syscall 0, exit 1, sigreturn 119, rt_sigreturn 173,
		// exit_group 252.
		{X86_64, []int{15, 60, 219, 231}, []int{0, 1, 119, 173, 252}},
		// aarch64: exit 93, exit_group 94, restart_syscall 128,
		// rt_sigreturn 139. arm: as i386 but exit_group 248.
		{AArch64, []int{93, 94, 128, 139}, []int{0, 1, 119, 173, 248}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.arch.NeverDeny, tt.neverDeny) {
			t.Errorf("%s NeverDeny = %v, want %v", tt.arch.Name, tt.arch.NeverDeny, tt.neverDeny)
		}
		if !slices.Equal(tt.arch.CompatAllow, tt.compatAllow) {
			t.Errorf("%s CompatAllow = %v, want %v",
				tt.arch.Name, tt.arch.CompatAllow, tt.compatAllow)
		}
		// Every compat twin maps to a never-denied native call.
		for _, nr := range tt.arch.CompatAllow {
			if n := tt.arch.CompatToNative(nr); !slices.Contains(tt.arch.NeverDeny, n) {
				t.Errorf("%s: compat %d maps to %d, not never-deny", tt.arch.Name, nr, n)
			}
		}
	}
}
