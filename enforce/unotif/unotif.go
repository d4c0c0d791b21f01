// Package unotif holds the structures of seccomp user notification
// (<linux/seccomp.h>) and the ioctls made on a listener descriptor, for the
// three parts that read listeners: the injector (which answers its own
// injected call), the supervisor (which answers every other call) and the
// keeper (which answers ENOSYS while no daemon runs).
package unotif

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Notif is struct seccomp_notif.
type Notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// Resp is struct seccomp_notif_resp.
type Resp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// sizes is struct seccomp_notif_sizes.
type sizes struct {
	Notif, Resp, Data uint16
}

// CheckSizes asks the kernel for its structure sizes
// (SECCOMP_GET_NOTIF_SIZES, Linux 5.0) and refuses, with ENOTSUP, a kernel
// whose structures are larger than these: it would write past them.
func CheckSizes() error {
	var sz sizes
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0,
		uintptr(unsafe.Pointer(&sz)))
	if e != 0 {
		return e
	}
	if uintptr(sz.Notif) > unsafe.Sizeof(Notif{}) || uintptr(sz.Resp) > unsafe.Sizeof(Resp{}) {
		return unix.ENOTSUP
	}
	return nil
}

func ioctl(fd int, req uint, arg uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
	if e != 0 {
		return e
	}
	return nil
}

// rawIoctl is ioctl for a call that does not block, made without telling
// the Go scheduler (RawSyscall): it saves about 0.3 µs a call on the
// supervisor's path, where a round trip costs about 2.5 µs.
func rawIoctl(fd int, req uint, arg uintptr) error {
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
	if e != 0 {
		return e
	}
	return nil
}

// Recv takes one pending notification from listener fd into n (zeroed
// first, as the kernel wants). It blocks when none is pending; ENOENT
// means that the caller left before it was taken.
func Recv(fd int, n *Notif) error {
	*n = Notif{}
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
}

// RecvReady is Recv for a listener that poll just reported readable, by
// the only reader of that listener: the receive cannot block then (a
// notification whose caller left is ENOENT), so it is made raw.
func RecvReady(fd int, n *Notif) error {
	*n = Notif{}
	return rawIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
}

// Send answers a notification. ENOENT: it no longer waits (answered, or
// its caller left); EINPROGRESS: it waits but was never received.
//
// A signal can interrupt the send while it waits for the listener's lock
// (EINTR, nothing sent); it is sent again then, as the caller still waits.
func Send(fd int, r *Resp) error {
	for {
		err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
		if err != unix.EINTR {
			return err
		}
	}
}

// Continue answers notification id by letting the call run.
func Continue(fd int, id uint64) error {
	return Send(fd, &Resp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE})
}

// Fail answers notification id with ENOSYS.
func Fail(fd int, id uint64) error {
	return Send(fd, &Resp{ID: id, Error: -int32(unix.ENOSYS)})
}

// SetSyncWakeUp asks for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on a listener
// (Linux 6.6): the kernel then wakes the supervisor synchronously and runs
// it on the notifying task's CPU, which cuts a round trip from tens of
// microseconds to a few. Older kernels answer EINVAL.
func SetSyncWakeUp(fd int) error {
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
}
