package procfs

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func tasks(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestThreadCount: the link count of /proc/PID/task gives the thread
// count; -1 for a process that is gone.
func TestThreadCount(t *testing.T) {
	// The Go runtime may start a thread between two looks: look until a
	// listing before and after the count agree.
	for try := 0; ; try++ {
		before := tasks(t, os.Getpid())
		n := ThreadCount(os.Getpid())
		after := tasks(t, os.Getpid())
		if before != after && try < 100 {
			continue
		}
		if n != after {
			t.Fatalf("ThreadCount(self) = %d, /proc/self/task lists %d", n, after)
		}
		break
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skipf("sleep: %v", err)
	}
	pid := cmd.Process.Pid
	if n := ThreadCount(pid); n != 1 {
		t.Errorf("ThreadCount(sleep) = %d, want 1", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := ThreadCount(pid); n != -1 {
		t.Errorf("ThreadCount of a reaped process = %d, want -1", n)
	}
}

// otherThread returns the ID of a thread of this process that is not the
// leader, kept alive until the test ends. A goroutine locked to the main
// thread is kept too, so that the next one cannot land there.
func otherThread(t *testing.T) int {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	for range 3 {
		tid := make(chan int)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tid <- unix.Gettid()
			<-done
		}()
		if n := <-tid; n != os.Getpid() {
			return n
		}
	}
	t.Fatal("no thread but the main one")
	return 0
}

// TestThreadOfAndTgidOf: a thread is a thread of its own process and of no
// other; TgidOf names the process of a leader and of another thread, and
// says ESRCH for one that does not exist.
func TestThreadOfAndTgidOf(t *testing.T) {
	self, tid := os.Getpid(), otherThread(t)
	if !ThreadOf(self, tid) || !ThreadOf(self, self) {
		t.Errorf("ThreadOf(%d, %d) or ThreadOf(self, self) is false", self, tid)
	}
	if ThreadOf(1, tid) || ThreadOf(self, 0) || ThreadOf(0, self) {
		t.Errorf("ThreadOf says yes for a thread of another process, or for 0")
	}
	for _, id := range []int{self, tid} {
		if g, err := TgidOf(id); err != nil || g != self {
			t.Errorf("TgidOf(%d) = %d, %v; want %d", id, g, err, self)
		}
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("true: %v", err)
	}
	gone := cmd.Process.Pid // reaped: gone, unless its ID was taken again
	if _, err := os.Stat("/proc/" + itoa(gone)); err == nil {
		t.Skipf("PID %d was reused", gone)
	}
	if g, err := TgidOf(gone); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("TgidOf of a process that is gone = %d, %v; want ESRCH", g, err)
	}
	if _, err := TgidOf(0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("TgidOf(0) = %v, want ESRCH", err)
	}
}

// TestCommOf: the command name of a thread; "?" for one that is gone.
func TestCommOf(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skipf("sleep: %v", err)
	}
	pid := cmd.Process.Pid
	// Start returns once the child's execve has replaced its memory (the
	// end of its vfork), which comes before the kernel names it after the
	// new program: the old name may be read for a moment (seen once in the
	// aarch64 VM, "procfs.test").
	got := CommOf(pid)
	for deadline := time.Now().Add(2 * time.Second); got != "sleep" &&
		time.Now().Before(deadline); got = CommOf(pid) {
		time.Sleep(time.Millisecond)
	}
	if got != "sleep" {
		t.Errorf("CommOf(sleep) = %q, want sleep", got)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := CommOf(pid); got != "?" {
		t.Errorf("CommOf of a reaped process = %q, want ?", got)
	}
}

// TestPidMaxAndLastPid: pid_max as the kernel has it, and the last task ID
// given out, which a child started now is.
func TestPidMaxAndLastPid(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip("no /proc/sys/kernel/pid_max")
	}
	if got, want := PidMax(), strings.TrimSpace(string(b)); itoa(got) != want {
		t.Errorf("PidMax() = %d, want %s", got, want)
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last := LastPid()
	cmd.Wait()
	if last < cmd.Process.Pid || last >= PidMax() {
		t.Errorf("LastPid() = %d right after starting %d", last, cmd.Process.Pid)
	}
}

// TestNamespaceInit: this process is no pid namespace's init (it runs in
// the namespace it was started in, as a test binary does, or is that one's
// init only in a container, where NSpid has one ID); a PID that does not
// exist fails.
func TestNamespaceInit(t *testing.T) {
	init, err := NamespaceInit(os.Getpid())
	if err != nil || init {
		t.Errorf("NamespaceInit(self) = %v, %v; want false, nil", init, err)
	}
	if _, err := NamespaceInit(PidMax() + 1); err == nil {
		t.Errorf("NamespaceInit of a PID past pid_max: no error")
	}
}
