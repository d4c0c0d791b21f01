package inject

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every ptrace stop of a tracee sends SIGCHLD to the tracer's process,
// unless its SIGCHLD action has SA_NOCLDSTOP; the wait that the tracing
// thread makes is woken either way. The signal goes to whichever thread
// of the daemon can take it, usually one asleep in a system call on the
// other CPU, which the kernel then wakes for nothing: a hold stops a
// tracee eight times or more, and each such wakeup sent across CPUs is
// dear in a VM. quietStops adds SA_NOCLDSTOP to the process's SIGCHLD
// action, once, before the first seize, keeping the handler the Go runtime
// installed; exits still send SIGCHLD. Nothing in cgsyscall waits for the
// signal itself: os/exec and the tracer wait with wait4 and waitid.
var quietOnce sync.Once

// saNoCldStop is SA_NOCLDSTOP, the same on x86_64 and aarch64.
const saNoCldStop = 1

// sigaction is struct sigaction as rt_sigaction(2) takes it on x86_64 and
// aarch64; only read and written back here.
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func quietStops() {
	quietOnce.Do(func() {
		var sa sigaction
		_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), 0,
			uintptr(unsafe.Pointer(&sa)), 8, 0, 0)
		if e != 0 || sa.flags&saNoCldStop != 0 {
			return
		}
		sa.flags |= saNoCldStop
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD),
			uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	})
}
