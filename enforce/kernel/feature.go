// Package kernel names the kernel facilities that cgsyscall uses where the
// running kernel has them and does without where it has not: those that
// the oldest supported kernel (Linux 6.1, the aarch64 suite's) lacks and
// the newest has. Each is probed once, by name, the first time it is asked
// for; the answer is kept for the life of the process.
//
// A feature can be turned off, so that its fallback runs on a kernel that
// has it: with [Feature.Disable] in tests, or for a whole process with the
// environment variable CGSYSCALL_KERNEL_OFF, a comma-separated list of
// names ("all" for every one).
package kernel

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Feature is one kernel facility with a fallback.
type Feature struct {
	Name     string // as in logs, CGSYSCALL_KERNEL_OFF and the README
	Since    string // the first Linux version that has it
	Fallback string // what is done without it

	probe func() bool
	once  sync.Once
	have  bool
	off   atomic.Int32 // Disable calls in force
}

// Have reports whether the running kernel has f and it is not turned off.
// The first call runs the probe.
func (f *Feature) Have() bool {
	f.once.Do(func() { f.have = f.probe() && !offByEnv(f.Name) })
	return f.have && f.off.Load() == 0
}

// Probed reports what the probe found, whether or not f is turned off.
func (f *Feature) Probed() bool {
	f.Have()
	return f.have
}

// Disable turns f off until the returned function is called.
func (f *Feature) Disable() (restore func()) {
	f.off.Add(1)
	var done sync.Once
	return func() { done.Do(func() { f.off.Add(-1) }) }
}

func offByEnv(name string) bool {
	for _, n := range strings.Split(os.Getenv("CGSYSCALL_KERNEL_OFF"), ",") {
		if n == name || n == "all" {
			return true
		}
	}
	return false
}

// SyncWakeUp is SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: the kernel wakes the
// supervisor of a seccomp listener synchronously, on the notifying task's
// CPU.
var SyncWakeUp = &Feature{
	Name:  "seccomp_sync_wake_up",
	Since: "6.6",
	Fallback: "listeners are woken the ordinary way: a notified call's round trip " +
		"takes tens of microseconds instead of a few",
	probe: probeSyncWakeUp,
}

// ProcKthread is the Kthread line of /proc/PID/status.
var ProcKthread = &Feature{
	Name:     "proc_status_kthread",
	Since:    "6.3",
	Fallback: "kernel threads are told by the PF_KTHREAD bit of /proc/PID/stat",
	probe:    probeProcKthread,
}

// PidfdThread is PIDFD_THREAD: a pidfd of one thread, which pidfd_getfd
// takes descriptors from that thread's own file table.
var PidfdThread = &Feature{
	Name:  "pidfd_thread",
	Since: "6.9",
	Fallback: "a seccomp listener is created in the held process's own file table, " +
		"and a process that shares that table with another is refused (EBUSY); " +
		"a thread other than the main one is known by its process's pidfd and its TID",
	probe: probePidfdThread,
}

// All lists every feature, in a fixed order.
func All() []*Feature { return []*Feature{SyncWakeUp, ProcKthread, PidfdThread} }

// probePidfdThread asks for a thread pidfd of this process's main thread;
// kernels before 6.9 refuse the flag (O_EXCL) with EINVAL.
func probePidfdThread() bool {
	fd, err := unix.PidfdOpen(unix.Getpid(), unix.O_EXCL)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

func probeProcKthread() bool {
	b, err := os.ReadFile("/proc/self/status")
	return err == nil && bytes.Contains(b, []byte("\nKthread:"))
}

// probeSyncWakeUp makes a listener of its own and asks for the flag. The
// listener comes with a filter that allows everything, loaded into a
// thread that exists for the probe only: the goroutine ends locked to it,
// so the runtime ends the thread, and its filter with it.
func probeSyncWakeUp() bool {
	have := make(chan bool)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		have <- syncWakeUpOnThisThread()
	}()
	return <-have
}

func syncWakeUpOnThisThread() bool {
	allow := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	prog := unix.SockFprog{Len: 1, Filter: &allow[0]}
	load := func() (uintptr, unix.Errno) {
		fd, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
		return fd, e
	}
	fd, e := load()
	if e == unix.EACCES {
		// Without CAP_SYS_ADMIN the kernel wants no_new_privs, which
		// holds for this doomed thread only.
		if unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != nil {
			return false
		}
		fd, e = load()
	}
	runtime.KeepAlive(allow)
	if e != 0 {
		return false
	}
	defer unix.Close(int(fd))
	_, _, e = unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	return e == 0
}
