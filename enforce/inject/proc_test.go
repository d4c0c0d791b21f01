package inject

import (
	"os"
	"os/exec"
	"testing"
)

// TestThreadCount: the link count of /proc/PID/task gives the thread
// count that stopAll compares with the threads it seized.
func TestThreadCount(t *testing.T) {
	// The Go runtime may start a thread between two looks: look until a
	// listing before and after the count agree.
	for try := 0; ; try++ {
		before, err := listTasks(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		n := threadCount(os.Getpid())
		after, _ := listTasks(os.Getpid())
		if len(before) != len(after) && try < 100 {
			continue
		}
		if n != len(after) {
			t.Fatalf("threadCount(self) = %d, /proc/self/task lists %d", n, len(after))
		}
		break
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skipf("sleep: %v", err)
	}
	pid := cmd.Process.Pid
	if n := threadCount(pid); n != 1 {
		t.Errorf("threadCount(sleep) = %d, want 1", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := threadCount(pid); n != -1 {
		t.Errorf("threadCount of a reaped process = %d, want -1", n)
	}
}
