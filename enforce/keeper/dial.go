package keeper

import (
	"errors"
	"os/exec"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// dial connects to the keeper, starting one when none answers, within
// wait. It reads only c's constant fields: c.mu need not be held.
func (c *Client) dial(wait time.Duration) (int, *peer, error) {
	deadline := time.Now().Add(wait)
	// EBUSY while the last daemon is still on its way out.
	busyUntil := time.Now().Add(500 * time.Millisecond)
	spawned := false
	for {
		fd, p, err := c.connect()
		if err == nil {
			return fd, p, nil
		}
		absent := errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
		if absent && !spawned && !c.opt.NoSpawn {
			if serr := c.spawn(); serr != nil {
				return -1, nil, serr
			}
			spawned = true
		} else if !absent && (err != syscall.EBUSY || time.Now().After(busyUntil)) {
			return -1, nil, err
		}
		if time.Now().After(deadline) {
			return -1, nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connect makes one attempt: socket, connect, Hello with the mark table.
func (c *Client) connect() (int, *peer, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: c.path})
	for err == unix.EINTR {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: c.path})
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	tv := unix.NsecToTimeval(c.opt.Timeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	p, cred, err := peerOf(fd)
	if err == nil && cred.Uid != 0 {
		p.close()
		err = syscall.EPERM // not a keeper: only root can listen there
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	// The keeper's greeting, then Hello with the mark table.
	err = expect(fd)
	if err == nil {
		if err = sendMsg(fd, msg{Op: opHello, Slot: tableSlots}, c.memfd); err == nil {
			err = expect(fd)
		}
	}
	if err != nil {
		p.close()
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, p, nil
}

// attach makes fd, connected to keeper p, the connection. Called with
// c.mu held.
func (c *Client) attach(fd int, p *peer) {
	c.keeper.close()
	c.conn, c.keeper = fd, p
	c.pid.Store(int64(p.pid))
}

// spawn starts a keeper: its own session, stdio on /dev/null (standard
// error the daemon's, for a daemon in the foreground), reaped
// here should it exit while this daemon runs. It inherits this process's
// cgroup, which is never a restricted one.
func (c *Client) spawn() error {
	exe := c.opt.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	args := []string{"keeper"}
	if c.opt.Dir != Dir {
		args = append(args, "-dir", c.opt.Dir)
	}
	if c.opt.LogFile != "" {
		args = append(args, "-log", c.opt.LogFile)
	}
	if c.opt.LogJSON {
		args = append(args, "-log-format", "json")
	}
	cmd := exec.Command(exe, append(args, c.mirror)...)
	cmd.Dir = "/"
	if c.opt.LogFile == "" && c.opt.LogStderr != nil {
		cmd.Stderr = c.opt.LogStderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.opt.Log.WithField("pid", cmd.Process.Pid).Info("started the listener keeper")
	go cmd.Wait()
	return nil
}

// watch waits for the connection to break, then connects again and sends
// every listener again, until Close.
func (c *Client) watch() {
	defer close(c.done)
	var buf [8]byte
	backoff := 50 * time.Millisecond
	for {
		c.mu.Lock()
		fd, closed := c.conn, c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		if fd >= 0 {
			backoff = 50 * time.Millisecond
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP},
				{Fd: int32(c.wake), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, -1); err != nil {
				continue // EINTR
			}
			if fds[1].Revents != 0 {
				unix.Read(c.wake, buf[:])
				continue
			}
		} else {
			fds := []unix.PollFd{{Fd: int32(c.wake), Events: unix.POLLIN}}
			unix.Poll(fds, int(backoff/time.Millisecond))
			if fds[0].Revents != 0 {
				unix.Read(c.wake, buf[:])
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		c.reconnect(fd)
	}
}

// reconnect replaces the broken connection old (-1: none) and sends the
// keeper every listener, the drops it missed, and Sync.
func (c *Client) reconnect(old int) {
	c.mu.Lock()
	if c.closed || c.conn != old {
		c.mu.Unlock()
		return
	}
	if c.conn >= 0 {
		unix.Close(c.conn)
		c.conn = -1
		c.pid.Store(0)
		c.opt.Log.Warn("lost the listener keeper; connecting again")
	}
	c.mu.Unlock()
	fd, p, err := c.dial(time.Second)
	if err != nil {
		c.opt.Log.WithError(err).Debug("listener keeper not reachable")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.conn >= 0 {
		p.close()
		unix.Close(fd)
		return
	}
	c.attach(fd, p)
	for k, e := range c.kept {
		if c.sendKeep(k, e) != nil {
			return
		}
	}
	for k := range c.dropped {
		if _, err := c.request(msg{Op: opDrop, Pid: int32(k.pid), Start: k.start}, -1); err != nil {
			return
		}
		delete(c.dropped, k)
	}
	if _, err := c.request(msg{Op: opSync}, -1); err != nil {
		return
	}
	c.opt.Log.WithFields(logrus.Fields{"pid": c.keeper.pid, "listeners": len(c.kept)}).
		Info("listener keeper connected again")
}

// expect reads a reply: nil when its errno is 0.
func expect(fd int) error {
	r, rfd, err := recvMsg(fd, 0)
	closeIf(rfd)
	switch {
	case err != nil:
		return err
	case r.Op != opReply:
		return syscall.EPROTO
	case r.Errno != 0:
		return syscall.Errno(r.Errno)
	}
	return nil
}
