package inject

import (
	"os"
	"testing"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// TestReadProcWithoutKthreadLine runs the fallback of kernels before
// Linux 6.3 (no Kthread line in /proc/PID/status) on any kernel: PID 2,
// kthreadd, is a kernel thread by the PF_KTHREAD bit of its stat, and
// this process is not.
func TestReadProcWithoutKthreadLine(t *testing.T) {
	for _, off := range []bool{false, true} {
		if off {
			defer kernel.ProcKthread.Disable()()
		}
		kt, err := readProc(2)
		if err != nil {
			t.Skipf("no PID 2 to look at: %v", err)
		}
		self, err := readProc(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if !kt.kthread || self.kthread {
			t.Errorf("feature off %v: PID 2 kthread %v, self %v; want true, false", off,
				kt.kthread, self.kthread)
		}
		if self.tgid != os.Getpid() || self.zombie {
			t.Errorf("feature off %v: self %+v", off, self)
		}
	}
}
