package cgsyscall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// compatGOARCH is the GOARCH whose programs run as compat processes of
// this machine's kernel: AArch32 on aarch64, i386 on x86_64.
var compatGOARCH = map[string]string{"arm64": "arm", "amd64": "386"}[runtime.GOARCH]

var compatBuild struct {
	once sync.Once
	err  error
	out  []byte
}

// compatProbe returns the probe built for the compat ABI: prebuilt in
// CGSYSCALL_TEST_BIN as probe-GOARCH, or built once into TestMain's
// directory. It skips when the kernel (or, under emulation, the CPU)
// runs no such program.
func compatProbe(t *testing.T) string {
	t.Helper()
	if compatGOARCH == "" {
		t.Skipf("no compat ABI known for GOARCH %s", runtime.GOARCH)
	}
	path := filepath.Join(bin.dir, "probe-"+compatGOARCH)
	if os.Getenv(testBinEnv) == "" {
		compatBuild.once.Do(func() {
			cmd := exec.Command("go", "build", "-o", path, "./testdata/probe")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+compatGOARCH, "GOARM=7")
			compatBuild.out, compatBuild.err = cmd.CombinedOutput()
		})
		if compatBuild.err != nil {
			t.Fatalf("building the %s probe: %v\n%s", compatGOARCH, compatBuild.err,
				compatBuild.out)
		}
	} else if _, err := os.Stat(path); err != nil {
		t.Skipf("no prebuilt compat probe: %v", err)
	}
	if out, err := exec.Command(path, "getpid").CombinedOutput(); err != nil {
		t.Skipf("this kernel runs no GOARCH=%s program: %v %s", compatGOARCH, err, out)
	}
	return path
}

// TestExecCompatProcess runs a whole compat process (AArch32 on aarch64,
// i386 on x86_64) in a group: its calls are judged as their native
// counterparts by name (setuid32 as setuid), and a compat call with no
// native counterpart is refused in a group that denies anything. On
// aarch64 this is the only way to reach the AArch32 rules, since a 64-bit
// process cannot make AArch32 calls.
//
// The daemon holds only native processes (enforce/inject refuses to
// inject into 32-bit code): the compat process runs once as the child of
// a native shell that cgsyscall exec starts (what the daemon holds, its
// children inherit), and once straight from cgsyscall exec, which starts
// a 32-bit program through a native stage that is held and then execs it.
func TestExecCompatProcess(t *testing.T) {
	m := newMirror(t)
	probe := compatProbe(t)
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "getppid setuid")
	tokens := []string{"getppid", "getpid", "uname"}
	want := map[string]string{"getppid": "-38", "uname": "0", "setuid32": "-38"}
	if compatGOARCH == "arm" {
		// ustat(2): AArch32 has it, aarch64 has not. Unfiltered it
		// fails with EINVAL (no such device), never ENOSYS.
		tokens = append(tokens, "ustat")
		want["ustat"] = "-38"
	}
	// Last: in the root group it succeeds and changes the probe's uid.
	tokens = append(tokens, "setuid32")

	viaShell := []string{"--", "sh", "-c", `"$0" "$@"`, probe}
	for _, how := range []struct {
		name string
		argv []string
	}{{"through a shell", viaShell}, {"straight", []string{"--", probe}}} {
		out, errOut, status := run(t, append(append([]string{"exec", "-m", m.mnt, "web"},
			how.argv...), tokens...)...)
		if status != 0 {
			t.Fatalf("exec %s exited %d: %s", how.name, status, errOut)
		}
		got := parseProbe(t, out)
		for tok, w := range want {
			if got[tok] != w {
				t.Errorf("web, %s: %s %s = %q, want %q (output %q)", how.name,
					compatGOARCH, tok, got[tok], w, out)
			}
		}
		if n, err := strconv.Atoi(got["getpid"]); err != nil || n <= 0 {
			t.Errorf("web, %s: %s getpid = %q, want a PID", how.name, compatGOARCH,
				got["getpid"])
		}
	}

	// The root group denies nothing: the same calls get through.
	out, errOut, status := run(t, append(append([]string{"exec", "-m", m.mnt, ""},
		viaShell...), tokens...)...)
	if status != 0 {
		t.Fatalf("exec in the root group exited %d: %s", status, errOut)
	}
	got := parseProbe(t, out)
	for _, tok := range tokens {
		if got[tok] == "-38" {
			t.Errorf("root group: %s %s = -38, want it allowed (output %q)", compatGOARCH,
				tok, out)
		}
	}
}
