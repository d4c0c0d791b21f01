package keeper

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// capSysPtrace is CAP_SYS_PTRACE's bit in /proc/PID/status CapEff.
const capSysPtrace = 19

// peer is the process at the other end of a connection.
type peer struct {
	pid   int
	start uint64
	pidfd int // polls readable once the process has exited
}

func (p *peer) same(q *peer) bool { return p.pid == q.pid && p.start == q.start }

func (p *peer) close() {
	if p != nil && p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
}

// exited reports whether p has exited, every thread of it.
func (p *peer) exited() bool {
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 1
}

// peerOf identifies the process at the other end of sock: the one that
// connected, for the keeper; the one that listens, for a daemon. The
// pidfd comes from SO_PEERPIDFD (Linux 6.5), or pidfd_open of the PID
// from SO_PEERCRED before that.
func peerOf(sock int) (*peer, *unix.Ucred, error) {
	cred, err := unix.GetsockoptUcred(sock, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return nil, nil, err
	}
	pidfd, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	if err != nil {
		if pidfd, err = unix.PidfdOpen(int(cred.Pid), 0); err != nil {
			return nil, nil, syscall.ESRCH
		}
	}
	unix.CloseOnExec(pidfd)
	p := &peer{pid: int(cred.Pid), pidfd: pidfd}
	if p.start, err = StartTime(p.pid); err != nil {
		p.close()
		return nil, nil, err
	}
	return p, cred, nil
}

// checkDaemon identifies the process that connected to the keeper and
// refuses it (EPERM) unless it could take the listeners from a running
// daemon anyway: root, CAP_SYS_PTRACE in effect, in the keeper's user
// namespace, and with a thread under no seccomp filter. The last one is
// what matters: every thread of a held process, and of every child of
// one, has the layer, so none of them can take its own listener from the
// keeper. Not every thread: a daemon may have one that probed a kernel
// feature with a filter (enforce/kernel), the main thread among them. The
// checks are made on /proc of the peer's PID and hold for the process the
// pidfd names only while it lives: it is asked after them.
func checkDaemon(sock int) (*peer, int, error) {
	p, cred, err := peerOf(sock)
	if err != nil {
		return nil, 0, err
	}
	st, err := status(p.pid, "CapEff")
	ok := err == nil && cred.Uid == 0 && unfilteredThread(p.pid) &&
		capSet(st["CapEff"], capSysPtrace) &&
		sameFile("/proc/self/ns/user", "/proc/"+strconv.Itoa(p.pid)+"/ns/user")
	if ok && p.exited() {
		err = syscall.ESRCH
	} else if !ok {
		err = syscall.EPERM
	}
	if err != nil {
		p.close()
		return nil, p.pid, err
	}
	return p, p.pid, nil
}

// capSet reports whether bit is set in a capability mask as
// /proc/PID/status prints it (hexadecimal).
func capSet(mask string, bit uint) bool {
	v, err := strconv.ParseUint(mask, 16, 64)
	return err == nil && v&(1<<bit) != 0
}

// unfilteredThread reports whether a thread of process pid runs under no
// seccomp filter.
func unfilteredThread(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	for _, tid := range tids {
		if n, err := strconv.Atoi(tid); err == nil && threadSeccomp(pid, n) == "0" {
			return true
		}
	}
	return false
}

// threadSeccomp is the Seccomp field of thread tid of process pid.
func threadSeccomp(pid, tid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(tid) +
		"/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
