package supervise

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompNotif is struct seccomp_notif of <linux/seccomp.h>.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// seccompResp is struct seccomp_notif_resp.
type seccompResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// notifSizes is struct seccomp_notif_sizes.
type notifSizes struct {
	Notif, Resp, Data uint16
}

// checkSizes asks the kernel for its structure sizes
// (SECCOMP_GET_NOTIF_SIZES, Linux 5.0) and refuses a kernel whose
// structures are larger than ours: it would write past our buffers.
func checkSizes() error {
	var sz notifSizes
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0,
		uintptr(unsafe.Pointer(&sz)))
	if e != 0 {
		return e
	}
	if uintptr(sz.Notif) > unsafe.Sizeof(seccompNotif{}) ||
		uintptr(sz.Resp) > unsafe.Sizeof(seccompResp{}) {
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

func recv(fd int, n *seccompNotif) error {
	*n = seccompNotif{} // the kernel wants a zeroed buffer
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
}

func send(fd int, r *seccompResp) error {
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
}

// setSyncWakeUp asks for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP on a listener
// (Linux 6.6): the kernel then wakes the supervisor synchronously and
// runs it on the notifying task's CPU, which cuts a round trip from tens
// of microseconds to a few. Older kernels answer EINVAL.
func setSyncWakeUp(fd int) error {
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
}
