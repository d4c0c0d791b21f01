package arch

import (
	"fmt"
	"slices"
	"strings"
)

// compatAlias names, for a compat syscall that the native table lacks, the
// native call of the same effect. It is consulted only when the native
// table has no call of the compat name, so one table serves both
// architectures: "open" -> "openat" matters on aarch64 only, because
// x86_64 has open. Lookups chain (creat -> open -> openat) and the result
// must be a native name. An entry belongs here only where the native call
// does what the compat one does, so that denying it denies both; a compat
// call with no entry and no native namesake maps to -1.
//
// Before giving up, three suffixes are dropped, in this order: "_time64"
// and "64" (the y2038 twins such as futex_time64 and clock_gettime64, and
// the large-file twins such as fstat64 and truncate64) and "32" (the 32-bit
// uid/gid twins such as setuid32). The table lists the names these rules
// would miss or get wrong.
var compatAlias = map[string]string{
	// 32-bit ABI calls whose native twin has another name.
	"_llseek":          "lseek",
	"mmap2":            "mmap",
	"fstatat64":        "newfstatat",
	"fadvise64_64":     "fadvise64",
	"arm_fadvise64_64": "fadvise64",
	"ugetrlimit":       "getrlimit",

	// Older forms of a call that x86_64 and aarch64 have in a newer form.
	"_newselect":          "select",
	"oldstat":             "stat",
	"oldfstat":            "fstat",
	"oldlstat":            "lstat",
	"olduname":            "uname",
	"oldolduname":         "uname",
	"readdir":             "getdents",
	"umount":              "umount2",
	"waitpid":             "wait4",
	"nice":                "setpriority",
	"stime":               "settimeofday",
	"arm_sync_file_range": "sync_file_range",
	"recv":                "recvfrom",
	"send":                "sendto",
	"signal":              "rt_sigaction",
	"sigaction":           "rt_sigaction",
	"sigprocmask":         "rt_sigprocmask",
	"sgetmask":            "rt_sigprocmask",
	"ssetmask":            "rt_sigprocmask",
	"sigpending":          "rt_sigpending",
	"sigsuspend":          "rt_sigsuspend",
	"sigreturn":           "rt_sigreturn",

	// Calls aarch64 has only as their *at or flags-taking successor.
	"open":         "openat",
	"creat":        "open",
	"access":       "faccessat",
	"chmod":        "fchmodat",
	"chown":        "fchownat",
	"lchown":       "fchownat",
	"stat":         "newfstatat",
	"lstat":        "newfstatat",
	"fstatat":      "newfstatat",
	"link":         "linkat",
	"symlink":      "symlinkat",
	"readlink":     "readlinkat",
	"unlink":       "unlinkat",
	"rmdir":        "unlinkat",
	"mkdir":        "mkdirat",
	"mknod":        "mknodat",
	"rename":       "renameat",
	"futimesat":    "utimensat",
	"utimes":       "utimensat",
	"getdents":     "getdents64",
	"dup2":         "dup3",
	"pipe":         "pipe2",
	"poll":         "ppoll",
	"select":       "pselect6",
	"epoll_create": "epoll_create1",
	"epoll_wait":   "epoll_pwait",
	"eventfd":      "eventfd2",
	"signalfd":     "signalfd4",
	"inotify_init": "inotify_init1",
	"getpgrp":      "getpgid",
	"pause":        "rt_sigsuspend",
	"fork":         "clone",
	"vfork":        "clone",
}

// nativeName returns the name of the native call that compat call name is
// judged as, or "" when there is none.
func nativeName(native *ABI, name string) string {
	for range 4 { // longest chain: lstat64 -> lstat -> newfstatat
		if _, ok := native.SyscallNumber(name); ok {
			return name
		}
		if alias, ok := compatAlias[name]; ok {
			name = alias
			continue
		}
		s, ok := cutSuffix(name, "_time64", "64", "32")
		if !ok {
			break
		}
		name = s
	}
	return ""
}

// cutSuffix removes the first of suffixes that name ends with.
func cutSuffix(name string, suffixes ...string) (string, bool) {
	for _, suf := range suffixes {
		if s, ok := strings.CutSuffix(name, suf); ok {
			return s, true
		}
	}
	return name, false
}

// Sub-calls of socketcall(2), SYS_* of <linux/net.h>, by native name.
var socketcallSub = map[uint32]string{
	1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept",
	6: "getsockname", 7: "getpeername", 8: "socketpair",
	9: "send", 10: "recv", // judged as sendto, recvfrom
	11: "sendto", 12: "recvfrom", 13: "shutdown", 14: "setsockopt",
	15: "getsockopt", 16: "sendmsg", 17: "recvmsg", 18: "accept4",
	19: "recvmmsg", 20: "sendmmsg",
}

// Sub-calls of ipc(2), the call numbers of <linux/ipc.h>. The upper 16 bits
// of the argument carry an interface version, hence the mask 0xffff.
var ipcSub = map[uint32]string{
	1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop",
	11: "msgsnd", 12: "msgrcv", 13: "msgget", 14: "msgctl",
	21: "shmat", 22: "shmdt", 23: "shmget", 24: "shmctl",
}

// newArch derives the compat facts of an architecture from its tables.
// It panics on a name missing from a table, which only a broken table can
// cause; the package's tests would fail at once.
func newArch(name string, native, compat *ABI, x32Bit uint32) *Arch {
	a := &Arch{Name: name, Native: native, Compat: compat, X32Bit: x32Bit}

	a.CompatNative = make([]int, compat.NRMax+1)
	for nr := range a.CompatNative {
		a.CompatNative[nr] = -1
		if n, ok := compat.SyscallName(nr); ok {
			if n := nativeName(native, n); n != "" {
				a.CompatNative[nr] = must(native, n)
			}
		}
	}

	for _, m := range []struct {
		name string
		mask uint32
		sub  map[uint32]string
	}{
		{"socketcall", 0xffffffff, socketcallSub},
		{"ipc", 0xffff, ipcSub},
	} {
		nr, ok := compat.SyscallNumber(m.name)
		if !ok {
			continue
		}
		// Judged by sub-call only; CompatNative[nr] stays -1.
		a.CompatNative[nr] = -1
		mux := Mux{Nr: nr, Arg: 0, Mask: m.mask, Sub: make(map[uint32]int)}
		for sub, n := range m.sub {
			mux.Sub[sub] = -1
			if n := nativeName(native, n); n != "" {
				mux.Sub[sub] = must(native, n)
			}
		}
		a.Mux = append(a.Mux, mux)
	}

	// SPEC section 3: what no process can live without.
	vital := []string{"rt_sigreturn", "restart_syscall", "exit", "exit_group"}
	for _, n := range vital {
		a.NeverDeny = append(a.NeverDeny, must(native, n))
		a.CompatAllow = append(a.CompatAllow, must(compat, n))
	}
	a.CompatAllow = append(a.CompatAllow, must(compat, "sigreturn"))
	slices.Sort(a.NeverDeny)
	slices.Sort(a.CompatAllow)
	return a
}

func must(abi *ABI, name string) int {
	nr, ok := abi.SyscallNumber(name)
	if !ok {
		panic(fmt.Sprintf("arch: %s has no syscall %s", abi.Name, name))
	}
	return nr
}
