package inject

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestChildless: a thread with a child of its own, even one that exited
// and was not waited for, is not childless; HoldWith's own thread then
// hands the hold to a tracing thread, and a tracing thread ends. Waiting for the child is left to
// its owner (WNOWAIT).
func TestChildless(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if !childless() {
		t.Skip("this test's thread has a child already")
	}
	cmd := exec.Command("/bin/sh", "-c", "exit 7")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if childless() {
		t.Error("childless with a child started from this thread")
	}
	// Exited, not waited for: still a child, and its status still there.
	for i := 0; i < 1000 && !exitedChild(cmd.Process.Pid); i++ {
		time.Sleep(time.Millisecond)
	}
	if childless() {
		t.Error("childless with a child that exited and was not waited for")
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("the child's own wait: %v, want exit status 7", err)
	}
	if !childless() {
		t.Error("not childless after the child was waited for")
	}
}

// exitedChild reports whether process pid is a zombie.
func exitedChild(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestParseCPUList: sysfs and cpuset CPU lists; anything else is refused.
func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"0-1\n", []int{0, 1}, true},
		{"0", []int{0}, true},
		{"0-3,8,10-11", []int{0, 1, 2, 3, 8, 10, 11}, true},
		{"", nil, false},
		{"3-1", nil, false},
		{"0-", nil, false},
		{"a", nil, false},
		{"0-1024", nil, false},
	} {
		set, ok := parseCPUList(c.in)
		var got []int
		for cpu := 0; cpu < 1024; cpu++ {
			if set.IsSet(cpu) {
				got = append(got, cpu)
			}
		}
		if ok != c.ok || ok && fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
