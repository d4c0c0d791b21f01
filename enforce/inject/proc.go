package inject

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// pfKthread is PF_KTHREAD of <linux/sched.h>, in /proc/PID/stat's flags.
const pfKthread = 0x00200000

// procInfo is what Seize needs to know about a task before tracing it.
type procInfo struct {
	tgid    int
	tracer  int
	zombie  bool
	kthread bool
}

// readProc reads /proc/TID/status, and /proc/TID/stat on kernels whose
// status lacks the Kthread line (before Linux 6.3; kernel.ProcKthread). A task that does not
// exist gives ESRCH.
func readProc(tid int) (procInfo, error) {
	var pi procInfo
	dir := "/proc/" + strconv.Itoa(tid)
	st, err := os.ReadFile(dir + "/status")
	if err != nil {
		return pi, procErr(err)
	}
	haveKthread := false
	for len(st) > 0 {
		var line []byte
		line, st, _ = bytes.Cut(st, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "Tgid":
			pi.tgid, _ = strconv.Atoi(string(v))
		case "TracerPid":
			pi.tracer, _ = strconv.Atoi(string(v))
		case "State":
			pi.zombie = len(v) > 0 && (v[0] == 'Z' || v[0] == 'X')
		case "Kthread":
			haveKthread = true
			pi.kthread = string(v) == "1"
		}
	}
	if pi.tgid == 0 {
		return pi, unix.ESRCH
	}
	if haveKthread && kernel.ProcKthread.Have() {
		return pi, nil
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return pi, procErr(err)
	}
	flags, err := statFlags(stat)
	if err != nil {
		return pi, err
	}
	pi.kthread = flags&pfKthread != 0
	return pi, nil
}

// openProcess returns the process ID (thread group ID) of task pid and a
// pidfd of that process, for Seize. A process ID, which pidfd_open without
// flags accepts, costs that one call: a kernel thread or a zombie is found
// when PTRACE_SEIZE refuses it (EPERM), and so is a tracer. Another thread
// ID is looked up in /proc/TID/status, which says all of that at once.
// Errors: ESRCH (no such task, or a zombie), EINVAL (a kernel thread, or
// a thread of the calling process), EBUSY (traced).
func openProcess(pid int) (int, int, error) {
	if pid <= 0 {
		return 0, -1, unix.ESRCH
	}
	tgid := pid
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil && err != unix.ESRCH {
		// Not a thread group leader: EINVAL, or ENOENT (Linux 6.18).
		pi, perr := readProc(pid)
		switch {
		case perr != nil:
			return 0, -1, perr
		case pi.kthread:
			return 0, -1, unix.EINVAL
		case pi.zombie:
			return 0, -1, unix.ESRCH
		case pi.tracer != 0:
			return 0, -1, unix.EBUSY
		}
		tgid = pi.tgid
		fd, err = unix.PidfdOpen(tgid, 0)
	}
	if err != nil {
		return 0, -1, err
	}
	if tgid == os.Getpid() {
		unix.Close(fd)
		return 0, -1, unix.EINVAL
	}
	return tgid, fd, nil
}

// statFlags returns field 9 (flags) of a /proc/PID/stat line.
func statFlags(stat []byte) (uint64, error) { return statField(stat, 9) }

// statField returns numeric field n (1-based, as in proc(5)) of a
// /proc/PID/stat line. The command name in field 2 may hold spaces and
// parentheses, so fields are counted from the last ')'.
func statField(stat []byte, n int) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || n < 3 {
		return 0, unix.EINVAL
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state).
	if len(f) < n-2 {
		return 0, unix.EINVAL
	}
	v, err := strconv.ParseUint(string(f[n-3]), 10, 64)
	if err != nil {
		return 0, unix.EINVAL
	}
	return v, nil
}

// tracerOf returns the TracerPid of a task, 0 when it is not traced or gone.
func tracerOf(tid int) int {
	pi, err := readProc(tid)
	if err != nil {
		return 0
	}
	return pi.tracer
}

// everyCPU returns the CPUs the kernel may ever run a task on
// (/sys/devices/system/cpu/possible), read once; false when unknown. A
// thread that no mask restricts has them all, as long as every one is
// online.
var everyCPU = sync.OnceValues(func() (unix.CPUSet, bool) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return unix.CPUSet{}, false
	}
	return parseCPUList(string(b))
})

// parseCPUList reads a CPU list such as "0-3,8,10-11" (sysfs, cpusets).
func parseCPUList(s string) (unix.CPUSet, bool) {
	var set unix.CPUSet
	s = strings.TrimSpace(s)
	if s == "" {
		return set, false
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return set, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return set, false
			}
		}
		if b >= len(set)*64 {
			return set, false
		}
		for cpu := a; cpu <= b; cpu++ {
			set.Set(cpu)
		}
	}
	return set, true
}

// childless reports whether the calling thread has no child and no tracee
// (waitid says ECHILD). WNOWAIT leaves any child's state to its own
// waiter.
func childless() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info,
		unix.WEXITED|unix.WSTOPPED|unix.WNOHANG|unix.WNOWAIT|unix.WALL|unix.WNOTHREAD, nil)
	return err == unix.ECHILD
}

// listTasks returns the thread IDs of process pid.
func listTasks(pid int) ([]int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil, procErr(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, procErr(err)
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if t, err := strconv.Atoi(n); err == nil {
			tids = append(tids, t)
		}
	}
	return tids, nil
}

// vdsoRange returns the start and end of the [vdso] mapping of pid, or
// zeros when it has none.
func vdsoRange(pid int) (uint64, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return 0, 0, procErr(err)
	}
	return parseVdso(b)
}

// parseVdso finds the [vdso] line of a /proc/PID/maps text.
func parseVdso(maps []byte) (uint64, uint64, error) {
	for _, line := range bytes.Split(maps, []byte{'\n'}) {
		if !bytes.HasSuffix(bytes.TrimSpace(line), []byte("[vdso]")) {
			continue
		}
		span, _, _ := bytes.Cut(line, []byte{' '})
		lo, hi, ok := bytes.Cut(span, []byte{'-'})
		if !ok {
			return 0, 0, unix.EINVAL
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return 0, 0, unix.EINVAL
		}
		return start, end, nil
	}
	return 0, 0, nil
}

// procErr turns a /proc access error into an errno: a missing entry is a
// task that is gone.
func procErr(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if errno == unix.ENOENT {
			return unix.ESRCH
		}
		return errno
	}
	return unix.EIO
}

// readMem reads tracee memory at addr into buf.
func readMem(pid int, addr uint64, buf []byte) error {
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	if err != nil {
		return err
	}
	if n != len(buf) {
		return unix.EFAULT
	}
	return nil
}

// writeMem writes buf into tracee memory at addr. The target pages must be
// writable (process_vm_writev honours page protections).
func writeMem(pid int, addr uint64, buf []byte) error {
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMWritev(pid, local, remote, 0)
	if err != nil {
		return err
	}
	if n != len(buf) {
		return unix.EFAULT
	}
	return nil
}
