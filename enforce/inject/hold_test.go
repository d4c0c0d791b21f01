package inject_test

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	injecttest.Cleanup()
	os.Exit(code)
}

var kinds = []string{injecttest.C, injecttest.Go}

func TestHoldClosedListenerFailsClosed(t *testing.T) {
	injecttest.RequireRoot(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			v := injecttest.Start(t, kind, 0)
			ppid := strconv.Itoa(os.Getpid())
			if got := v.Do(t, "getppid"); got != ppid {
				t.Fatalf("getppid before hold = %s, want %s", got, ppid)
			}
			fd, err := inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
			if err != nil {
				t.Fatalf("Hold: %v", err)
			}
			unix.Close(fd)
			if got := v.Do(t, "getppid"); got != "-38" {
				t.Errorf("getppid with listener closed = %s, want -38", got)
			}
			if got, want := v.Do(t, "getpid"), strconv.Itoa(v.Pid); got != want {
				t.Errorf("getpid = %s, want %s", got, want)
			}
			_, err = inject.Hold(v.Pid, injecttest.Filter(unix.SYS_GETPPID))
			if err != nil {
				t.Errorf("second Hold after closing the first listener: %v", err)
			}
			var e *inject.Error
			if err != nil && !errors.As(err, &e) {
				t.Errorf("error %T is not *inject.Error", err)
			}
		})
	}
}
