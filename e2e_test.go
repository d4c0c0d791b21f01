// End-to-end tests of the cgsyscall binary: they build it, mount the real
// FUSE file system over a cgroup v2 subtree of their own, and run real
// processes under real seccomp filters. They need root and skip otherwise.
package cgsyscall_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/enforce/keeper"
)

// bin holds the paths of the programs TestMain builds, or finds prebuilt
// in the directory that CGSYSCALL_TEST_BIN names (where no Go toolchain
// is, as in the aarch64 VM of scripts/aarch64/run.sh).
var bin struct {
	dir, cgsyscall, probe string
}

// testBinEnv names a directory of prebuilt test programs: cgsyscall,
// probe, and probe-GOARCH for the compat ABI (probe-arm, probe-386).
const testBinEnv = "CGSYSCALL_TEST_BIN"

func TestMain(m *testing.M) {
	code := 0
	if dir := os.Getenv(testBinEnv); dir != "" && os.Geteuid() == 0 {
		bin.dir = dir
		bin.cgsyscall = filepath.Join(dir, "cgsyscall")
		bin.probe = filepath.Join(dir, "probe")
		code = m.Run()
	} else if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "cgsyscall-e2e-bin.")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bin.dir = dir
		bin.cgsyscall = filepath.Join(dir, "cgsyscall")
		bin.probe = filepath.Join(dir, "probe")
		for out, pkg := range map[string]string{bin.cgsyscall: "./cmd/cgsyscall",
			bin.probe: "./testdata/probe"} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, b)
				os.RemoveAll(dir)
				os.Exit(1)
			}
		}
		code = m.Run()
		os.RemoveAll(dir)
	} else {
		code = m.Run()
	}
	os.Exit(code)
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts FUSE, makes cgroups and loads seccomp filters")
	}
}

// cgroup2Root finds where the cgroup v2 hierarchy is mounted.
func cgroup2Root(t testing.TB) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" {
				return fields[4]
			}
		}
	}
	t.Skip("no cgroup2 file system mounted")
	return ""
}

// mirror is one test's cgroup subtree and the cgsyscall mount of it.
type mirror struct {
	t    testing.TB
	base string // real cgroup directory
	mnt  string // mount point
	log  string // daemon log
}

