package cgsyscall_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/oci"
	"github.com/cgsyscall/cgsyscall/policy"
)

// uringNumbers is the native numbers of the io_uring calls, which every
// export of a non-empty set names.
func uringNumbers(t *testing.T) policy.Set {
	t.Helper()
	a := arch.Host()
	var s policy.Set
	for _, name := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register"} {
		nr, ok := a.Native.SyscallNumber(name)
		if !ok {
			t.Fatalf("no %s on %s", name, a.Name)
		}
		s.Add(nr)
	}
	return s
}

// exportGroup runs cgsyscall export and returns the profile it printed.
func exportGroup(t *testing.T, m *mirror, group string) string {
	t.Helper()
	out, errOut, status := run(t, "export", "-m", m.mnt, group)
	if status != 0 || errOut != "" {
		t.Fatalf("export %s: status %d, stderr %q", group, status, errOut)
	}
	return out
}

func writeProfile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExportImportRoundTrip(t *testing.T) {
	m := newMirror(t)
	a := arch.Host()
	m.mkdir("a")
	m.mustWrite("a/syscalls.deny", "getppid uname setuid")
	m.mkdir("a/child")
	m.mustWrite("a/child/syscalls.deny", "ptrace")

	// The profile is the group's set, inherited denials included, as
	// package oci builds it (its tests check that text exactly).
	out := exportGroup(t, m, "a/child")
	p, _, err := oci.Export(a, parseDeny(t, m.read("a/child/syscalls.deny")), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := oci.Marshal(p)
	if out != string(want) {
		t.Fatalf("export:\n%s\nwant:\n%s", out, want)
	}

	// Imported into a new group, it denies the same plus the io_uring
	// calls, which the profile names because a group that denies anything
	// denies them too; exporting that group gives the same profile.
	m.mkdir("b")
	if _, errOut, status := run(t, "import", "-m", m.mnt, "b", writeProfile(t, out)); status != 0 ||
		errOut != "" {
		t.Fatalf("import: status %d, stderr %q", status, errOut)
	}
	wantDeny := string(policy.Format(parseDeny(t, m.read("a/child/syscalls.deny")).
		Union(uringNumbers(t))))
	if got := m.read("b/syscalls.deny"); got != wantDeny {
		t.Fatalf("b/syscalls.deny = %q, want %q", got, wantDeny)
	}
	if again := exportGroup(t, m, "b"); again != out {
		t.Fatalf("export of b:\n%s\ndiffers from that of a/child:\n%s", again, out)
	}

	// A group that names the io_uring calls itself comes back byte for
	// byte, from a whole config.json on standard input too.
	m.mkdir("c")
	m.mustWrite("c/syscalls.deny", "getppid setuid io_uring_setup io_uring_enter "+
		"io_uring_register")
	config, err := json.Marshal(specs.Spec{Version: specs.Version,
		Process: &specs.Process{Args: []string{"/bin/true"}, Cwd: "/"},
		Linux:   &specs.Linux{Seccomp: decodeProfile(t, exportGroup(t, m, "c"))}})
	if err != nil {
		t.Fatal(err)
	}
	m.mkdir("d")
	cmd := exec.Command(bin.cgsyscall, "import", "-m", m.mnt, "d", "-")
	cmd.Stdin = bytes.NewReader(config)
	if b, err := cmd.CombinedOutput(); err != nil || len(b) != 0 {
		t.Fatalf("import of a config.json from standard input: %v, %q", err, b)
	}
	if got, want := m.read("d/syscalls.deny"), m.read("c/syscalls.deny"); got != want {
		t.Fatalf("d/syscalls.deny = %q, c/syscalls.deny = %q", got, want)
	}

	// An empty set exports a profile that allows everything, and importing
	// it changes nothing.
	empty := exportGroup(t, m, "")
	if strings.Contains(empty, "syscalls") {
		t.Fatalf("export of the root group, which denies nothing:\n%s", empty)
	}
	before := m.read("a/syscalls.deny")
	if _, errOut, status := run(t, "import", "-m", m.mnt, "a", writeProfile(t, empty)); status != 0 ||
		errOut != "" {
		t.Fatalf("import of the empty profile: status %d, stderr %q", status, errOut)
	}
	if got := m.read("a/syscalls.deny"); got != before {
		t.Fatalf("the empty profile changed a/syscalls.deny: %q, was %q", got, before)
	}
}

func parseDeny(t *testing.T, text string) policy.Set {
	t.Helper()
	s, err := policy.Parse(arch.Host(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeProfile(t *testing.T, text string) *specs.LinuxSeccomp {
	t.Helper()
	p, err := oci.Decode([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportBadInputChangesNothing(t *testing.T) {
	m := newMirror(t)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "getppid")
	before := m.read("g/syscalls.deny")
	own := map[string]string{"amd64": `["SCMP_ARCH_X86_64"]`,
		"arm64": `["SCMP_ARCH_AARCH64"]`}[runtime.GOARCH]
	other := map[string]string{"amd64": "aarch64", "arm64": "x86_64"}[runtime.GOARCH]
	foreign := map[string]string{"amd64": `["SCMP_ARCH_AARCH64"]`,
		"arm64": `["SCMP_ARCH_X86_64"]`}[runtime.GOARCH]
	entry := func(e string) string {
		return `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ` + own +
			`, "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO"}, ` + e + `]}`
	}
	for _, c := range []struct{ name, profile, msg string }{
		{"corrupt JSON", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [`,
			"not valid JSON: unexpected end of JSON input (line 1)"},
		{"unknown field", `{"defaultAction": "SCMP_ACT_ALLOW", "archs": []}`,
			`unknown field "archs" in linux.seccomp`},
		{"kill", entry(`{"names": ["ptrace"], "action": "SCMP_ACT_KILL"}`),
			"cannot express action SCMP_ACT_KILL of syscalls entry 2 (ptrace): " +
				"a group denies with ENOSYS only"},
		{"arguments", entry(`{"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args":
			[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}`), "cannot express the " +
			"conditions on the arguments of syscalls entry 2 (clone): a group denies a " +
			"syscall whatever its arguments"},
		{"unknown name", entry(`{"names": ["opnat"], "action": "SCMP_ACT_ERRNO"}`),
			`unknown syscall "opnat": neither ` + arch.Host().Native.Name + " nor " +
				arch.Host().Compat.Name + " has it"},
		{"foreign architecture", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ` +
			foreign + `}`, "profile is for " + strings.Trim(foreign, `[]"`) +
			", this machine is " + arch.Host().Name},
		{"default deny", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names":
			["read"], "action": "SCMP_ACT_ALLOW"}]}`, "cannot express defaultAction " +
			"SCMP_ACT_ERRNO: a group denies what its syscalls.deny lists, and this " +
			"profile refuses every call it does not list"},
		{"config.json without seccomp", `{"ociVersion": "1.0.2", "linux": {}}`,
			"config.json has no linux.seccomp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := writeProfile(t, c.profile)
			out, errOut, status := run(t, "import", "-m", m.mnt, "g", file)
			if want := "cgsyscall: " + file + ": " + c.msg + "\n"; status != 1 || out != "" ||
				errOut != want {
				t.Fatalf("status %d, stdout %q, stderr %q; want 1 and %q", status, out,
					errOut, want)
			}
			if got := m.read("g/syscalls.deny"); got != before {
				t.Fatalf("g/syscalls.deny = %q, was %q", got, before)
			}
		})
	}

	// A missing group fails with one line and status 1, a missing profile
	// file too; usage mistakes exit 2.
	good := writeProfile(t, `{"defaultAction": "SCMP_ACT_ALLOW"}`)
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"import", "-m", m.mnt, "nosuch", good}, 1,
			"cgsyscall: no group /nosuch under " + m.mnt + "\n"},
		{[]string{"export", "-m", m.mnt, "g/nosuch"}, 1,
			"cgsyscall: no group /g/nosuch under " + m.mnt + "\n"},
		{[]string{"import", "-m", m.mnt, "g", "/nonexistent.json"}, 1,
			"cgsyscall: open /nonexistent.json: no such file or directory\n"},
		{[]string{"import", "-m", m.mnt, "g"}, 2, "cgsyscall: import: expected GROUP FILE\n"},
		{[]string{"export", "-m", m.mnt}, 2, "cgsyscall: export: expected one GROUP\n"},
		{[]string{"export", "-m", m.mnt, "--arch", other, "g"}, 2, "cgsyscall: export: " +
			`architecture "` + other + `" is not one of this machine's`},
	} {
		out, errOut, status := run(t, c.args...)
		if c.status == 2 {
			errOut, _, _ = strings.Cut(errOut, "\n")
			errOut, _, _ = strings.Cut(errOut, " (")
			c.stderr = strings.TrimSuffix(c.stderr, "\n")
		}
		if status != c.status || out != "" || errOut != c.stderr {
			t.Errorf("cgsyscall %v: status %d, stdout %q, stderr %q; want %d, %q",
				c.args, status, out, errOut, c.status, c.stderr)
		}
	}
	if got := m.read("g/syscalls.deny"); got != before {
		t.Fatalf("g/syscalls.deny = %q, was %q", got, before)
	}
}

// consumerTokens are the probe calls of the consumer test and what each
// must answer in the group and under the exported profile: "-38" for a
// denied call, an exact result, or "+" for any positive one (a PID).
func consumerTokens() [][2]string {
	list := [][2]string{{"getppid", "-38"}, {"uname", "-38"}, {"setuid", "-38"},
		{"io_uring_setup", "-38"}, {"getuid", "0"}, {"getpid", "+"}}
	if runtime.GOARCH == "amd64" {
		list = append(list, [][2]string{
			{"i386:getppid", "-38"}, {"i386:uname", "-38"},
			// Aliases: the group judges them as uname and setuid; the
			// profile names them.
			{"i386:olduname", "-38"}, {"i386:oldolduname", "-38"}, {"i386:setuid32", "-38"},
			// No x86_64 counterpart: denied in any group that denies anything.
			{"i386:vm86", "-38"},
			// x32 getppid and uname (the x32 bit is 0x40000000).
			{"nr:0x4000006e", "-38"}, {"nr:0x4000003f", "-38"},
			{"i386:getuid32", "0"}, {"i386:getpid", "+"}}...)
	}
	return list
}

func checkConsumer(t *testing.T, who, out string) {
	t.Helper()
	got := parseProbe(t, out)
	for _, tw := range consumerTokens() {
		tok, want := tw[0], tw[1]
		if n, err := strconv.Atoi(got[tok]); want == "+" && err == nil && n > 0 {
			continue
		}
		if got[tok] != want {
			t.Errorf("%s: probe %s = %q, want %s", who, tok, got[tok], want)
		}
	}
}

// TestExportRunsInCrun hands an exported profile to a real consumer,
// crun (Debian's package; scripts/test.sh installs it), and runs the
// probe in a container under it: every call answers as it does under
// cgsyscall exec in the group.
func TestExportRunsInCrun(t *testing.T) {
	m := newMirror(t)
	crun, err := exec.LookPath("crun")
	if err != nil {
		if os.Getenv(testBinEnv) != "" {
			t.Skip("no crun here (the aarch64 test VM of scripts/aarch64/run.sh has none)")
		}
		t.Fatal("crun is not installed: apt-get install crun (scripts/test.sh does)")
	}
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "getppid uname setuid")
	profile := decodeProfile(t, exportGroup(t, m, "web"))

	var tokens []string
	for _, tw := range consumerTokens() {
		tokens = append(tokens, tw[0])
	}
	out, errOut, status := run(t, append([]string{"exec", "-m", m.mnt, "web", "--",
		bin.probe}, tokens...)...)
	if status != 0 {
		t.Fatalf("exec exited %d: %s", status, errOut)
	}
	checkConsumer(t, "cgsyscall exec", out)

	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, dir := range []string{"dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	probe, err := os.ReadFile(bin.probe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "probe"), probe, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := specs.Spec{
		// crun 1.8 takes only 1.0 configs; every field here is 1.0's.
		Version: "1.0.2",
		Process: &specs.Process{Args: append([]string{"/probe"}, tokens...), Cwd: "/",
			Env: []string{"PATH=/"}},
		Root:   &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace},
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.NetworkNamespace}},
			Seccomp: profile,
		},
	}
	config, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}

	// crun 1.8 refuses to start on a hybrid hierarchy whose cgroup2 part
	// has controllers, even with the cgroup manager disabled. Where
	// /sys/fs/cgroup/unified is such a cgroup2 mount (the CI machine),
	// crun runs in a mount namespace of its own in which a tmpfs covers
	// it; the machine's mounts stay as they are.
	state := t.TempDir()
	name := "cgsyscall-oci-" + strconv.Itoa(os.Getpid())
	hide := ""
	if b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil &&
		len(bytes.TrimSpace(b)) > 0 {
		hide = "mount -t tmpfs -o ro,size=4k none /sys/fs/cgroup/unified && "
	}
	crunCmd := func(ctx context.Context, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "unshare", append([]string{"-m", "--propagation",
			"private", "sh", "-c", hide + `exec "$@"`, "sh", crun, "--root", state,
			"--cgroup-manager=disabled"}, args...)...)
	}
	// A container left behind (by a timeout) is killed and removed.
	t.Cleanup(func() { crunCmd(context.Background(), "delete", "--force", name).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := crunCmd(ctx, "run", "--bundle", bundle, name)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("crun run: %v\nstdout %q\nstderr %s\nconfig.json %s", err, o.String(),
			e.String(), config)
	}
	checkConsumer(t, "crun", o.String())
	if t.Failed() {
		t.Logf("config.json: %s", config)
	}
}
