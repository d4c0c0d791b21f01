package cgsyscall_test

import (
	"os/exec"
	"strconv"
	"testing"
)

// TestGuardProtectsTheDaemon: a held process cannot signal, open a pidfd of
// or change the limits of the daemon, whatever its group allows; aimed at
// any other process of its own, the same calls work.
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
			strconv.Itoa(c.target))
		if status != 0 {
			t.Fatalf("guard %d: status %d, %s", c.target, status, errOut)
		}
		got := parseProbe(t, out)
		for _, name := range names {
			if got[name] != c.want {
				t.Errorf("%s aimed at %d from a held process: %s, want %s", name, c.target,
					got[name], c.want)
			}
		}
	}
}