// newMirror makes a cgroup of the test's (or benchmark's) own, mounts a
// mirror of it, and removes both at the end, also on failure.
func newMirror(t testing.TB) *mirror {
	t.Helper()
	m := unmountedMirror(t)
	base := m.base
	// CGSYSCALL_TEST_DEBUG=1 has the daemons log debug detail, which a
	// failing test prints with the rest of the log.
	args := []string{"mount", "--mirror", base, "--log", m.log}
	if os.Getenv("CGSYSCALL_TEST_DEBUG") == "1" {
		args = append(args, "--debug")
	}
	args = append(args, m.mnt)
	out, err := exec.Command(bin.cgsyscall, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	return m
}

// unmountedMirror is a test cgroup and an empty mount point, cleaned up
// at the end like newMirror's.
func unmountedMirror(t testing.TB) *mirror {
	t.Helper()
	needRoot(t)
	base, err := os.MkdirTemp(cgroup2Root(t), "cgsyscall-test-")
	if err != nil {
		t.Fatal(err)
	}
	m := &mirror{t: t, base: base, mnt: t.TempDir()}
	m.log = filepath.Join(t.TempDir(), "daemon.log")
	t.Cleanup(m.cleanup)
	return m
}

func (m *mirror) cleanup() {
	m.unmountAndWait()
	if m.t.Failed() || os.Getenv("CGSYSCALL_TEST_LOG") == "1" {
		if b, err := os.ReadFile(m.log); err == nil {
			m.t.Logf("daemon log:\n%s", b)
		}
	}
	removeCgroupTree(m.t, m.base)
	// The daemon's placement log of this mirror (it stays when a test kills
	// the daemon).
	os.Remove(m.placementLog())
	endKeepers(m.base)
}

// unmountAndWait unmounts m and waits up to 5 s for its daemons to exit:
// one that is still ending may start a keeper, whose lock file would stay
// in /run/cgsyscall once the keepers were ended.
func (m *mirror) unmountAndWait() {
	daemons := daemonPIDs(m)
	if err := exec.Command("umount", m.mnt).Run(); err != nil && m.mounted() {
		exec.Command("umount", "-l", m.mnt).Run()
	}
	for i := 0; i < 500 && len(daemons) > 0; i++ {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", daemons[0])); err != nil ||
			strings.Contains(string(b), ") Z ") {
			daemons = daemons[1:]
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keeperPIDs lists the listener keepers of mirror: "cgsyscall keeper ...
// MIRROR" processes of the binary under test.
func keeperPIDs(mirror string) []int { return keeperPIDsOf(mirror, bin.cgsyscall) }

// keeperPIDsOf is keeperPIDs for the binary exe, any binary when "".
func keeperPIDsOf(mirror, exe string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		path, _ := os.Readlink("/proc/" + e.Name() + "/exe")
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 2 && (exe == "" || path == exe) && args[1] == "keeper" &&
			args[len(args)-1] == mirror {
			out = append(out, pid)
		}
	}
	return out
}

// endKeepers ends the keeper that the test's daemons started for mirror
// (SIGTERM, by PID), waits up to 5 s for it, and removes its socket and
// lock file.
func endKeepers(mirror string) { endKeepersOf(mirror, bin.cgsyscall) }

// endKeepersOf is endKeepers for the binary exe (any when "").
func endKeepersOf(mirror, exe string) {
	pids := keeperPIDsOf(mirror, exe)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	for i := 0; i < 500 && len(pids) > 0; i++ {
		time.Sleep(10 * time.Millisecond)
		pids = keeperPIDsOf(mirror, exe)
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	sock := keeper.SocketPath(keeper.Dir, mirror)
	os.Remove(sock)
	os.Remove(strings.TrimSuffix(sock, ".sock") + ".lock")
}

func (m *mirror) mounted() bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	return bytes.Contains(b, []byte(" "+m.mnt+" "))
}

// removeCgroupTree removes a test's cgroup directories depth first. The
// processes the tests start are gone by then; a cgroup that stays busy for
// more than a few seconds is reported.
func removeCgroupTree(t testing.TB, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(t, filepath.Join(dir, e.Name()))
		}
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("removing test cgroup %s: %v", dir, err)
}

// path joins names below the mount point.
func (m *mirror) path(names ...string) string {
	return filepath.Join(append([]string{m.mnt}, names...)...)
}

// write writes data to a file of the mount from a shell, as an
// administrator does, and returns what the shell printed on failure.
func (m *mirror) write(file, data string) error {
	m.t.Helper()
	out, err := exec.Command("bash", "-c", `echo "$1" > "$2"`, "bash", data,
		m.path(file)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (m *mirror) mustWrite(file, data string) {
	m.t.Helper()
	if err := m.write(file, data); err != nil {
		m.t.Fatalf("writing %q to %s: %v", data, file, err)
	}
}

func (m *mirror) read(file string) string {
	m.t.Helper()
	b, err := os.ReadFile(m.path(file))
	if err != nil {
		m.t.Fatal(err)
	}
	return string(b)
}

func (m *mirror) mkdir(group string) {
	m.t.Helper()
	if err := os.Mkdir(m.path(group), 0o755); err != nil {
		m.t.Fatal(err)
	}
}

// run runs the cgsyscall binary and returns its stdout, stderr and exit
// status.
func run(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin.cgsyscall, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		t.Fatalf("running cgsyscall %v: %v", args, err)
	}
	return o.String(), e.String(), status
}

// probeTokens lists the calls the probe makes in every enforcement test:
// getppid natively and, on x86_64, through the i386 gate with its i386
// number, plus uname both ways as a call that stays allowed.
func probeTokens() []string {
	if runtime.GOARCH == "amd64" {
		return []string{"getppid", "i386:getppid", "uname", "i386:uname"}
	}
	return []string{"getppid", "uname"}
}

// wantProbe is what the probe prints when getppid is denied and uname is not.
func wantProbe(denied bool) map[string]string {
	want := map[string]string{}
	for _, tok := range probeTokens() {
		switch {
		case strings.HasSuffix(tok, "uname"):
			want[tok] = "0"
		case denied:
			want[tok] = "-38"
		}
	}
	return want
}

// parseProbe reads the probe's "TOKEN RESULT" lines.
func parseProbe(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		tok, res, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("probe printed %q", line)
		}
		got[tok] = res
	}
	return got
}

func checkProbe(t *testing.T, out string, denied bool) {
	t.Helper()
	got := parseProbe(t, out)
	for tok, want := range wantProbe(denied) {
		if got[tok] != want {
			t.Errorf("probe %s = %q, want %q (output %q)", tok, got[tok], want, out)
		}
	}
	if !denied {
		for _, tok := range probeTokens() {
			if strings.HasSuffix(tok, "getppid") && strings.HasPrefix(got[tok], "-") {
				t.Errorf("probe %s = %s, want a PID", tok, got[tok])
			}
		}
	}
}

func TestExecDeniedNativeAndI386(t *testing.T) {
	m := newMirror(t)
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "getppid\n")

	out, errOut, status := run(t, append([]string{"exec", "-m", m.mnt, "web", "--", bin.probe},
		probeTokens()...)...)
	if status != 0 {
		t.Fatalf("exec exited %d: %s", status, errOut)
	}
	checkProbe(t, out, true)

	// The root group denies nothing: the same probe there gets its parent's PID.
	out, errOut, status = run(t, append([]string{"exec", "-m", m.mnt, "", "--", bin.probe},
		probeTokens()...)...)
	if status != 0 {
		t.Fatalf("exec in the root group exited %d: %s", status, errOut)
	}
	checkProbe(t, out, false)
}

