//go:build linux

package enforce

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
)

// The test binary becomes a filter-loading child when childEnv is set: it
// never loads a filter into itself otherwise, since a filter cannot be
// removed and would hold every later test.
const (
	childEnv = "CGSYSCALL_ENFORCE_CHILD" // "errno", "notify" or "listen"
	denyEnv  = "CGSYSCALL_ENFORCE_DENY"  // native names, comma-separated
	probeEnv = "CGSYSCALL_ENFORCE_PROBE" // absolute path of the probe
	passEnv  = "CGSYSCALL_ENFORCE_PASS"  // native names with the SIGURG pass
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runChild loads the filter that the environment describes into its own
// thread and execs the probe with args; in "listen" mode it loads with
// NEW_LISTENER, prints the listener fd and exits. It returns only on
// failure.
func runChild(mode string, args []string) int {
	fail := func(format string, v ...any) int {
		fmt.Fprintf(os.Stderr, "child: "+format+"\n", v...)
		return 3
	}
	a := arch.Host()
	if a == nil {
		return fail("no architecture for %s", runtime.GOARCH)
	}
	numbers := func(env string) ([]int, error) {
		var nrs []int
		for _, name := range strings.Split(os.Getenv(env), ",") {
			if name == "" {
				continue
			}
			nr, ok := a.Native.SyscallNumber(name)
			if !ok {
				return nil, fmt.Errorf("unknown syscall %q", name)
			}
			nrs = append(nrs, nr)
		}
		return nrs, nil
	}
	deny, err := numbers(denyEnv)
	if err != nil {
		return fail("%v", err)
	}
	pass, err := numbers(passEnv)
	if err != nil {
		return fail("%v", err)
	}
	m, flags := ModeErrno, uint(0)
	switch mode {
	case "notify":
		m = ModeNotify
	case "listen":
		m, flags = ModeNotify, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	prog, err := CompilePass(a, deny, m, pass)
	if err != nil {
		return fail("%v", err)
	}

	// no_new_privs and the filter hold for this thread only; the thread
	// stays locked until execve replaces the process.
	runtime.LockOSThread()
	fd, err := Load(prog, flags)
	if err != nil {
		return fail("%v", err)
	}
	if mode == "listen" {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fail("listener %d: %v", fd, err)
		}
		fmt.Printf("listener %d\n", fd)
		return 0
	}
	probe := os.Getenv(probeEnv)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CGSYSCALL_ENFORCE_") {
			env = append(env, kv)
		}
	}
	// Between here and execve Go's runtime still makes calls of its own
	// (prlimit64 among them); the filters used here allow them.
	err = syscall.Exec(probe, append([]string{probe}, args...), env)
	return fail("exec %s: %v", probe, err)
}

// buildProbe builds testdata/probe into a temporary directory of t, for
// GOARCH goarch when it is given. Where CGSYSCALL_TEST_BIN names a
// directory of prebuilt programs (the aarch64 VM has no Go toolchain) it
// takes probe, or probe-GOARCH for another GOARCH, from there.
func buildProbe(t *testing.T, goarch ...string) string {
	t.Helper()
	if dir := os.Getenv("CGSYSCALL_TEST_BIN"); dir != "" {
		name := "probe"
		if len(goarch) > 0 && goarch[0] != runtime.GOARCH {
			name += "-" + goarch[0]
		}
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("no prebuilt %s in CGSYSCALL_TEST_BIN=%s", name, dir)
		}
		return path
	}
	path := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-o", path, "../testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	for _, g := range goarch {
		cmd.Env = append(cmd.Env, "GOARCH="+g)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build probe: %v\n%s", err, out)
	}
	return path
}

// probeResult runs the probe with tokens, under a filter when mode is set,
// and returns the value printed for each token and the child's PID.
func probeResult(t *testing.T, probe, mode string, deny []string,
	tokens ...string,
) (map[string]int64, int) {
	t.Helper()
	var cmd *exec.Cmd
	if mode == "" {
		cmd = exec.Command(probe, tokens...)
	} else {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(self, tokens...)
		cmd.Env = append(os.Environ(), childEnv+"="+mode,
			denyEnv+"="+strings.Join(deny, ","), probeEnv+"="+probe)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v (mode %q, deny %v): %v\n%s",
			probe, tokens, mode, deny, err, stderr.String())
	}
	got := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		tok, v, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("probe printed %q", line)
		}
		got[tok] = n
	}
	if len(got) != len(tokens) {
		t.Fatalf("probe %v printed %q", tokens, out)
	}
	return got, cmd.Process.Pid
}

