package keeper

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// victim is this test binary playing victimMain.
type victim struct {
	pid   int
	start uint64
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startVictim(t *testing.T) *victim {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"=victim")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &victim{pid: cmd.Process.Pid, cmd: cmd, in: in, lines: make(chan string, 4)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			v.lines <- sc.Text()
		}
		close(v.lines)
	}()
	t.Cleanup(v.kill)
	if got := v.do(t, "ping"); got != "pong" {
		t.Fatalf("victim answered ping with %q", got)
	}
	if v.start, err = StartTime(v.pid); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *victim) kill() {
	v.cmd.Process.Kill()
	v.cmd.Wait()
}

func (v *victim) send(t *testing.T, cmd string) {
	t.Helper()
	if _, err := io.WriteString(v.in, cmd+"\n"); err != nil {
		t.Fatalf("victim: %v", err)
	}
}

func (v *victim) reply(t *testing.T, wait time.Duration) (string, bool) {
	t.Helper()
	select {
	case l, ok := <-v.lines:
		if !ok {
			t.Fatal("victim: output closed")
		}
		return l, true
	case <-time.After(wait):
		return "", false
	}
}

func (v *victim) do(t *testing.T, cmd string) string {
	t.Helper()
	v.send(t, cmd)
	l, ok := v.reply(t, 10*time.Second)
	if !ok {
		t.Fatalf("victim: no answer to %q within 10 s", cmd)
	}
	return l
}

// hold holds v to a filter that notifies getppid, as the daemon does, and
// returns the listener.
func hold(t *testing.T, v *victim) int {
	t.Helper()
	fd, err := inject.Hold(v.pid, injecttest.Filter(unix.SYS_GETPPID))
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	return fd
}

// answerer is a daemon's answering loop on one listener: it lets every
// notified call run, noting each in its Mark first.
type answerer struct {
	stop, done chan struct{}
}

func answer(fd int, mark Mark) *answerer {
	a := &answerer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			default:
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, _ := unix.Poll(fds, 20); n != 1 || fds[0].Revents&unix.POLLIN == 0 {
				continue
			}
			n, err := recv(fd)
			if err != nil {
				continue
			}
			mark.Received(n.ID)
			allow(fd, n.ID)
		}
	}()
	return a
}

// close stops the loop and closes fd, as a supervisor's Close does.
func (a *answerer) close(fd int) {
	close(a.stop)
	<-a.done
	unix.Close(fd)
}

// inProcess runs a keeper in a goroutine, in a directory of its own.
type inProcess struct {
	*Keeper
	dir    string
	mirror string
	ran    chan error
}

func startKeeper(t *testing.T, idle time.Duration) *inProcess {
	t.Helper()
	injecttest.RequireRoot(t)
	return startKeeperIn(t, t.TempDir(), idle)
}

func startKeeperIn(t *testing.T, dir string, idle time.Duration) *inProcess {
	t.Helper()
	mirror := "/sys/fs/cgroup/unified/cgsyscall-test-keeper"
	log := logrus.New()
	log.SetOutput(io.Discard)
	if testing.Verbose() {
		log.SetOutput(os.Stderr)
	}
	k, err := Listen(mirror, Options{Dir: dir, Idle: idle, Log: log})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	p := &inProcess{Keeper: k, dir: dir, mirror: mirror, ran: make(chan error, 1)}
	go func() { p.ran <- k.Run() }()
	t.Cleanup(p.stop)
	return p
}

// stop stops the keeper and waits for Run; again, it does nothing.
func (p *inProcess) stop() {
	if p.ran == nil {
		return
	}
	p.Stop()
	<-p.ran
	p.ran = nil
}

func (p *inProcess) connect(t *testing.T) *Client {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := Connect(p.mirror, ClientOptions{Dir: p.dir, NoSpawn: true, Log: log})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within 5 s", what)
}

var ppid = strconv.Itoa(os.Getpid())
