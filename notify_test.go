package cgsyscall_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// What systemd sees of "cgsyscall mount -f", the ExecStart of
// scripts/cgsyscall.service: the test plays the service manager with a
// datagram socket of its own, as systemd does for a unit of Type=notify.

// notifySocket is the service manager's end of NOTIFY_SOCKET.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	s := &notifySocket{path: filepath.Join(t.TempDir(), "notify"), msgs: make(chan string, 16)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	return s
}

// daemon is a foreground "cgsyscall mount -f" that the test started.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// startForeground runs "cgsyscall mount -f" over m with extra environment,
// its log in m.log; at cleanup it is ended if it still runs.
func startForeground(t *testing.T, m *mirror, env ...string) *daemon {
	t.Helper()
	logf, err := os.Create(m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d := &daemon{exited: make(chan struct{})}
	d.cmd = exec.Command(bin.cgsyscall, "mount", "-f", "--mirror", m.base, m.mnt)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
			return
		default:
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// next waits for the next message; it fails when the daemon exits first.
func (s *notifySocket) next(t *testing.T, d *daemon, what string) string {
	t.Helper()
	select {
	case msg := <-s.msgs:
		return msg
	case <-d.exited:
		// A message sent just before the exit is in the socket already;
		// the goroutine that reads it may not have passed it on yet.
		select {
		case msg := <-s.msgs:
			return msg
		case <-time.After(time.Second):
		}
		t.Fatalf("the daemon exited (%v) before %s", d.err, what)
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20 s", what)
	}
	return ""
}

// none fails if a message arrives within wait.
func (s *notifySocket) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case msg, ok := <-s.msgs:
		if ok {
			t.Errorf("unexpected message %q", msg)
		}
	case <-time.After(wait):
	}
}

// exitStatus waits for d to end and returns its exit status.
func (d *daemon) exitStatus(t *testing.T) int {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not exit within 20 s")
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	} else if d.err != nil {
		t.Fatal(d.err)
	}
	return 0
}

// checkReady checks the READY=1 message and that the mount answers now.
func checkReady(t *testing.T, m *mirror, msg string) {
	t.Helper()
	// Right away: READY=1 must not come before the mount answers.
	got, err := os.ReadFile(m.path("syscalls.deny"))
	if err != nil || string(got) != "\n" {
		t.Fatalf("right after READY=1, syscalls.deny: %q, %v; want a lone newline", got, err)
	}
	want := "READY=1\nSTATUS=serving " + m.mnt + ", mirroring " + m.base
	if msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
}

func TestNotifyReadyThenStoppingOnSIGTERM(t *testing.T) {
	m := unmountedMirror(t)
	sock := listenNotify(t)
	d := startForeground(t, m, "NOTIFY_SOCKET="+sock.path)
	checkReady(t, m, sock.next(t, d, "READY=1"))
	m.mkdir("web")
	m.mustWrite("web/syscalls.deny", "getppid")
	sock.none(t, 200*time.Millisecond)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := sock.next(t, d, "STOPPING=1"); msg != "STOPPING=1" {
		t.Fatalf("after SIGTERM: %q, want STOPPING=1", msg)
	}
	if st := d.exitStatus(t); st != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", st)
	}
	if m.mounted() {
		t.Fatal("still mounted after the daemon exited")
	}
	sock.none(t, 100*time.Millisecond)
}

func TestNotifyStoppingOnUmount(t *testing.T) {
	m := unmountedMirror(t)
	sock := listenNotify(t)
	d := startForeground(t, m, "NOTIFY_SOCKET="+sock.path)
	checkReady(t, m, sock.next(t, d, "READY=1"))
	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	if msg := sock.next(t, d, "STOPPING=1"); msg != "STOPPING=1" {
		t.Fatalf("after umount: %q, want STOPPING=1", msg)
	}
	if st := d.exitStatus(t); st != 0 {
		t.Fatalf("exit status %d after umount, want 0", st)
	}
	sock.none(t, 100*time.Millisecond)
}

func TestNotifyNothingWhenTheMountFails(t *testing.T) {
	needRoot(t)
	// The mirror is not a cgroup directory.
	m := &mirror{t: t, base: t.TempDir(), mnt: t.TempDir()}
	m.log = filepath.Join(t.TempDir(), "daemon.log")
	t.Cleanup(m.cleanup)
	sock := listenNotify(t)
	d := startForeground(t, m, "NOTIFY_SOCKET="+sock.path)
	if st := d.exitStatus(t); st != 1 {
		t.Fatalf("exit status %d, want 1", st)
	}
	if b, _ := os.ReadFile(m.log); !bytes.Contains(b, []byte("is not a cgroup directory")) {
		t.Errorf("stderr %q lacks the reason", b)
	}
	sock.none(t, 100*time.Millisecond)
}

func TestNotifyNotFromADetachedDaemon(t *testing.T) {
	// A detached daemon is not the process a service manager started: it
	// must keep quiet, though NOTIFY_SOCKET is in the environment.
	m := unmountedMirror(t)
	sock := listenNotify(t)
	cmd := exec.Command(bin.cgsyscall, "mount", "--mirror", m.base, "--log", m.log, m.mnt)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	if got := m.read("syscalls.deny"); got != "\n" {
		t.Fatalf("syscalls.deny: %q", got)
	}
	pid := daemonPID(t, m)
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, []byte("NOTIFY_SOCKET=")) {
		t.Error("the detached daemon has NOTIFY_SOCKET in its environment")
	}
	if out, err := exec.Command("umount", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	waitGone(t, pid)
	sock.none(t, 100*time.Millisecond)
}
