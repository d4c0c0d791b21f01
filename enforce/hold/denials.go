package hold

import (
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/denials"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

// Denials is the book of the calls this holder denied, by the group of
// the caller (for a process out of the mirror, the group it was placed
// in): what syscalls.stat reads.
func (h *Holder) Denials() *denials.Book { return h.book }

// notifKey names one notification: its listener (by the PID held with
// it) and the kernel's cookie.
type notifKey struct {
	holder int
	id     uint64
}

// answeredDenial is told that a denial of Decide's was answered: delivered,
// it is counted; not delivered (the call was interrupted and will be
// notified again, or the caller died), it is not.
func (h *Holder) answeredDenial(n supervise.Notif, delivered bool) {
	v, ok := h.pending.LoadAndDelete(notifKey{n.Holder, n.ID})
	if ok && delivered {
		h.noteDenied(n, v.(string))
	}
}

// noteDenied counts a call that Decide denied to a member of group and logs
// it, at most once per denials.LogEvery for each syscall of a group.
func (h *Holder) noteDenied(n supervise.Notif, group string) {
	k := denials.KeyOf(h.a, n.Arch, n.Nr, n.Args)
	log, suppressed := h.book.Note(group, k)
	if !log {
		return
	}
	tgid := tgidOf(n.Pid)
	f := logrus.Fields{
		"pid":     tgid,
		"comm":    commOf(n.Pid),
		"group":   "/" + group,
		"syscall": k.Name(h.a),
		"nr":      n.Nr,
		"abi":     denials.ABI(h.a, n.Arch, n.Nr),
	}
	if tgid != n.Pid {
		f["tid"] = n.Pid
	}
	if suppressed > 0 {
		f["suppressed"] = suppressed
	}
	h.log.WithFields(f).Warn("denied call")
}

// commOf is thread tid's command name, "?" once it is gone.
func commOf(tid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSuffix(string(b), "\n")
}
