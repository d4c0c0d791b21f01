package cgsyscall_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// victimC returns the C victim of package enforce/inject's tests, prebuilt
// in the test binaries' directory (the aarch64 VM) or built with gcc.
func victimC(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(bin.dir, "victim-c"); fileExists(p) {
		return p
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	prog := filepath.Join(t.TempDir(), "victim-c")
	if out, err := exec.Command("gcc", "-O2", "-pthread", "-static", "-o", prog,
		filepath.Join("enforce", "inject", "testdata", "cvictim.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return prog
}

// TestGrowthListenerOutOfReach: a process of the held one's user, not
// held, that copies the descriptors of its threads with pidfd_getfd again
// and again (the victim's grabber) gets no listener through growths of
// its layer either. A grown layer hands prctl to the daemon, and its
// listener is closed before the new layer goes in, so the daemon's calls
// that clear the dumpable flag failed, and the grabber took the listener
// at the second growth (2 of 2 runs; helper-82 showed that such a process
// could also write the stub through a pinned page). A layer now lets
// PR_GET_DUMPABLE and PR_SET_DUMPABLE run in the kernel.
func TestGrowthListenerOutOfReach(t *testing.T) {
	prog := victimC(t)
	m := liveMirror(t)
	denyGetppid(m, "g")
	cmd := exec.Command(prog, "0")
	cmd.Dir = "/"
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ask := func(c string) string {
		t.Helper()
		if _, err := in.Write([]byte(c + "\n")); err != nil {
			t.Fatalf("victim: %s: %v", c, err)
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("victim: %s: no answer, it ended", c)
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("victim: %s: no answer in 10 s", c)
		}
		return ""
	}
	if got := ask("nobody"); got != "0" {
		t.Fatalf("nobody: %s", got)
	}
	if got := ask("grabber"); got == "" || got[0] == '-' {
		t.Fatalf("grabber: %s", got)
	}
	time.Sleep(5 * time.Millisecond) // the grabber is polling
	m.mustWrite("g/tasks", strconv.Itoa(cmd.Process.Pid))
	// Frequent calls, which no layer hands over before they are denied:
	// each deny grows the layer, the second and later from a grown one.
	for _, call := range []string{"getcwd", "umask", "fchdir", "fsync"} {
		m.mustWrite("g/syscalls.deny", call)
		if got := ask("getppid"); got != "-38" {
			t.Fatalf("getppid after the deny of %s: %s, want -38 (the grabber got %s "+
				"listeners)", call, got, ask("grabbed"))
		}
		if got := ask("grabbed"); got != "0" {
			t.Fatalf("after the deny of %s the grabber got %s listeners, want 0", call, got)
		}
		if got := ask("dumpable"); got != "1" {
			t.Fatalf("dumpable after the deny of %s: %s, want 1 as before", call, got)
		}
	}
}