// i386Tokens gives the i386 twins of tokens where the kernel runs i386
// calls, and nothing elsewhere.
func i386Tokens(t *testing.T, probe string, tokens ...string) []string {
	if runtime.GOARCH != "amd64" {
		return nil
	}
	got, pid := probeResult(t, probe, "", nil, "i386:getpid")
	if got["i386:getpid"] != int64(pid) {
		t.Logf("i386 ABI unavailable (i386:getpid gave %d): native calls only",
			got["i386:getpid"])
		return nil
	}
	var out []string
	for _, tok := range tokens {
		out = append(out, "i386:"+tok)
	}
	return out
}

// TestLoadReal loads filters for real, in children that exec the probe.
func TestLoadReal(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no seccomp support for GOARCH %s", runtime.GOARCH)
	}
	probe := buildProbe(t)
	native := []string{"getppid", "uname", "getpid"}
	tokens := append(native, i386Tokens(t, probe, native...)...)
	self := int64(os.Getpid())

	for _, mode := range []string{"errno", "notify"} {
		t.Run(mode, func(t *testing.T) {
			got, pid := probeResult(t, probe, mode, []string{"getppid"}, tokens...)
			t.Logf("deny getppid, %s: %v", mode, got)
			for _, tok := range tokens {
				want := int64(0)
				switch strings.TrimPrefix(tok, "i386:") {
				case "getppid":
					want = -int64(syscall.ENOSYS)
				case "getpid":
					want = int64(pid)
				}
				if got[tok] != want {
					t.Errorf("%s under deny getppid: %d, want %d", tok, got[tok], want)
				}
			}
		})
	}
	t.Run("allow-all", func(t *testing.T) {
		got, _ := probeResult(t, probe, "errno", nil, tokens...)
		for _, tok := range tokens {
			if strings.HasSuffix(tok, "getppid") && got[tok] != self {
				t.Errorf("%s under an empty filter: %d, want %d", tok, got[tok], self)
			}
		}
	})
	t.Run("other-denials", func(t *testing.T) {
		got, _ := probeResult(t, probe, "errno", []string{"uname", "getpid"}, tokens...)
		for _, tok := range tokens {
			want := -int64(syscall.ENOSYS)
			if strings.HasSuffix(tok, "getppid") {
				want = self
			}
			if got[tok] != want {
				t.Errorf("%s under deny uname,getpid: %d, want %d", tok, got[tok], want)
			}
		}
	})
}

// TestLoadPass: loaded for real, the SIGURG pass lets the probe's
// tgkill(self, self, SIGURG) and tkill(self, SIGURG) run where both are
// denied, while the same calls with signal 0 or SIGWINCH (which a Go
// program ignores) get ENOSYS; without the pass, SIGURG gets ENOSYS too.
// In notify mode no listener is attached: the kernel answers ENOSYS.
func TestLoadPass(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no seccomp support for GOARCH %s", runtime.GOARCH)
	}
	probe := buildProbe(t)
	tokens := []string{"args:tgkill:self:self:23", "args:tkill:self:23",
		"args:tgkill:self:self:0", "args:tgkill:self:self:28", "args:tkill:self:0", "getppid"}
	for _, mode := range []string{"errno", "notify"} {
		for _, pass := range []bool{true, false} {
			if pass {
				t.Setenv(passEnv, "tgkill,tkill")
			} else {
				t.Setenv(passEnv, "")
			}
			got, _ := probeResult(t, probe, mode, []string{"tgkill", "tkill", "getppid"},
				tokens...)
			for _, tok := range tokens {
				want := int64(-38)
				if pass && strings.HasSuffix(tok, ":23") {
					want = 0
				}
				if got[tok] != want {
					t.Errorf("%s, pass %v: %s = %d, want %d", mode, pass, tok, got[tok], want)
				}
			}
		}
	}
}

