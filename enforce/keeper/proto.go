package keeper

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// The protocol: SOCK_SEQPACKET, one fixed 24-byte message a packet, in
// the host's byte order, at most one descriptor attached (SCM_RIGHTS).
// The keeper speaks first: an opReply whose errno says whether the
// connection is admitted. Then every request but Keep gets exactly one
// opReply, Take's after one opListener a listener. Keep gets no answer
// unless it fails: then opRefused, which may come before any later reply.
// So a hold pays one send for its Keep, not a round trip.
//
//	opHello    mark table attached (a sealed memfd), Slot = its slots
//	opKeep     listener attached; Pid, Start, Slot
//	opDrop     Pid, Start
//	opTake     Slot = the first slot for the listeners handed over
//	opSync     after a reconnection: what was not kept again is not held
//	opBye      the daemon answers none of its listeners any more
//	opReply    Errno (0: done); after Take, Slot = listeners handed over
//	opListener a listener attached; Pid, Start, Slot
//	opRefused  Errno, Pid, Start: a Keep that failed
type op uint32

const (
	opHello op = iota + 1
	opKeep
	opDrop
	opTake
	opSync
	opBye
	opReply
	opListener
	opRefused
)

const msgSize = 24

// msg is one message.
type msg struct {
	Op    op
	Errno uint32
	Pid   int32
	Slot  uint32
	Start uint64
}

func (m msg) encode() []byte {
	b := make([]byte, msgSize)
	e := binary.NativeEndian
	e.PutUint32(b[0:], uint32(m.Op))
	e.PutUint32(b[4:], m.Errno)
	e.PutUint32(b[8:], uint32(m.Pid))
	e.PutUint32(b[12:], m.Slot)
	e.PutUint64(b[16:], m.Start)
	return b
}

func decode(b []byte) msg {
	e := binary.NativeEndian
	return msg{Op: op(e.Uint32(b[0:])), Errno: e.Uint32(b[4:]), Pid: int32(e.Uint32(b[8:])),
		Slot: e.Uint32(b[12:]), Start: e.Uint64(b[16:])}
}

// sendMsg sends m on sock, with fd attached when fd >= 0.
func sendMsg(sock int, m msg, fd int) error {
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	for {
		// A socket with a timeout is never restarted after a signal, and
		// the Go runtime signals its threads (SIGURG).
		err := unix.Sendmsg(sock, m.encode(), oob, nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			return err
		}
	}
}

// recvMsg reads one message from sock and the descriptor attached to it
// (-1 when none). A closed connection reads as ECONNRESET; a message of
// the wrong size, or with more than one descriptor, as EPROTO (extra
// descriptors are closed); a descriptor that did not fit, as EMFILE with
// the message.
func recvMsg(sock int, flags int) (msg, int, error) {
	buf := make([]byte, msgSize+1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, rflags, _, err := unix.Recvmsg(sock, buf, oob, flags|unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		n, oobn, rflags, _, err = unix.Recvmsg(sock, buf, oob, flags|unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return msg{}, -1, err
	}
	var fds []int
	if oobn > 0 {
		cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, c := range cmsgs {
				if r, err := unix.ParseUnixRights(&c); err == nil {
					fds = append(fds, r...)
				}
			}
		}
	}
	if n == 0 && len(fds) == 0 {
		return msg{}, -1, syscall.ECONNRESET
	}
	if n != msgSize || len(fds) > 1 || rflags&unix.MSG_TRUNC != 0 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return msg{}, -1, syscall.EPROTO
	}
	if rflags&unix.MSG_CTRUNC != 0 {
		// The kernel dropped the descriptor: this process has no room
		// for it (RLIMIT_NOFILE).
		for _, fd := range fds {
			unix.Close(fd)
		}
		return decode(buf[:n]), -1, syscall.EMFILE
	}
	fd := -1
	if len(fds) == 1 {
		fd = fds[0]
	}
	return decode(buf[:n]), fd, nil
}
