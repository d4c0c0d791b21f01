package cgsyscall_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOrphanOfHeldIsHeld: a held process forks a child and exits before
// the child makes any call its layer hands over, so the daemon never heard
// of the child, which init adopts. Moved into a group that denies a call
// that layer does not cover, the child is held all the same (its layer is
// found from its filter chain and grows), and the call fails from then on.
func TestOrphanOfHeldIsHeld(t *testing.T) { orphanOfHeld(t, false) }

// TestOrphanAfterRestartIsHeld is TestOrphanOfHeldIsHeld with the daemon
// killed and mounted again before the move, and the orphan's grandparent
// (the held process, a shell) alive: the new daemon takes the layer back
// from the keeper and finds its program in the shell's chain by its tag,
// made with the key kept in the placement log. (An orphan whose held
// parent exited before the restart cannot be moved after it: the new
// daemon serves that layer's listener, but cannot read its program from a
// process; the move fails with EBUSY.)
func TestOrphanAfterRestartIsHeld(t *testing.T) { orphanOfHeld(t, true) }

func orphanOfHeld(t *testing.T, restart bool) {
	prog := cProgram(t, "orphan")
	m := liveMirror(t)
	m.mkdir("g")
	m.mustWrite("g/syscalls.deny", "uname")
	m.mkdir("h")
	m.mustWrite("h/syscalls.deny", "uname getpid")

	out := filepath.Join(t.TempDir(), "orphan.out")
	// Not through run: the orphan would keep its output pipes open.
	if !restart {
		if err := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "g", "--", prog,
			out).Run(); err != nil {
			t.Fatalf("exec of the orphan's parent: %v", err)
		}
	} else {
		sh := exec.Command(bin.cgsyscall, "exec", "-m", m.mnt, "g", "--", "/bin/sh", "-c",
			`"$0" "$1"; exec sleep 30`, prog, out)
		if err := sh.Start(); err != nil {
			t.Fatalf("exec of the orphan's grandparent: %v", err)
		}
		t.Cleanup(func() {
			killMembers(t, m) // the shell's sleep
			sh.Process.Kill()
			sh.Wait()
		})
	}
	var pid int
	for i := 0; pid == 0; i++ {
		b, _ := os.ReadFile(out)
		if first, _, ok := strings.Cut(string(b), "\n"); ok {
			pid, _ = strconv.Atoi(first)
		}
		if i == 100 {
			t.Fatal("the orphan wrote no PID within 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		// Not our child: init reaps it; wait until it is gone.
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 200; i++ {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	if restart {
		killDaemon(t, m)
		persistRemount(t, m)
	}
	if err := m.write("h/tasks", strconv.Itoa(pid)); err != nil {
		t.Fatalf("moving the orphan into h: %v", err)
	}
	// The orphan's calls start 1.5 s after its fork; give it time for a
	// dozen after that.
	time.Sleep(2 * time.Second)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
	if len(lines) < 5 {
		t.Fatalf("the orphan made %d calls in 2 s", len(lines))
	}
	for i, ln := range lines {
		if ln != "getpid -38" {
			t.Fatalf("call %d of the orphan in h: %q, want getpid -38", i+1, ln)
		}
	}
}