func TestExecChildrenAndDescendantGroups(t *testing.T) {
	m := newMirror(t)
	m.mkdir("web")
	m.mkdir("web/worker")
	// A deny in the parent reaches the existing child group.
	m.mustWrite("web/syscalls.deny", "110")
	if runtime.GOARCH != "amd64" {
		m.mustWrite("web/syscalls.deny", "getppid")
	}
	script := fmt.Sprintf("%s %s", bin.probe, strings.Join(probeTokens(), " "))
	out, errOut, status := run(t, "exec", "-m", m.mnt, "web/worker", "--", "sh", "-c", script)
	if status != 0 {
		t.Fatalf("exec exited %d: %s", status, errOut)
	}
	checkProbe(t, out, true)

	// Allowing in the child is refused while the parent denies.
	if err := m.write("web/worker/syscalls.allow", "getppid"); err == nil ||
		!strings.Contains(err.Error(), "Operation not permitted") {
		t.Fatalf("allow under a denying parent: %v, want Operation not permitted", err)
	}
	// Allowed at the parent, the child keeps its own denial until allowed there.
	m.mustWrite("web/syscalls.allow", "getppid")
	out, _, _ = run(t, append([]string{"exec", "-m", m.mnt, "web", "--", bin.probe},
		probeTokens()...)...)
	checkProbe(t, out, false)
	out, _, _ = run(t, "exec", "-m", m.mnt, "web/worker", "--", bin.probe, "getppid")
	if got := parseProbe(t, out)["getppid"]; got != "-38" {
		t.Fatalf("child group after allow in parent: getppid %s, want -38", got)
	}
}

