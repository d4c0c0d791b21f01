package oci

import (
	"slices"
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// load decodes and imports a profile on a.
func load(a *arch.Arch, text string) (policy.Set, []string, error) {
	p, err := Decode([]byte(text))
	if err != nil {
		return policy.Set{}, nil, err
	}
	return Import(a, p)
}

const x86 = `"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]`

func TestImportAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, profile, deny string
		warnings            []string
	}{
		{"bare", `{"defaultAction": "SCMP_ACT_ALLOW", ` + x86 + `, "syscalls": [
			{"names": ["getppid", "uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`,
			"uname getppid", nil},
		{"config.json", `{"ociVersion": "1.0.2", "process": {"args": ["sh"]}, "linux": {
			"namespaces": [{"type": "pid"}], "seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
			` + x86 + `, "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO",
			"errnoRet": 38}]}}}`, "ptrace", nil},
		{"several entries, allow entries are no-ops", `{"defaultAction": "SCMP_ACT_ALLOW",
			` + x86 + `, "syscalls": [
			{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
			{"names": ["read", "bogus"], "action": "SCMP_ACT_ALLOW", "args": [
				{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
			{"names": ["write"], "action": "SCMP_ACT_LOG"},
			{"names": ["uname", "getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`,
			"uname getppid", nil},
		{"aliases with their counterparts", `{"defaultAction": "SCMP_ACT_ALLOW", ` + x86 +
			`, "syscalls": [{"names": ["setuid32", "setuid", "vm86", "olduname", "uname"],
			"action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`, "uname setuid", nil},
		{"no architectures: the native one", `{"defaultAction": "SCMP_ACT_ALLOW",
			"syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
			"errnoRet": 38}]}`, "getppid", []string{"the profile does not list " +
			"SCMP_ARCH_X86, so a runtime refuses every i386 call; a group judges each " +
			"as its x86_64 counterpart"}},
		{"EPERM by default", `{"defaultAction": "SCMP_ACT_ALLOW", ` + x86 + `,
			"syscalls": [{"names": ["chmod", "chown", "fchmod", "fchown"],
			"action": "SCMP_ACT_ERRNO"}, {"names": ["mount"], "action": "SCMP_ACT_ERRNO",
			"errnoRet": 13}]}`, "chmod fchmod chown fchown mount", []string{
			"syscalls entry 1 (chmod, chown, fchmod, ...): errno 1 (operation not " +
				"permitted) becomes ENOSYS, the only errno a group returns",
			"syscalls entry 2 (mount): errno 13 (permission denied) becomes ENOSYS, " +
				"the only errno a group returns"}},
		{"log and flags", `{"defaultAction": "SCMP_ACT_LOG", ` + x86 + `, "flags":
			["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}`, "", []string{
			"defaultAction SCMP_ACT_LOG is taken as SCMP_ACT_ALLOW: calls are not logged",
			"flag SECCOMP_FILTER_FLAG_LOG is ignored: it changes no call's result",
			"flag SECCOMP_FILTER_FLAG_SPEC_ALLOW is ignored: it changes no call's result"}},
		{"other architectures beside", `{"defaultAction": "SCMP_ACT_ALLOW",
			"architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
			"syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
			"errnoRet": 38}]}`, "getppid", nil},
	} {
		got, warnings, err := load(arch.X86_64, tc.profile)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if want := set(t, arch.X86_64, tc.deny); got != want {
			t.Errorf("%s: deny %v, want %v", tc.name, got, want)
		}
		if !slices.Equal(warnings, tc.warnings) {
			t.Errorf("%s: warnings\n%q\nwant\n%q", tc.name, warnings, tc.warnings)
		}
	}
}

