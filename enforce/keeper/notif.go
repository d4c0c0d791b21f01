package keeper

import "github.com/cgsyscall/cgsyscall/enforce/unotif"

// recv takes one pending notification from listener fd. It blocks when
// none is pending; ENOENT means that the caller left before it was taken.
func recv(fd int) (unotif.Notif, error) {
	var n unotif.Notif
	err := unotif.Recv(fd, &n)
	return n, err
}

// fail answers notification id with ENOSYS. ENOENT: no such notification
// waits (answered, or its caller left); EINPROGRESS: it waits but was
// never received, so it cannot be answered yet.
func fail(fd int, id uint64) error { return unotif.Fail(fd, id) }

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
