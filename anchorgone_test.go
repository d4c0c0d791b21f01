package cgsyscall_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestRestartKeepsPinnedSetOfRemovedGroup: a member of q/c moved behind the
// mount's back to q, whose q/c is then removed behind its back too, gains
// nothing from a daemon restart: the set pinned when it was placed in q/c
// is in the placement log, and q/c's denial stays in force.
func TestRestartKeepsPinnedSetOfRemovedGroup(t *testing.T) {
	m := liveMirror(t)
	m.mkdir("q")
	m.mustWrite("q/syscalls.deny", "getppid")
	m.mkdir("q/c")
	m.mustWrite("q/c/syscalls.deny", "uname")
	s := startServing(t, m.base)
	moveTo(m, "q/c", s.pid)
	if got := s.call("uname")["uname"]; got != "-38" {
		t.Fatalf("uname in q/c: %s, want -38", got)
	}
	if err := os.WriteFile(filepath.Join(m.base, "q", "cgroup.procs"),
		[]byte(strconv.Itoa(s.pid)), 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		err := os.Remove(filepath.Join(m.base, "q", "c"))
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EBUSY) || i == 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	killDaemon(t, m)
	persistRemount(t, m)
	time.Sleep(1500 * time.Millisecond) // past the first scan
	got := s.call("uname", "getppid")
	if got["uname"] != "-38" || got["getppid"] != "-38" {
		t.Fatalf("after the restart: uname %s, getppid %s; want -38 both", got["uname"],
			got["getppid"])
	}
}