func TestExecJoinsTheGroup(t *testing.T) {
	m := newMirror(t)
	m.mkdir("web")
	out, errOut, status := run(t, "exec", "-m", m.mnt, "web", "--", "sh", "-c",
		`echo $$; cat "$1"`, "sh", m.path("web", "tasks"))
	if status != 0 {
		t.Fatalf("exec exited %d: %s", status, errOut)
	}
	lines := strings.Fields(out)
	if len(lines) < 2 || lines[0] != lines[1] {
		t.Fatalf("shell PID and tasks: %q, want the shell's PID listed in web/tasks", out)
	}
	real, err := os.ReadFile(filepath.Join(m.base, "web", "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.Fields(string(real))) != 0 {
		t.Fatalf("web/cgroup.procs after the command ended: %q, want empty", real)
	}
}

func TestExecExitStatus(t *testing.T) {
	m := newMirror(t)
	m.mkdir("web")
	notExec := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"command's own", []string{"web", "--", "sh", "-c", "exit 7"}, 7, ""},
		{"not found", []string{"web", "--", "no-such-command-xyz"}, 127,
			"no-such-command-xyz: command not found"},
		{"not executable", []string{"web", "--", notExec}, 126, "permission denied"},
		{"a directory", []string{"web", "--", "/tmp"}, 126, "/tmp: permission denied"},
		{"group as a path", []string{m.mnt + "/web", "--", "sh", "-c", "exit 3"}, 3, ""},
		{"no such group", []string{"nosuch", "--", "true"}, 125, "no group /nosuch under"},
		{"no --", []string{"web", "true"}, 125, "usage:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, status := run(t, append([]string{"exec", "-m", m.mnt}, c.args...)...)
			if status != c.status || !strings.Contains(errOut, c.stderr) {
				t.Fatalf("status %d, stderr %q; want %d and %q", status, errOut, c.status,
					c.stderr)
			}
		})
	}
}

// TestExecDiesOfTheSignal: where a signal ends CMD, cgsyscall exec ends by
// the same signal, without a core of its own, as sudo and timeout do (it
// exited 128+N, and the shell said nothing of a crash: helper-39); a
// signal sent to exec is passed on to CMD and ends both. bash then reports
// the death, and its $? is 128+N all the same.
func TestExecDiesOfTheSignal(t *testing.T) {
	m := newMirror(t)
	m.mkdir("web")
	for _, c := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"SEGV", syscall.SIGSEGV},
		{"TERM", syscall.SIGTERM},
		{"KILL", syscall.SIGKILL},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "web", "--", "sh", "-c",
				"kill -"+c.name+" $$")
			err := cmd.Run()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != c.sig || ws.CoreDump() {
				t.Fatalf("exec of a command that %s ends: %v (status %v), want a death by %v, "+
					"no core", c.name, err, cmd.ProcessState, c.sig)
			}
		})
	}
	// Through bash, as an administrator's script sees it.
	out, err := exec.Command("bash", "-c", `"$1" exec -m "$2" web -- sh -c 'kill -SEGV $$'; `+
		`echo "status $?"`, "bash", bin.cgsyscall, m.mnt).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Segmentation fault") ||
		!strings.HasSuffix(string(out), "status 139\n") {
		t.Fatalf("bash: %v, %q; want its report of a segmentation fault and status 139", err,
			out)
	}
	// A signal sent to exec reaches CMD, which it ends; then exec.
	cmd := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "web", "--", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(m.base, "web", "cgroup.procs"))
		if f := strings.Fields(string(b)); len(f) == 1 {
			if comm, _ := os.ReadFile("/proc/" + f[0] + "/comm"); string(comm) == "sleep\n" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("sleep did not start in web within 5 s")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() ||
		ws.Signal() != syscall.SIGTERM {
		t.Fatalf("exec sent SIGTERM: %v, want a death by SIGTERM", cmd.ProcessState)
	}
}

