package fs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// cgroup2Root is the cgroup v2 mount of this machine; test groups are
// made right below it.
const cgroup2Root = "/sys/fs/cgroup/unified"

// env is one test's world: its own real cgroup, a mount of its mirror,
// and the processes it started.
type env struct {
	t      *testing.T
	group  string // the real test group, cgroup2Root/cgsyscall-test-XXXX
	mnt    string // the mount point
	srv    *fuse.Server
	tree   *policy.Tree
	arch   *arch.Arch
	logBuf *lockedBuf
	pids   []int      // processes this test started
	knobs  *testKnobs // what mount passes to Mount; nil for none
}

// lockedBuf is a log sink that the test may read while the daemon writes.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// requireRoot skips a test that needs root, a cgroup2 mount and FUSE.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts FUSE with mount(2) and makes real cgroups")
	}
	var s unix.Statfs_t
	if err := unix.Statfs(cgroup2Root, &s); err != nil || s.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("needs a cgroup v2 mount at %s", cgroup2Root)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("needs /dev/fuse")
	}
	if arch.Host() == nil {
		t.Skip("needs x86_64 or aarch64")
	}
}

// newGroup makes the test's own real cgroup and removes it (children
// first, after moving the test's processes out) when the test ends.
func newGroup(t *testing.T) *env {
	t.Helper()
	requireRoot(t)
	g, err := os.MkdirTemp(cgroup2Root, "cgsyscall-test-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, group: g, arch: arch.Host(), logBuf: &lockedBuf{}}
	t.Cleanup(e.cleanupGroup)
	return e
}

// newEnv makes a test group and mounts its mirror on a fresh directory.
func newEnv(t *testing.T) *env {
	e := newGroup(t)
	e.mount(t.TempDir(), e.group, nil)
	return e
}

// mount mounts the mirror of mirror on mnt and unmounts it at the end
// of the test (before the group goes).
func (e *env) mount(mnt, mirror string, enf Enforcer) {
	e.t.Helper()
	e.tree = policy.NewTree(e.arch)
	log := logrus.New()
	log.SetOutput(e.logBuf)
	log.SetLevel(logrus.DebugLevel)
	srv, err := Mount(mnt, Options{
		Mirror: mirror, Tree: e.tree, Arch: e.arch, Enforcer: enf, Log: log, Debug: true,
		knobs: e.knobs,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv, e.mnt = srv, mnt
	e.t.Cleanup(func() {
		unmount(e.t, srv, mnt)
		if e.t.Failed() {
			e.t.Logf("daemon log:\n%s", e.logBuf)
		}
	})
}

// unmount ends a mount and waits for its server to stop.
func unmount(t *testing.T, srv *fuse.Server, mnt string) {
	if !mounted(mnt) {
		return
	}
	if err := srv.Unmount(); err != nil {
		t.Logf("unmount %s: %v; detaching", mnt, err)
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("server of %s still running after unmount", mnt)
	}
}

// mounted reports whether mnt is a mount point in /proc/self/mountinfo.
func mounted(mnt string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == mnt {
			return true
		}
	}
	return false
}

// cleanupGroup moves the test's processes out, kills them and removes
// the test group, deepest groups first.
func (e *env) cleanupGroup() {
	for _, p := range e.pids {
		os.WriteFile(filepath.Join(cgroup2Root, "cgroup.procs"), []byte(strconv.Itoa(p)), 0)
		syscall.Kill(p, syscall.SIGKILL)
	}
	var dirs []string
	filepath.WalkDir(e.group, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		var err error
		for try := 0; try < 50; try++ {
			// A process that just exited may linger in its group a moment.
			if err = unix.Rmdir(dirs[i]); err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			e.t.Errorf("cleanup: rmdir %s: %v", dirs[i], err)
		}
	}
}

// start starts a command of the test's own and registers it for cleanup.
func (e *env) start(name string, args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.pids = append(e.pids, cmd.Process.Pid)
	go cmd.Wait()
	return cmd
}

// sh runs script with sh -c, $M set to the mount point and $G to the
// real test group, and returns stdout, stderr and the exit status.
func (e *env) sh(script string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), "M="+e.mnt, "G="+e.group)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("sh -c %q: %v", script, err)
	}
	return out.String(), errb.String(), code
}

// shOK runs script and fails the test unless it exits 0 with nothing on
// stderr; it returns stdout.
func (e *env) shOK(script string) string {
	e.t.Helper()
	out, errs, code := e.sh(script)
	if code != 0 || errs != "" {
		e.t.Fatalf("sh -c %q: status %d, stderr %q", script, code, errs)
	}
	return out
}

// shFails runs script and checks that it exits with status code and that
// stderr holds msg.
func (e *env) shFails(script string, code int, msg string) {
	e.t.Helper()
	_, errs, got := e.sh(script)
	if got != code || !strings.Contains(errs, msg) {
		e.t.Fatalf("sh -c %q: status %d, stderr %q; want status %d and %q",
			script, got, errs, code, msg)
	}
}

// read returns the content of a file of the mount (p relative to it).
func (e *env) read(p string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.mnt, p))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// want compares a file of the mount with its expected content.
func (e *env) want(p, content string) {
	e.t.Helper()
	if got := e.read(p); got != content {
		e.t.Fatalf("%s reads %q, want %q", p, got, content)
	}
}

// realProcs returns the PIDs in the real cgroup.procs of group rel.
func (e *env) realProcs(rel string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.group, rel, "cgroup.procs"))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// nr returns the native number of syscall name.
func (e *env) nr(name string) int {
	e.t.Helper()
	n, ok := e.arch.Native.SyscallNumber(name)
	if !ok {
		e.t.Fatalf("no syscall %q", name)
	}
	return n
}

// newTreeFor returns an empty policy tree of the test's architecture.
func newTreeFor(e *env) *policy.Tree {
	return policy.NewTree(e.arch)
}
