package keeper

import (
	"os"
	"strconv"
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
// namespace, and under no seccomp filter at all. The last one is what
// matters: every held process, and every child of one, has a filter, so
// none of them can take its own listener from the keeper. The checks are
// made on /proc of the peer's PID and hold for the process the pidfd
// names only while it lives: it is asked after them.
func checkDaemon(sock int) (*peer, int, error) {
	p, cred, err := peerOf(sock)
	if err != nil {
		return nil, 0, err
	}
	st, err := status(p.pid, "Seccomp", "CapEff")
	ok := err == nil && cred.Uid == 0 && st["Seccomp"] == "0" &&
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

// selfFiltered reports whether this process runs under a seccomp filter.
func selfFiltered() bool {
	st, err := status(os.Getpid(), "Seccomp")
	return err != nil || st["Seccomp"] != "0"
}