func TestExecWithoutExecve(t *testing.T) {
	m := newMirror(t)
	m.mkdir("noexecve")
	m.mustWrite("noexecve/syscalls.deny", "execve getppid")
	out, errOut, status := run(t, "exec", "-m", m.mnt, "noexecve", "--", bin.probe, "getppid")
	if status != 0 {
		t.Fatalf("exec with execve denied exited %d: %s", status, errOut)
	}
	if got := parseProbe(t, out)["getppid"]; got != "-38" {
		t.Fatalf("getppid = %s, want -38", got)
	}
	// The stage went straight to execveat: no denied execve of its own
	// counts for the group (helper-26 saw them in syscalls.stat).
	wantStat(t, m, "noexecve", "getppid 1\ntotal 1\n")
	// The program itself cannot start another one.
	_, _, status = run(t, "exec", "-m", m.mnt, "noexecve", "--", "sh", "-c", "/bin/true")
	if status != 126 {
		t.Fatalf("sh running /bin/true without execve: status %d, want 126", status)
	}

	m.mustWrite("noexecve/syscalls.deny", "execveat")
	_, errOut, status = run(t, "exec", "-m", m.mnt, "noexecve", "--", "true")
	if status != 125 || !strings.Contains(errOut, "denies both execve and execveat") {
		t.Fatalf("both denied: status %d, stderr %q; want 125 and an explanation",
			status, errOut)
	}
}

func TestResolve(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		args   []string
		out    string
		status int
	}{
		{[]string{"resolve", "--arch", "x86_64", "execve", "0x3b", "469"},
			"59 execve\n59 execve\n469 file_setattr\n", 0},
		{[]string{"resolve", "--arch", "aarch64", "getpid"}, "172 getpid\n", 0},
		{[]string{"resolve", "--arch", "x86_64", "no_such_call"}, "", 1},
		{[]string{"resolve", "--arch", "x86_64", "470"}, "", 1},
		{[]string{"resolve"}, "", 2},
		{[]string{"resolve", "--arch", "x86_64", "-1"}, "", 1},
		{[]string{"resolve", "--arch=aarch64", "--", "execve"}, "221 execve\n", 0},
		// Every token is looked at; each bad one is reported on stderr.
		{[]string{"resolve", "--arch", "x86_64", "getpid", "bogus", "uname", "999"},
			"39 getpid\n63 uname\n", 1},
	} {
		out, _, status := run(t, c.args...)
		if out != c.out || status != c.status {
			t.Errorf("cgsyscall %v: %q, status %d; want %q, %d", c.args, out, status,
				c.out, c.status)
		}
	}
	_, errOut, _ := run(t, "resolve", "--arch", "x86_64", "getpid", "bogus", "uname", "999")
	if want := "cgsyscall: bogus: no such syscall on x86_64\n" +
		"cgsyscall: 999: outside 0..469 on x86_64\n"; errOut != want {
		t.Errorf("resolve's errors: %q, want %q", errOut, want)
	}
}