// TestLoad386 runs a whole i386 process (the probe built for GOARCH=386)
// under the x86_64 filter: its plain calls are compat calls.
func TestLoad386(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("i386 processes run on x86_64 only")
	}
	probe := buildProbe(t, "386")
	tokens := []string{"getppid", "getpid", "uname", "setuid32", "nr:213"}
	cmd := exec.Command(probe, "getpid")
	if out, err := cmd.Output(); err != nil {
		t.Skipf("kernel runs no i386 program: %v %s", err, out)
	}
	got, pid := probeResult(t, probe, "errno", []string{"getppid", "setuid"}, tokens...)
	want := map[string]int64{"getppid": -38, "getpid": int64(pid), "uname": 0,
		"setuid32": -38, "nr:213": -38}
	for _, tok := range tokens {
		if got[tok] != want[tok] {
			t.Errorf("i386 %s under deny getppid,setuid: %d, want %d", tok, got[tok], want[tok])
		}
	}
}

// TestLoadAArch32 runs a whole AArch32 process (the probe built for
// GOARCH=arm) under the aarch64 filter: its plain calls are compat calls,
// judged as their native counterparts, and a compat call with no native
// counterpart (ustat) is refused.
func TestLoadAArch32(t *testing.T) {
	if runtime.GOARCH != "arm64" {
		t.Skip("AArch32 processes run on aarch64 only")
	}
	probe := buildProbe(t, "arm")
	cmd := exec.Command(probe, "getpid")
	if out, err := cmd.Output(); err != nil {
		t.Skipf("kernel or CPU runs no AArch32 program: %v %s", err, out)
	}
	tokens := []string{"getppid", "getpid", "uname", "setuid32", "nr:213", "ustat"}
	for _, mode := range []string{"errno", "notify"} {
		got, pid := probeResult(t, probe, mode, []string{"getppid", "setuid"}, tokens...)
		want := map[string]int64{"getppid": -38, "getpid": int64(pid), "uname": 0,
			"setuid32": -38, "nr:213": -38, "ustat": -38}
		for _, tok := range tokens {
			if got[tok] != want[tok] {
				t.Errorf("%s: AArch32 %s under deny getppid,setuid: %d, want %d", mode, tok,
					got[tok], want[tok])
			}
		}
	}
}

// TestLoadX32 checks that an x32 call is refused where the kernel runs x32.
func TestLoadX32(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x32 exists on x86_64 only")
	}
	probe := buildProbe(t)
	tok := fmt.Sprintf("nr:%#x", 0x40000000|39) // x32 getpid
	got, pid := probeResult(t, probe, "", nil, tok)
	if got[tok] != int64(pid) {
		t.Skipf("kernel without x32 (x32 getpid gave %d)", got[tok])
	}
	got, _ = probeResult(t, probe, "errno", []string{"getppid"}, tok)
	if got[tok] != -int64(syscall.ENOSYS) {
		t.Errorf("x32 getpid under a filter: %d, want -38", got[tok])
	}
}

// TestLoadListener checks that NEW_LISTENER hands back an open fd.
func TestLoadListener(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"=listen", denyEnv+"=getppid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var fd int
	if _, err := fmt.Sscanf(string(out), "listener %d\n", &fd); err != nil || fd < 3 {
		t.Fatalf("child printed %q", out)
	}
}

// TestProbeBuilds keeps the probe building for every GOARCH that tests
// will run it under: amd64 and arm64 natively, 386 and arm as compat
// processes of an x86_64 or aarch64 kernel.
func TestProbeBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds are slow; skipped in -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH to build the probe")
	}
	for _, goarch := range []string{"amd64", "arm64", "386", "arm"} {
		cmd := exec.Command("go", "vet", "../testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOARCH=%s go vet probe: %v\n%s", goarch, err, out)
		}
		cmd = exec.Command("go", "build", "-o", os.DevNull, "../testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOARCH=%s go build probe: %v\n%s", goarch, err, out)
		}
	}
}
