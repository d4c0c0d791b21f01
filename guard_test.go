package cgsyscall_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGuardProtectsTheDaemon: a held process cannot signal, open a pidfd of
// or change the limits of the daemon, whatever its group allows; aimed at
// any other process of its own, the same calls work, but pidfd_getfd,
// refused for every target.
func TestGuardProtectsTheDaemon(t *testing.T) {
	prog := cProgram(t, "guard")
	m := liveMirror(t)
	denyGetppid(m, "g")
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()

	names := []string{"kill", "tgkill", "pidfd_open", "pidfd_send_signal", "prlimit64"}
	for _, c := range []struct {
		target int
		want   string
	}{{daemonPID(t, m), "-38"}, {other.Process.Pid, "0"}} {
		out, errOut, status := run(t, "exec", "-m", m.mnt, "g", "--", prog,
			strconv.Itoa(c.target), filepath.Join(m.base, "g"))
		if status != 0 {
			t.Fatalf("guard %d: status %d, %s", c.target, status, errOut)
		}
		got := parseProbe(t, out)
		// pidfd_getfd is refused whatever it names (helper-79: a held
		// process copied the listener of another's hold with it).
		if got["pidfd_getfd"] != "-38" {
			t.Errorf("pidfd_getfd aimed at %d from a held process: %s, want -38", c.target,
				got["pidfd_getfd"])
		}
		for _, name := range names {
			if got[name] != c.want {
				t.Errorf("%s aimed at %d from a held process: %s, want %s", name, c.target,
					got[name], c.want)
			}
		}
		// The daemon's saved policy on the real directory is out of reach;
		// other attributes are not.
		if got["setxattr-trusted"] != "-38" || got["setxattr-user"] != "0" {
			t.Errorf("setxattr from a held process: trusted.cgsyscall.deny %s, user.* %s; "+
				"want -38, 0", got["setxattr-trusted"], got["setxattr-user"])
		}
	}
	if v, err := unix.Getxattr(filepath.Join(m.base, "g"), "trusted.cgsyscall.deny",
		make([]byte, 64)); err != nil || v < 2 {
		t.Fatalf("the saved policy of g after the attempts: %d bytes, %v", v, err)
	}
}