func TestShow(t *testing.T) {
	m := newMirror(t)
	m.mkdir("web")
	m.mkdir("web/worker")
	m.mkdir("db")
	m.mustWrite("web/syscalls.deny", "uname getpid")
	out, errOut, status := run(t, "show", "-m", m.mnt)
	if status != 0 {
		t.Fatalf("show exited %d: %s", status, errOut)
	}
	list := map[string]string{"amd64": "39 getpid, 63 uname",
		"arm64": "160 uname, 172 getpid"}[runtime.GOARCH]
	want := "/ (0 members): nothing denied\n" +
		"  db (0 members): nothing denied\n" +
		"  web (0 members): " + list + "\n" +
		"    worker (0 members): " + list + "\n"
	if out != want {
		t.Fatalf("show:\n%s\nwant:\n%s", out, want)
	}
	// A group is named the same ways in show, export and exec: from the
	// mount's top, or by its directory in the mount (helper-77: show and
	// export said "no group" for the directory, which exec took).
	web := "web (0 members): " + list + "\n" + "  worker (0 members): " + list + "\n"
	export, _, _ := run(t, "export", "-m", m.mnt, "web")
	for _, name := range []string{"web", "/web/", filepath.Join(m.mnt, "web"),
		filepath.Join(m.mnt, "web") + "/"} {
		if out, errOut, status := run(t, "show", "-m", m.mnt, name); out != web ||
			status != 0 {
			t.Errorf("show -m MOUNT %s: %q, %q, status %d; want %q", name, out, errOut,
				status, web)
		}
		if out, errOut, status := run(t, "export", "-m", m.mnt, name); out != export ||
			status != 0 || !strings.Contains(out, `"uname"`) {
			t.Errorf("export -m MOUNT %s: %q, %q, status %d; want %q", name, out, errOut,
				status, export)
		}
	}
	if out, _, status := run(t, "show", "-m", m.mnt, m.mnt); out != want || status != 0 {
		t.Errorf("show -m MOUNT MOUNT: %q, status %d; want %q", out, status, want)
	}
	// A group's directory as -m showed that group as the root (helper-45).
	out, errOut, status = run(t, "show", "-m", filepath.Join(m.mnt, "web"))
	wantErr := "cgsyscall: show: " + filepath.Join(m.mnt, "web") + " is not a cgsyscall " +
		"mount point (-m takes the mount point, GROUP comes after it)\n"
	if out != "" || errOut != wantErr || status != 1 {
		t.Errorf("show -m MOUNT/web: %q, %q, status %d; want %q, status 1", out, errOut,
			status, wantErr)
	}
}

func TestMountErrors(t *testing.T) {
	m := newMirror(t)
	notCgroup := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"mirror not a cgroup", []string{"mount", "--mirror", notCgroup, t.TempDir()},
			"is not a cgroup directory"},
		{"already mounted", []string{"mount", "--mirror", m.base, m.mnt},
			"is already a mount point"},
		{"mirror mounted twice", []string{"mount", "--mirror", m.base, t.TempDir()},
			"is already mirrored at " + m.mnt},
		{"no such mount point", []string{"mount", "--mirror", m.base, "/nonexistent/x"},
			"no such file or directory"},
		{"unknown option", []string{"mount", "-o", "bogus", t.TempDir()},
			`unknown mount option "bogus"`},
		// Options after the mount point count too (helper-26 wrote
		// them there, as for mount(8), and was told of a second mount
		// point).
		{"unknown option after", []string{"mount", t.TempDir(), "-o", "bogus"},
			`unknown mount option "bogus"`},
		{"mirror after", []string{"mount", t.TempDir(), "--mirror", notCgroup},
			"is not a cgroup directory"},
		{"two mount points", []string{"mount", "/a", "/b"}, "exactly one MOUNTPOINT expected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, status := run(t, c.args...)
			if status == 0 || !strings.Contains(errOut, c.msg) {
				t.Fatalf("status %d, stderr %q; want failure with %q", status, errOut, c.msg)
			}
			usage := strings.HasPrefix(c.name, "unknown option") || c.name == "two mount points"
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); !usage && n != 0 {
				t.Fatalf("stderr has %d lines, want one: %q", n+1, errOut)
			}
		})
	}
}

func TestDemoScript(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("scripts/demo.sh builds cgsyscall with go, and there is no go in PATH")
	}
	cmd := exec.Command("scripts/demo.sh")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Start()
	if err == nil {
		// The demo's daemon started a listener keeper of the demo's mirror.
		defer endKeepersOf(filepath.Join(cgroup2Root(t),
			"cgsyscall-demo-"+strconv.Itoa(cmd.Process.Pid)), "")
		err = cmd.Wait()
	}
	out := buf.Bytes()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"Function not implemented", "demo: OK",
		"Operation not permitted", "result=EPERM"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
