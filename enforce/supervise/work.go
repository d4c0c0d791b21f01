package supervise

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/unotif"
)

// hotWindow is how long a worker keeps watching a listener it has just
// answered, for the next notification of a program that makes notified
// calls in a row.
const hotWindow = 500 * time.Microsecond

// maxTick is the longest time between two ticks of a busy stay: a stay
// whose calls went on for a while ends at most twice that after its last.
const maxTick = 16 * hotWindow

// work is one worker goroutine: it waits for the epoll set in Go's poller
// (one worker at a time; the others wait their turn), takes one ready
// listener and answers it, until Close. One at a time: a worker that took
// several would serve them in turn, and the others would wait behind a hot
// stay on the first for as long as its calls keep coming (seconds, for a
// member that makes notified calls in a loop), while an idle worker found
// nothing in the set.
func (s *Supervisor) work() {
	defer s.workers.Done()
	events := make([]unix.EpollEvent, 1)
	notif := new(Notif) // reused for each call this worker answers
	for {
		n, err := s.ep.Wait(events)
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == 0 {
				return // the wake eventfd: Close
			}
			s.ready(ev.Fd, ev.Events, notif)
		}
	}
}

// ready serves one listener that epoll reported, then arms it again.
func (s *Supervisor) ready(id int32, events uint32, notif *Notif) {
	s.mu.Lock()
	l := s.byID[id]
	s.mu.Unlock()
	if l == nil {
		return // removed meanwhile
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if events&unix.EPOLLIN != 0 {
		// Only a listener whose calls follow each other closely is worth
		// a stay: after a lone call (a Go program preempting its own
		// threads with tgkill, say) the stay would end empty, a wakeup
		// and a context switch for nothing.
		now := time.Now()
		near := now.Sub(l.last) < hotWindow
		l.last = now
		s.answer(l, notif)
		if near {
			s.stayHot(l, notif)
		}
	} else if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.mu.Unlock()
		s.gone(l)
		return
	}
	s.ep.Modify(l.fd, unix.EPOLLIN|unix.EPOLLONESHOT, l.id)
	l.mu.Unlock()
}

// answer receives one notification from l into notif, decides it and
// sends the answer. ENOENT from either step means the caller is no longer waiting
// (it died, or a signal interrupted its call, which the kernel will
// notify again when the call restarts); it is counted, not reported.
func (s *Supervisor) answer(l *listener, notif *Notif) {
	var n unotif.Notif
	if err := unotif.RecvReady(l.fd, &n); err != nil {
		if err == unix.ENOENT {
			s.stats[nVanished].Add(1)
		}
		return
	}
	s.reply(l, &n, notif)
}

// reply decides notification n, received from l, and sends the answer.
func (s *Supervisor) reply(l *listener, n *unotif.Notif, notif *Notif) {
	if l.mark != nil {
		l.mark.Received(n.ID)
	}
	s.stats[nNotif].Add(1)
	*notif = Notif{ID: n.ID, Pid: int(n.Pid), Holder: l.pid,
		Arch: n.Arch, Nr: int(n.Nr), IP: n.IP, Args: n.Args}
	allow := s.decide(notif)
	var err error
	if allow {
		s.stats[nAllowed].Add(1)
		err = unotif.Continue(l.fd, n.ID)
	} else {
		s.stats[nDenied].Add(1)
		err = unotif.Fail(l.fd, n.ID)
	}
	if err == unix.ENOENT {
		s.stats[nVanished].Add(1)
	}
	if !allow {
		if hook := s.onDenied.Load(); hook != nil {
			(*hook)(*notif, err == nil)
		}
	}
}

// gone handles a listener whose every process has exited.
func (s *Supervisor) gone(l *listener) {
	s.stats[nVanished].Add(1)
	s.mu.Lock()
	hook := s.onGone
	if l.onGone != nil {
		hook = func(int, int) { l.onGone() }
	}
	if hook != nil && s.byID[l.id] == l {
		delete(s.byID, l.id)
		delete(s.byFd, l.fd)
	} else {
		hook = nil
	}
	s.mu.Unlock()
	if hook == nil {
		// Keep the descriptor until Remove or Close; stop watching it.
		l.mu.Lock()
		if !l.closed {
			s.ep.Delete(l.fd)
		}
		l.mu.Unlock()
		return
	}
	s.drop(l)
	hook(l.fd, l.pid)
}

// stayHot keeps answering l while notifications follow each other: it
// waits for the next one blocked in the receive (tick.go says why), on a
// thread of its own whose tick ends the stay once a whole tick has passed
// without a call. The first tick comes after hotWindow, and each tick that
// finds calls doubles the next wait, up to maxTick. At most all workers but one are hot at a time,
// so other listeners are still served; Close and Remove end a stay at its
// next call or tick.
func (s *Supervisor) stayHot(l *listener, notif *Notif) {
	if !haveTick || s.hot.Add(1) > s.maxHot {
		if haveTick {
			s.hot.Add(-1)
		}
		return
	}
	defer s.hot.Add(-1)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	period := hotWindow
	t, err := startTick(period.Nanoseconds())
	if err != nil {
		return
	}
	defer t.stop() // before the thread is unlocked
	calls := 0     // answered since the last tick
	for !l.leaving.Load() {
		var n unotif.Notif
		switch err := unotif.Recv(l.fd, &n); err {
		case nil:
			s.reply(l, &n, notif)
			calls++
		case unix.EINTR: // the tick, or another signal
			if calls == 0 {
				return // quiet: back to epoll
			}
			calls = 0
			if period < maxTick {
				period *= 2
				if t.every(period.Nanoseconds()) != nil {
					return
				}
			}
		case unix.ENOENT:
			// The caller left, or (Linux 6.6 and later) every process
			// using the filter exited, after which every receive fails at
			// once: epoll tells which.
			s.stats[nVanished].Add(1)
			return
		default:
			return
		}
	}
}
