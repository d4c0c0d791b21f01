package supervise_test

import (
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/kernel"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

// TestWithoutSyncWakeUp runs the fallback of kernels before Linux 6.6
// (no SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) on any kernel: decisions are
// answered all the same, and SyncWakeUp says false.
func TestWithoutSyncWakeUp(t *testing.T) {
	injecttest.RequireRoot(t)
	defer kernel.SyncWakeUp.Disable()()
	var allow atomic.Bool
	s, err := supervise.New(func(*supervise.Notif) bool { return allow.Load() })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := held(t, s, injecttest.C)
	if got := v.Do(t, "getppid"); got != "-38" {
		t.Errorf("denied getppid = %s, want -38", got)
	}
	allow.Store(true)
	if got, ppid := v.Do(t, "getppid"), strconv.Itoa(os.Getpid()); got != ppid {
		t.Errorf("allowed getppid = %s, want %s", got, ppid)
	}
	if s.SyncWakeUp() {
		t.Errorf("SyncWakeUp true with the feature off")
	}
}
