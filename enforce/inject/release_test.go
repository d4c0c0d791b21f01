package inject_test

import (
	"fmt"
	"os"
	"strings"
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

// TestHoldDuringCloneOfProcess holds a process whose only thread clones
// processes (not threads) with no exit signal, which the kernel attaches
// to the tracer (PTRACE_O_TRACECLONE) while their parent stops in the
// clone event: the filter must go into the process held, never into such
// a child.
func TestHoldDuringCloneOfProcess(t *testing.T) {
	injecttest.RequireRoot(t)
	prog := injecttest.Filter(unix.SYS_GETPPID)
	v := injecttest.Start(t, injecttest.C, 0)
	if got := v.Do(t, "cloneloop"); got != "cloning" {
		t.Fatalf("cloneloop answered %q", got)
	}
	for i := 1; i <= 300; i++ {
		fd, err := inject.Hold(v.Pid, prog)
		if err != nil {
			t.Fatalf("hold %d: %v", i, err)
		}
		unix.Close(fd)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", v.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("\nSeccomp_filters:\t%d\n", i); !strings.Contains(string(status),
			want) {
			t.Fatalf("hold %d: the process held has not %d filters:\n%s", i, i, status)
		}
	}
	if err := v.Reap(5 * time.Second); err != nil {
		t.Fatal(err)
	}
}
