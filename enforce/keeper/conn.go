package keeper

import (
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// accept admits or refuses every pending connection.
func (k *Keeper) accept() {
	for {
		fd, _, err := unix.Accept4(k.sock, unix.SOCK_CLOEXEC)
		switch err {
		case nil:
			k.admit(fd)
		case unix.EINTR, unix.ECONNABORTED:
		default:
			return // EAGAIN: none left
		}
	}
}

// admit makes fd the daemon's connection, if its peer may be the daemon:
// one connected at a time, and while the process that has copies of the
// kept listeners lives, no other. Either way the keeper speaks first: a
// greeting, opReply with errno 0 or the reason of the refusal.
func (k *Keeper) admit(fd int) {
	p, pid, err := checkDaemon(fd)
	if err != nil {
		k.refuse(fd, pid, err)
		return
	}
	if k.conn >= 0 && hungUp(k.conn) {
		// What it sent before it went, then its end.
		for i := 0; i < 1000 && k.conn >= 0; i++ {
			k.serve()
		}
		if k.conn >= 0 {
			k.hangUp()
		}
	}
	if k.owner != nil && k.owner.exited() {
		k.takeOver("the daemon exited")
	}
	if k.conn >= 0 || k.owner != nil && !k.owner.same(p) {
		p.close()
		k.refuse(fd, p.pid, syscall.EBUSY)
		return
	}
	fresh := k.owner == nil
	if fresh {
		if err := k.watch(p.pidfd, evOwner, unix.EPOLLIN); err != nil {
			p.close()
			k.refuse(fd, p.pid, err)
			return
		}
		k.owner = p
	} else {
		p.close() // the owner again, on a new connection
	}
	tv := unix.NsecToTimeval(sendTimeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	err = k.watch(fd, evConn, unix.EPOLLIN|unix.EPOLLRDHUP)
	if err == nil {
		if err = sendMsg(fd, msg{Op: opReply}, -1); err != nil {
			unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		}
	}
	if err != nil {
		unix.Close(fd)
		if fresh { // it owns nothing yet
			unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, k.owner.pidfd, nil)
			k.owner.close()
			k.owner = nil
		}
		return
	}
	k.conn = fd
	k.gen++
	k.log.WithFields(logrus.Fields{"pid": p.pid, "kept": len(k.byID)}).Info("daemon connected")
}

// hungUp reports whether the other end of sock has closed it.
func hungUp(sock int) bool {
	fds := []unix.PollFd{{Fd: int32(sock), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 1
}

// refuse greets a connection with err instead of 0, and closes it. It
// has not read anything from it: a socket closed with unread data would
// reset the connection, and the daemon would read ECONNRESET instead.
func (k *Keeper) refuse(fd, pid int, err error) {
	e, _ := err.(syscall.Errno)
	if e == 0 {
		e = syscall.EPERM
	}
	k.refused.Add(1)
	sendMsg(fd, msg{Op: opReply, Errno: uint32(e)}, -1)
	unix.Close(fd)
	k.log.WithFields(logrus.Fields{"pid": pid, "reason": e.Error()}).Warn("connection refused")
}

// hangUp closes the daemon's connection. The owner's listeners stay its
// own until its process exits or says Bye: it may still answer them.
func (k *Keeper) hangUp() {
	unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, k.conn, nil)
	unix.Close(k.conn)
	k.conn = -1
	k.log.Info("daemon disconnected")
	if k.owner != nil && k.owner.exited() {
		k.takeOver("the daemon exited")
	}
}

// serve handles one request of the daemon.
func (k *Keeper) serve() {
	m, fd, err := recvMsg(k.conn, unix.MSG_DONTWAIT)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err == syscall.EMFILE && m.Op == opKeep {
		k.log.WithField("pid", m.Pid).Warn("no descriptor left for a listener")
		sendMsg(k.conn, msg{Op: opRefused, Errno: uint32(syscall.EMFILE), Pid: m.Pid,
			Start: m.Start}, -1)
		return
	}
	if err != nil {
		if err == syscall.EPROTO {
			k.log.Warn("malformed message from the daemon")
		}
		k.hangUp()
		return
	}
	reply := msg{Op: opReply}
	switch m.Op {
	case opHello:
		reply.Errno = k.hello(m, fd)
	case opKeep:
		if e := k.keep(m, fd); e != 0 {
			reply = msg{Op: opRefused, Errno: e, Pid: m.Pid, Start: m.Start}
			break
		}
		return
	case opDrop:
		reply.Errno = k.drop(m, fd)
	case opTake:
		n, ok := k.take(m, fd)
		if !ok {
			k.hangUp()
			return
		}
		reply.Slot = n
	case opSync:
		k.reconcile()
		closeIf(fd)
	case opBye:
		closeIf(fd)
	default:
		closeIf(fd)
		reply.Errno = uint32(syscall.EINVAL)
	}
	if err := sendMsg(k.conn, reply, -1); err != nil {
		k.hangUp()
		return
	}
	if m.Op == opBye {
		if k.owner != nil {
			k.takeOver("the daemon said bye")
		}
		k.hangUp()
	}
}

func closeIf(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// hello takes the owner's mark table.
func (k *Keeper) hello(m msg, fd int) uint32 {
	if fd < 0 {
		return uint32(syscall.EINVAL)
	}
	t, err := mapTable(fd, m.Slot)
	unix.Close(fd)
	if err != nil {
		return uint32(syscall.EINVAL)
	}
	k.marks.unmap()
	k.marks = t
	return 0
}

// keep adds a listener that the daemon has a copy of. Kept again for the
// same process (a daemon sending its listeners again after it lost its
// connection), it is the same one, or refused with EEXIST.
func (k *Keeper) keep(m msg, fd int) uint32 {
	if fd < 0 || m.Pid <= 0 || !isListener(fd) {
		closeIf(fd)
		return uint32(syscall.EINVAL)
	}
	kk := key{int(m.Pid), m.Start}
	if e := k.byKey[kk]; e != nil {
		same := sameListener(e.fd, fd)
		unix.Close(fd)
		if !same {
			return uint32(syscall.EEXIST)
		}
		k.own(e, m.Slot)
		return 0
	}
	e := &kept{fd: fd, id: k.nextID, key: kk, slot: m.Slot, owned: true, gen: k.gen}
	if err := k.watch(fd, e.id, 0); err != nil {
		unix.Close(fd)
		return uint32(syscall.ENOMEM)
	}
	k.nextID++
	k.byID[e.id] = e
	k.byKey[kk] = e
	k.kept.Add(1)
	return 0
}

// drop closes the copy of a listener that the daemon closes on purpose.
func (k *Keeper) drop(m msg, fd int) uint32 {
	closeIf(fd)
	e := k.byKey[key{int(m.Pid), m.Start}]
	if e == nil {
		return uint32(syscall.ENOENT)
	}
	k.remove(e)
	return 0
}

// take hands the daemon every listener it has no copy of, each with a
// copy attached, in slots from m.Slot on. It returns how many, and false
// when the connection failed.
func (k *Keeper) take(m msg, fd int) (uint32, bool) {
	closeIf(fd)
	k.reconcile()
	var n uint32
	for _, e := range k.sortedUnowned() {
		slot := noSlot
		if m.Slot != noSlot && m.Slot+n < tableSlots {
			slot = m.Slot + n
		}
		item := msg{Op: opListener, Pid: int32(e.key.pid), Slot: slot, Start: e.key.start}
		if err := sendMsg(k.conn, item, e.fd); err != nil {
			return n, false
		}
		k.own(e, slot)
		n++
	}
	return n, true
}
