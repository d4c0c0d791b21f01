package keeper

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

// checkSizes refuses a kernel whose notification structures are larger
// than ours (SECCOMP_GET_NOTIF_SIZES): it would write past our buffer.
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

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// recv takes one pending notification from listener fd. It blocks when
// none is pending; ENOENT means that the caller left before it was taken.
func recv(fd int) (seccompNotif, error) {
	var n seccompNotif // the kernel wants it zeroed
	err := ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
	return n, err
}

// fail answers notification id with ENOSYS. ENOENT: no such notification
// waits (answered, or its caller left); EINPROGRESS: it waits but was
// never received, so it cannot be answered yet.
func fail(fd int, id uint64) error {
	r := seccompResp{ID: id, Error: -int32(unix.ENOSYS)}
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// orphanWindow is how far from a mark the keeper looks for notifications
// that a dead daemon received and never answered.
const orphanWindow = 32

// failOrphans answers with ENOSYS every notification in mark's window
// that was received and not answered, and returns how many there were.
// Only the dead daemon can have received them: the keeper calls this
// before it receives anything on fd itself. The kernel answers those only
// when the last copy of the listener closes, and the keeper's copy stays
// open, so without this their callers would wait for good.
func failOrphans(fd int, mark uint64) int {
	if mark == 0 {
		return 0 // nothing was received on this listener
	}
	n := 0
	for id := mark - orphanWindow; id != mark+orphanWindow+1; id++ {
		if fail(fd, id) == nil {
			n++
		}
	}
	return n
}
