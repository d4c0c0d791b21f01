package inject

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// kcmpFiles is KCMP_FILES of <linux/kcmp.h>.
const kcmpFiles = 2

// sharedWith returns another process that shares the file table of
// process pid (clone with CLONE_FILES but not CLONE_THREAD), or 0. It asks
// kcmp(2) about every process, about a microsecond each. It is the
// fallback where no helper thread can be made (see spawnHelper), and runs
// while every thread of pid is stopped: pid cannot give its table to a
// new process meanwhile, and any process that shares it already is found.
func sharedWith(pid int) int {
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
		r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(other), kcmpFiles,
			0, 0, 0)
		if e != 0 || r != 0 {
			continue
		}
		// Exiting processes have no file table left, and kernel threads
		// share one: neither counts.
		if pi, err := readProc(other); err == nil && !pi.zombie && !pi.kthread {
			return other
		}
	}
	return 0
}
