package inject_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// TestHoldExitDuringRelease holds a process whose main thread ends the
// process as soon as it finds the filter in, while the hold lets its
// threads go one by one: a thread still stopped then has SIGKILL pending,
// cannot be detached (ESRCH), and its exit is reported to the tracer,
// which must reap it; a tracer that forgot it left the process a zombie
// that its parent could never reap.
func TestHoldExitDuringRelease(t *testing.T) {
	injecttest.RequireRoot(t)
	prog := injecttest.Filter(unix.SYS_GETPPID)
	for i := range 40 {
		v := injecttest.Start(t, injecttest.C, 16)
		if got := v.Do(t, "exitonfilter"); got != "spinning" {
			t.Fatalf("exitonfilter answered %q", got)
		}
		fd, err := inject.Hold(v.Pid, prog)
		if err == nil {
			unix.Close(fd)
		}
		if rerr := v.Reap(5 * time.Second); rerr != nil {
			t.Fatalf("hold %d (%v): %v", i, err, rerr)
		}
	}
}
