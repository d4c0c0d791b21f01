package hold

import (
	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/denials"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
	"github.com/cgsyscall/cgsyscall/procfs"
)

// Denials is the book of the calls this holder denied, by the group of
// the caller (for a process out of the mirror, the group it was placed
// in): what syscalls.stat reads.
func (h *Holder) Denials() *denials.Book { return h.book }

// denial is a denied call that may be due for a log line, waiting for
// its answer to be sent.
type denial struct {
	group   string
	key     denials.Key
	counter *denials.Counter // where it is counted
	pid     int              // the caller's process
	comm    string           // its command
}

// denial counts a call Decide denies to a member of group, before the
// answer goes out: a caller that got its ENOSYS finds it in
// syscalls.stat. n.Note then carries it to the OnDenied hook. A call that
// will not be logged is carried by its counter in the book, a pointer that
// n.Note holds without an allocation. For one that may be, the caller's
// process and command are read now: once answered, a short-lived process
// may be gone.
func (h *Holder) denial(n *supervise.Notif, group string) any {
	k := denials.KeyOf(h.a, n.Arch, n.Nr, n.Args)
	if c := h.book.Quiet(group, k); c != nil {
		c.Unlogged()
		return c
	}
	return &denial{group: group, key: k, counter: h.book.Count(group, k),
		pid: tgidOf(n.Pid), comm: procfs.CommOf(n.Pid)}
}

// answeredDenial is told that a denial of Decide's was answered. Not
// delivered (the call was interrupted and will be notified again, or the
// caller died), it is counted no more; delivered, it may be logged.
func (h *Holder) answeredDenial(n supervise.Notif, delivered bool) {
	switch d := n.Note.(type) {
	case *denials.Counter:
		if !delivered {
			d.Uncount()
		}
	case *denial:
		if !delivered {
			d.counter.Uncount()
			return
		}
		h.noteDenied(n, d)
	}
}

// noteDenied logs a call that Decide denied and counted, at most once per
// denials.LogEvery for each syscall of a group.
func (h *Holder) noteDenied(n supervise.Notif, d *denial) {
	log, suppressed := h.book.LogCounted(d.counter)
	if !log {
		return
	}
	pid, comm := d.pid, d.comm
	if pid == 0 {
		pid = n.Pid // gone: its thread ID is all there is
	}
	f := logrus.Fields{
		"pid":     pid,
		"comm":    comm,
		"group":   "/" + d.group,
		"syscall": d.key.Name(h.a),
		"nr":      n.Nr,
		"abi":     denials.ABI(h.a, n.Arch, n.Nr),
	}
	if pid != n.Pid {
		f["tid"] = n.Pid
	}
	if suppressed > 0 {
		f["suppressed"] = suppressed
	}
	h.log.WithFields(f).Warn("denied call")
}
