package cgsyscall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allowlistNeeds is what the static allowlist program calls on each
// architecture (glibc's start-up, then its write), as the README's recipe
// lists it; execve, read and close are what exec needs to start it (its
// stage waits in read, and closes its socket before it execs).
var allowlistNeeds = map[string]string{
	"amd64": "execve read close brk arch_prctl set_tid_address set_robust_list rseq " +
		"prlimit64 mprotect readlink getrandom write",
	"arm64": "execve read close brk set_tid_address set_robust_list rseq prlimit64 " +
		"mprotect readlinkat getrandom write",
}

// cProgram is the static test program name, built from
// testdata/name/name.c: prebuilt in the aarch64 test machine, compiled with
// gcc here.
func cProgram(t testing.TB, name string) string {
	t.Helper()
	if p := filepath.Join(bin.dir, name); fileExists(p) {
		return p
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	prog := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("gcc", "-O2", "-static", "-o", prog,
		filepath.Join("testdata", name, name+".c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc -static: %v\n%s", err, out)
	}
	return prog
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestAllowListRecipe: "echo all > syscalls.deny" then an allow write of
// what a program needs gives default-deny. The static program runs and
// writes its line; the call it makes beyond the list gets ENOSYS; without
// write in the list, it can no longer write at all.
func TestAllowListRecipe(t *testing.T) {
	needs, ok := allowlistNeeds[runtime.GOARCH]
	if !ok {
		t.Skipf("no recipe for %s", runtime.GOARCH)
	}
	prog := cProgram(t, "allowlist")
	m := newMirror(t)
	m.mkdir("app")
	m.mustWrite("app/syscalls.deny", "all")
	m.mustWrite("app/syscalls.allow", needs)

	// The allow file lists exactly the needed numbers and those that no
	// group may deny.
	var want []string
	for _, name := range append(strings.Fields(needs), "rt_sigreturn", "restart_syscall",
		"exit", "exit_group") {
		out, _, status := run(t, "resolve", name)
		if status != 0 {
			t.Fatalf("resolve %s: status %d", name, status)
		}
		want = append(want, strings.Fields(out)[0])
	}
	got := strings.Fields(m.read("app/syscalls.allow"))
	if strings.Join(sortedNums(t, got), " ") != strings.Join(sortedNums(t, want), " ") {
		t.Fatalf("syscalls.allow %v, want %v", got, want)
	}

	out, errOut, status := run(t, "exec", "-m", m.mnt, "app", "--", prog)
	if status != 0 || out != "getppid -38\n" {
		t.Fatalf("allowlist under the recipe: status %d, stdout %q, stderr %q", status, out,
			errOut)
	}
	// Only the program's own denied call counts: not the fcntl of exec's
	// stage, which the list denies (helper-31).
	if got := m.read("app/syscalls.stat"); got != "getppid 1\ntotal 1\n" {
		t.Errorf("app/syscalls.stat = %q, want the program's getppid alone", got)
	}
	// Direct, for comparison: getppid answers.
	direct, err := exec.Command(prog).Output()
	if err != nil || strings.HasPrefix(string(direct), "getppid -") {
		t.Fatalf("allowlist without the recipe: %q, %v", direct, err)
	}

	m.mkdir("app/nowrite")
	m.mustWrite("app/nowrite/syscalls.deny", "write")
	out, _, status = run(t, "exec", "-m", m.mnt, "app/nowrite", "--", prog)
	if status != 1 || out != "" {
		t.Fatalf("allowlist without write: status %d, stdout %q; want 1 and nothing", status,
			out)
	}
}

// sortedNums sorts decimal numbers by value.
func sortedNums(t *testing.T, nums []string) []string {
	t.Helper()
	v := make([]int, len(nums))
	for i, s := range nums {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%q is not a number", s)
		}
		v[i] = n
	}
	slices.Sort(v)
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return out
}
