package cgsyscall_test

import (
	"strings"
	"testing"
	"time"
)

// TestLiveRestartAfterDroppingRoot: a process held while it was root (no
// no_new_privs needed then) that dropped to another user is held again by
// a restarted daemon: the injected prctl(PR_SET_NO_NEW_PRIVS) goes through
// even its dead layer, which fails every other call it hands over,
// prctl's other options among them.
func TestLiveRestartAfterDroppingRoot(t *testing.T) {
	m := liveMirror(t)
	denyGetppid(m, "g")
	p := startLive(t, m.base, bin.cgsyscall, "exec", "-m", m.mnt, "g", "--",
		"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin.probe, "-serve")
	if l := p.next(); !strings.HasPrefix(l, "ready ") {
		t.Fatalf("probe printed %q, want its ready line", l)
	}
	want := map[string]string{"getppid": "-38", "uname": "0", "getuid": "65534"}
	check := func() map[string]string {
		got := p.call("getppid", "uname", "getuid")
		for tok, w := range want {
			if got[tok] != w {
				return got
			}
		}
		return nil
	}
	if bad := check(); bad != nil {
		t.Fatalf("held as nobody: %v, want %v", bad, want)
	}
	killDaemon(t, m)
	persistRemount(t, m)
	// The new daemon holds it again in its first scan, before it serves.
	deadline := time.Now().Add(3 * time.Second)
	for bad := check(); bad != nil; bad = check() {
		if time.Now().After(deadline) {
			t.Fatalf("3 s after the restart: %v, want %v", bad, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The probe ends at the end of its input, and exec with it; killing
	// exec would leave the probe behind.
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exec of the probe: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the probe did not end 5 s after its input did")
	}
}
