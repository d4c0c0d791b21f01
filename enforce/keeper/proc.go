package keeper

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dir holds the keepers' sockets and lock files, beside the placement
// logs of enforce/hold: memory, gone with a reboot as the processes are.
var Dir = "/run/cgsyscall"

// maxSun is the longest socket path the kernel takes (sun_path less its
// terminating NUL).
const maxSun = 107

// Name is the mirror as the file names of /run/cgsyscall spell it: the
// cleaned path without its outer slashes, inner slashes as underscores
// (enforce/hold's placement log uses the same).
func Name(mirror string) string {
	return strings.ReplaceAll(strings.Trim(filepath.Clean(mirror), "/"), "/", "_")
}

// SocketPath is where the keeper of mirror listens, in dir. A name too
// long for a socket address is replaced by its FNV-1a hash.
func SocketPath(dir, mirror string) string {
	p := filepath.Join(dir, "keeper-"+Name(mirror)+".sock")
	if len(p) <= maxSun {
		return p
	}
	h := uint64(14695981039346656037)
	for _, c := range []byte(Name(mirror)) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return filepath.Join(dir, "keeper-"+strconv.FormatUint(h, 16)+".sock")
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, syscall.ESRCH
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, syscall.ESRCH
	}
	return strings.Fields(string(b[i+1:])), nil
}

// StartTime is field 22 of /proc/PID/stat: the process's start in clock
// ticks after boot, which tells a process from a later one that reuses
// its PID.
func StartTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 20 {
		return 0, syscall.ESRCH
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, syscall.ESRCH
	}
	return n, nil
}

// status reads the fields of /proc/PID/status named in keys.
func status(pid int, keys ...string) (map[string]string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, syscall.ESRCH
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out, nil
}

// sameFile reports whether the two paths name one inode.
func sameFile(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// isListener reports whether fd is a seccomp listener.
func isListener(fd int) bool {
	l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && l == "anon_inode:seccomp notify"
}

// kcmpFile is KCMP_FILE of <linux/kcmp.h>.
const kcmpFile = 0

// sameListener reports whether descriptors a and b of this process refer
// to one open file.
func sameListener(a, b int) bool {
	self := uintptr(os.Getpid())
	r, _, e := unix.Syscall6(unix.SYS_KCMP, self, self, kcmpFile, uintptr(a), uintptr(b), 0)
	return e == 0 && r == 0
}
