package inject

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// kcmpVM and kcmpFiles are KCMP_VM and KCMP_FILES of <linux/kcmp.h>.
const (
	kcmpVM    = 1
	kcmpFiles = 2
)

// sharedWith returns another process that shares the file table of
// process pid (clone with CLONE_FILES but not CLONE_THREAD), or 0. It asks
// kcmp(2) about every process, about a microsecond each. It is the
// fallback where no helper thread can be made (see spawnHelper), and runs
// while every thread of pid is stopped: pid cannot give its table to a
// new process meanwhile, and any process that shares it already is found.
func sharedWith(pid int) int { return sharing(pid, kcmpFiles) }

// memorySharer returns another process that shares the memory of process
// pid (clone with CLONE_VM but not CLONE_THREAD), or 0, the same way. Such
// a process is not stopped with pid: it could rewrite the injected code
// and programs, and make pid dumpable again to copy the new listener from
// the helper thread (adversary, finding A). A vfork child shares its
// parent's memory until it execs.
func memorySharer(pid int) int { return sharing(pid, kcmpVM) }

// skipMemoryCheck leaves memorySharer out of a hold, for the tests of the
// checks behind it (the verified program, the page read back).
var skipMemoryCheck bool

// sharing returns a live process other than pid and this one for which
// kcmp(pid, other, kind) says the resource is the same, or 0.
func sharing(pid int, kind uintptr) int {
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	self := os.Getpid()
	for _, name := range names {
		other, err := strconv.Atoi(name)
		if err != nil || other == pid || other == self {
			continue
		}
		r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(other), kind,
			0, 0, 0)
		if e != 0 || r != 0 {
			continue
		}
		// Exiting processes have no file table or memory left, and kernel
		// threads share theirs: neither counts.
		if pi, err := readProc(other); err == nil && !pi.zombie && !pi.kthread {
			return other
		}
	}
	return 0
}
