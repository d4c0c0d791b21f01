package hold

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// errnoOf returns err's errno, for the file interface.
func errnoOf(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// writeProcs moves pid into the real cgroup dir, unless it is there.
func writeProcs(dir string, pid int) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strconv.Itoa(pid)); err != nil {
		return errnoOf(err)
	}
	return nil
}

// readProcs lists the PIDs of a real cgroup directory; for a threaded
// cgroup, whose cgroup.procs cannot be read, the processes of its threads.
func readProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, syscall.EOPNOTSUPP) {
		b, err = os.ReadFile(filepath.Join(dir, "cgroup.threads"))
		if err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				if tid, err := strconv.Atoi(f); err == nil && tgidOf(tid) != 0 {
					pids = append(pids, tgidOf(tid))
				}
			}
			return pids, nil
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, errnoOf(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// statusField reads one field of /proc/PID/status.
func statusField(pid int, key string) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// tgidOf maps a thread ID to its process; 0 when it is gone.
func tgidOf(tid int) int {
	v, err := statusField(tid, "Tgid")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

func seccompFilters(pid int) int {
	v, err := statusField(pid, "Seccomp_filters")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("bad stat line")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// startTime is field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 20 {
		return 0, syscall.ESRCH
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// parentOf is field 4 of /proc/PID/stat.
func parentOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 2 {
		return 0, syscall.ESRCH
	}
	return strconv.Atoi(f[1])
}
