package keeper

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// cgsyscall is the binary whose hidden keeper subcommand the end-to-end
// tests run: $CGSYSCALL_TEST_BIN/cgsyscall where that is set, else built
// once into a temporary directory.
func cgsyscall(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("CGSYSCALL_TEST_BIN"); dir != "" {
		return filepath.Join(dir, "cgsyscall")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keeper-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "cgsyscall")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o",
			binPath, "./cmd/cgsyscall")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// process is a process that a test started, maybe through another one,
// signalled through a pidfd so that a reused PID is never hit.
type process struct {
	pid, pidfd int
}

func track(t *testing.T, pid int) *process {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	p := &process{pid: pid, pidfd: fd}
	t.Cleanup(func() {
		p.signal(unix.SIGKILL)
		unix.Close(fd)
	})
	return p
}

func (p *process) signal(sig unix.Signal) { unix.PidfdSendSignal(p.pidfd, sig, nil, 0) }

func (p *process) exited() bool {
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds, 0)
	return n == 1
}

// helperDaemon starts daemonMain for v with listener fd, which it closes
// here, and returns it and the keeper it connected to.
func helperDaemon(t *testing.T, v *victim, fd int, dir, mirror, mode string) (*exec.Cmd,
	*bufio.Scanner, *process) {
	t.Helper()
	cmd := exec.Command(os.Args[0], dir, mirror, mode)
	cmd.Env = append(os.Environ(), roleEnv+"=daemon", "VICTIM_PID="+strconv.Itoa(v.pid),
		"KEEPER_EXE="+cgsyscall(t))
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fd), "listener")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles[0].Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "kept ") {
		t.Fatalf("helper daemon: %q", sc.Text())
	}
	pid, _ := strconv.Atoi(strings.TrimPrefix(sc.Text(), "kept "))
	return cmd, sc, track(t, pid)
}

// TestDaemonKilled: a daemon killed with a notification received and not
// answered; the keeper, the real subcommand started by that daemon,
// answers it with ENOSYS, and every later one, and the victim cannot load
// a listener of its own. A new daemon takes the listener and answers
// again; the keeper is killed under it and started again with every
// listener; the daemon leaves, and then the keeper is stopped: the old
// behaviour (the kernel's ENOSYS, and room for the escape).
func TestDaemonKilled(t *testing.T) {
	for _, mode := range []string{"mark", "nomark"} {
		t.Run(mode, func(t *testing.T) { daemonKilled(t, mode) })
	}
}

func daemonKilled(t *testing.T, mode string) {
	k := startKeeper(t, time.Minute) // only for its directory and root check
	k.Stop()
	<-k.ran
	k.ran <- nil
	dir, mirror := k.dir, k.mirror
	v := startVictim(t)
	d, out, keeper := helperDaemon(t, v, hold(t, v), dir, mirror, mode)
	if got := v.do(t, "getppid"); got != ppid {
		t.Fatalf("getppid allowed by the helper daemon = %s, want %s", got, ppid)
	}
	v.send(t, "getppid")
	if !out.Scan() || out.Text() != "stalled" {
		t.Fatalf("helper daemon: %q", out.Text())
	}
	if got, ok := v.reply(t, 100*time.Millisecond); ok {
		t.Fatalf("getppid answered (%s) while the daemon held it", got)
	}
	d.Process.Kill()
	d.Wait()
	got, ok := v.reply(t, 5*time.Second)
	if !ok {
		t.Fatal("the call that the killed daemon had received is still waiting after 5 s")
	}
	if got != enosys {
		t.Errorf("getppid pending when the daemon was killed = %s, want %s", got, enosys)
	}
	if got := v.do(t, "getppid"); got != enosys {
		t.Errorf("getppid after the daemon was killed = %s, want %s", got, enosys)
	}
	if got := v.do(t, "listen"); got != ebusy {
		t.Errorf("own NEW_LISTENER filter after the daemon was killed = %s, want %s",
			got, ebusy)
	}
	if mode != "mark" {
		return
	}

	c, err := Connect(mirror, ClientOptions{Dir: dir, Exe: cgsyscall(t)})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer c.Close()
	if c.KeeperPid() != keeper.pid {
		t.Fatalf("new daemon connected to keeper %d, want %d", c.KeeperPid(), keeper.pid)
	}
	ls, err := c.Take()
	if err != nil || len(ls) != 1 || ls[0].Pid != v.pid || ls[0].Start != v.start {
		t.Fatalf("Take = %+v, %v; want the victim's listener", ls, err)
	}
	a := answer(ls[0].Fd, ls[0].Mark)
	if got := v.do(t, "getppid"); got != ppid {
		t.Errorf("getppid answered by the new daemon = %s, want %s", got, ppid)
	}

	keeper.signal(unix.SIGKILL)
	waitFor(t, "a new keeper", func() bool {
		return c.KeeperPid() != 0 && c.KeeperPid() != keeper.pid
	})
	keeper2 := track(t, c.KeeperPid())
	if got := v.do(t, "getppid"); got != ppid {
		t.Errorf("getppid after the keeper was killed = %s, want %s", got, ppid)
	}
	a.close(ls[0].Fd)
	c.Close()
	if got := v.do(t, "getppid"); got != enosys {
		t.Errorf("getppid once the daemon left the new keeper = %s, want %s", got, enosys)
	}
	if got := v.do(t, "listen"); got != ebusy {
		t.Errorf("own NEW_LISTENER filter under the new keeper = %s, want %s", got, ebusy)
	}

	keeper2.signal(unix.SIGTERM)
	waitFor(t, "the keeper exiting on SIGTERM", keeper2.exited)
	if err := unix.Stat(SocketPath(dir, mirror), &unix.Stat_t{}); err != unix.ENOENT {
		t.Errorf("socket after SIGTERM: %v, want ENOENT", err)
	}
	if got := v.do(t, "getppid"); got != enosys {
		t.Errorf("getppid with every listener closed = %s, want %s", got, enosys)
	}
	if got, _ := strconv.Atoi(v.do(t, "listen")); got < 0 {
		t.Errorf("own NEW_LISTENER filter with every listener closed = %d, want a descriptor",
			got)
	}
}

// TestSubcommand: the hidden subcommand's usage error, a second keeper of
// a mirror giving way to the first, and the idle exit.
func TestSubcommand(t *testing.T) {
	k := startKeeper(t, time.Minute)
	bin := cgsyscall(t)
	if err := exec.Command(bin, "keeper").Run(); exitCode(err) != 2 {
		t.Errorf("keeper without a mirror: %v, want exit status 2", err)
	}
	t0 := time.Now()
	out, err := exec.Command(bin, "keeper", "-dir", k.dir, k.mirror).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "another keeper of this mirror runs") {
		t.Errorf("second keeper: %v, %q; want exit status 0 and a line saying why", err, out)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("second keeper took %v to give way", d)
	}
	k.stop()
	t0 = time.Now()
	cmd := exec.Command(bin, "keeper", "-dir", k.dir, "-idle", "200ms", k.mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("idle keeper: %v\n%s", err, out)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("idle keeper took %v to exit, want about 200ms", d)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