func TestImportRefuses(t *testing.T) {
	entry := func(e string) string {
		return `{"defaultAction": "SCMP_ACT_ALLOW", ` + x86 + `, "syscalls": [` + e + `]}`
	}
	for _, tc := range []struct {
		a             *arch.Arch
		profile, want string
	}{
		// Decoding.
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW",`,
			"not valid JSON: unexpected end of JSON input (line 1)"},
		{arch.X86_64, "{\n\"defaultAction\": SCMP_ACT_ALLOW}",
			"not valid JSON: invalid character 'S' looking for beginning of value (line 2)"},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW"} {}`,
			"not valid JSON: invalid character '{' after top-level value (line 1)"},
		{arch.X86_64, ``, "not valid JSON: unexpected end of JSON input (line 1)"},
		{arch.X86_64, `["SCMP_ACT_ALLOW"]`, "not a JSON object but a JSON array"},
		{arch.X86_64, `{"syscalls": []}`, `neither a linux.seccomp object (no ` +
			`"defaultAction") nor an OCI config.json (no "ociVersion")`},
		{arch.X86_64, `{"ociVersion": "1.0.2", "linux": {}}`,
			"config.json has no linux.seccomp"},
		{arch.X86_64, `{"ociVersion": "1.0.2"}`, "config.json has no linux.seccomp"},
		{arch.X86_64, `{"ociVersion": "1.0.2", "linux": {"seccomp": null}}`,
			"config.json has no linux.seccomp"},
		{arch.X86_64, `{"ociVersion": "1.0.2", "linux": []}`,
			`config.json: "linux" is not an object`},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW", "defaultaction": "x"}`,
			`unknown field "defaultaction" in linux.seccomp`},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW", "comment": "x"}`,
			`unknown field "comment" in linux.seccomp`},
		{arch.X86_64, `{"ociVersion": "1", "linux": {"seccomp": {"defaultAction":
			"SCMP_ACT_ALLOW", "includes": {}}}}`, `unknown field "includes" in linux.seccomp`},
		{arch.X86_64, entry(`{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
			"comment": "x"}`), `unknown field "comment" in syscalls entry 1`},
		{arch.X86_64, entry(`{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args":
			[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ", "valuetwo": 2}]}`),
			`unknown field "valuetwo" in syscalls entry 1, args 1`},
		{arch.X86_64, entry(`{"names": "getppid", "action": "SCMP_ACT_ERRNO"}`),
			`field "syscalls.names" holds a JSON string, not a []string`},
		{arch.X86_64, entry(`{"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
			"errnoRet": -1}`), `field "syscalls.errnoRet" holds a JSON number -1, not a uint`},

		// The default action and the profile's own fields.
		{arch.X86_64, `{"defaultAction": ""}`, "profile has no defaultAction"},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls":
			[{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`, "cannot express " +
			"defaultAction SCMP_ACT_ERRNO: a group denies what its syscalls.deny lists, " +
			"and this profile refuses every call it does not list"},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_KILL_PROCESS"}`, "cannot express " +
			"defaultAction SCMP_ACT_KILL_PROCESS: a group denies what its syscalls.deny " +
			"lists, and this profile refuses every call it does not list"},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_PERMIT"}`,
			`unknown defaultAction "SCMP_ACT_PERMIT"`},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}`,
			"defaultErrnoRet is set, but defaultAction is SCMP_ACT_ALLOW"},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent"}`,
			"cannot express listenerPath or listenerMetadata: a group has no seccomp agent"},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"]}`,
			`unknown flag "SECCOMP_FILTER_FLAG_TSYNC"`},
		{arch.X86_64, `{"defaultAction": "SCMP_ACT_ALLOW", "architectures":
			["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}`,
			"profile is for SCMP_ARCH_AARCH64 and SCMP_ARCH_ARM, this machine is x86_64"},
		{arch.AArch64, `{"defaultAction": "SCMP_ACT_ALLOW", ` + x86 + `}`,
			"profile is for SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32, " +
				"this machine is aarch64"},

		// Entries.
		{arch.X86_64, entry(`{"names": [], "action": "SCMP_ACT_ERRNO"}`),
			"syscalls entry 1 has no names"},
		{arch.X86_64, entry(`{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"},
			{"names": ["ptrace", "kexec_load", "bpf", "perf_event_open"],
			"action": "SCMP_ACT_KILL"}`), "cannot express action SCMP_ACT_KILL of " +
			"syscalls entry 2 (ptrace, kexec_load, bpf, ...): a group denies with ENOSYS only"},
		{arch.X86_64, entry(`{"names": ["ptrace"], "action": "SCMP_ACT_TRAP"}`),
			"cannot express action SCMP_ACT_TRAP of syscalls entry 1 (ptrace): " +
				"a group denies with ENOSYS only"},
		{arch.X86_64, entry(`{"names": ["ptrace"], "action": "SCMP_ACT_NOTIFY"}`),
			"cannot express action SCMP_ACT_NOTIFY of syscalls entry 1 (ptrace): " +
				"a group denies with ENOSYS only"},
		{arch.X86_64, entry(`{"names": ["ptrace"], "action": "SCMP_ACT_TRACE"}`),
			"cannot express action SCMP_ACT_TRACE of syscalls entry 1 (ptrace): " +
				"a group denies with ENOSYS only"},
		{arch.X86_64, entry(`{"names": ["ptrace"], "action": "SCMP_ACT_KILL_THREAD"}`),
			"cannot express action SCMP_ACT_KILL_THREAD of syscalls entry 1 (ptrace): " +
				"a group denies with ENOSYS only"},
		{arch.X86_64, entry(`{"names": ["ptrace"], "action": "deny"}`),
			`unknown action "deny" in syscalls entry 1 (ptrace)`},
		{arch.X86_64, entry(`{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
			"errnoRet": 38, "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]}`),
			"cannot express the conditions on the arguments of syscalls entry 1 " +
				"(personality): a group denies a syscall whatever its arguments"},
		{arch.X86_64, entry(`{"names": ["getppid", "opnat"], "action": "SCMP_ACT_ERRNO"}`),
			`unknown syscall "opnat": neither x86_64 nor i386 has it`},
		{arch.X86_64, entry(`{"names": ["arm_fadvise64_64"], "action": "SCMP_ACT_ERRNO"}`),
			`unknown syscall "arm_fadvise64_64": neither x86_64 nor i386 has it`},
		{arch.X86_64, entry(`{"names": ["exit_group"], "action": "SCMP_ACT_ERRNO"}`),
			"cannot deny exit_group: no process can live without it"},
		{arch.X86_64, entry(`{"names": ["setuid32"], "action": "SCMP_ACT_ERRNO"}`),
			"cannot deny i386 setuid32 without setuid: a group judges it as setuid"},
		{arch.X86_64, entry(`{"names": ["sigreturn"], "action": "SCMP_ACT_ERRNO"}`),
			"cannot deny i386 sigreturn without rt_sigreturn: a group judges it as " +
				"rt_sigreturn"},
		{arch.X86_64, entry(`{"names": ["vm86"], "action": "SCMP_ACT_ERRNO"}`),
			"cannot deny i386 vm86 alone: a group denies it exactly when it denies anything"},
		{arch.X86_64, entry(`{"names": ["socket", "socketcall"], "action": "SCMP_ACT_ERRNO"}`),
			"cannot deny i386 socketcall as a whole: a group judges it by its sub-call"},
		{arch.AArch64, `{"defaultAction": "SCMP_ACT_ALLOW", "architectures":
			["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], "syscalls": [{"names": ["open"],
			"action": "SCMP_ACT_ERRNO"}]}`,
			"cannot deny arm open without openat: a group judges it as openat"},
	} {
		_, _, err := load(tc.a, tc.profile)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %s\n  got  %v\n  want %s", tc.a.Name, tc.profile, err, tc.want)
		}
	}
}
