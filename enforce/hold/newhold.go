package hold

import (
	"errors"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/policy"
)

// injectWorkers is how many processes are injected into at once. Each
// injection is mostly waiting for ptrace stops of its tracee, so two
// overlap well even on two CPUs.
const injectWorkers = 2

// newHold is a process that is not held yet, on its way to its layer:
// planned by planNew, injected by injectAll (several at a time), then
// recorded by finishNew.
type newHold struct {
	pid    int
	start  uint64
	anc    *proc // nearest held ancestor, if any
	deny   policy.Set
	static policy.Set // what the fixed layer loaded after it denies
	first  []unix.SockFilter
	self   bool
	group  string
	err    error // of the injection
}

// holdNew holds process pid for deny in group: the notifying layer, and in
// the same stop a fixed layer for what the notifying one leaves to the
// kernel; or it finds that the process has the notifying layer from a held
// ancestor it was forked from. Called with h.mu held.
func (h *Holder) holdNew(pid int, deny policy.Set, self bool, group string) error {
	nh, _, err := h.planNew(pid, deny, self, group)
	if nh == nil {
		return err
	}
	nh.err = h.inject(pid, h.prog, nh.first, false, self)
	return h.finishNew(nh)
}

// planNew decides how process pid is to be held. It returns nil when
// nothing is left to inject, with the result (the process inherited the
// layer from a held ancestor, or it is gone); and whether pid has a held
// ancestor.
func (h *Holder) planNew(pid int, deny policy.Set, self bool,
	group string) (*newHold, bool, error) {
	start, err := startTime(pid)
	if err != nil {
		return nil, h.heldAncestor(pid) != nil, syscall.ESRCH
	}
	nh := &newHold{pid: pid, start: start, deny: deny, self: self, group: group}
	// A process forked from one held by this daemon, after that hold,
	// carries the layer already. One forked within a clock tick of the
	// hold cannot be told apart: it is injected, and EBUSY (a listener in
	// its chain) then says it had the layer after all.
	nh.anc = h.heldAncestor(pid)
	if anc := nh.anc; anc != nil && seccompFilters(pid) > 0 &&
		startNanos(start) > anc.heldAt+tickNanos {
		return nil, true, h.inherit(nh)
	}
	if nh.static = deny.Minus(h.cover); !nh.static.Empty() {
		if nh.first, err = h.fixedLayer(nh.static); err != nil {
			return nil, nh.anc != nil, err
		}
	}
	return nh, nh.anc != nil, nil
}

// inherit records nh as carrying the notifying layer of its held ancestor.
func (h *Holder) inherit(nh *newHold) error {
	// Children started before the ancestor's fixed layer last grew lack
	// what it added: they get their own.
	static := nh.anc.static
	if startNanos(nh.start) <= nh.anc.staticAt+tickNanos {
		static = policy.Set{}
	}
	p := newProc(nh.start, static, nh.group)
	h.setProc(nh.pid, p)
	h.place(nh.pid, p, nh.group)
	if extra := h.extra(p, nh.deny); !extra.Empty() {
		return h.ensureHeld(nh.pid, nh.deny, nh.self, nh.group)
	}
	return nil
}

// injectAll injects the layers of batch, injectWorkers at a time, and
// leaves each result in its err.
func (h *Holder) injectAll(batch []*newHold) {
	next := make(chan *newHold)
	var wg sync.WaitGroup
	for range min(injectWorkers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for nh := range next {
				nh.err = h.inject(nh.pid, h.prog, nh.first, false, nh.self)
			}
		}()
	}
	for _, nh := range batch {
		next <- nh
	}
	close(next)
	wg.Wait()
}

// finishNew records the outcome of nh's injection.
func (h *Holder) finishNew(nh *newHold) error {
	if err := nh.err; err != nil {
		var ie *inject.Error
		if errors.As(err, &ie) && ie.Op == "files" {
			// Where the listener has to pass through the process's own
			// file table (no helper thread), another process sharing
			// that table could copy it and answer its own calls.
			h.log.WithFields(logrus.Fields{"pid": nh.pid, "shares_with": ie.Other}).
				Warn("refused: the process shares its file table with another")
			return syscall.EBUSY
		}
		if nh.anc != nil && errors.Is(err, syscall.EBUSY) && !nh.self && tracerOf(nh.pid) == 0 {
			return h.inherit(nh)
		}
		return err
	}
	p := newProc(nh.start, nh.static, nh.group)
	p.heldAt = bootNanos()
	p.staticAt = p.heldAt
	h.setProc(nh.pid, p)
	h.holders.Store(nh.pid, p)
	h.place(nh.pid, p, nh.group)
	if !nh.static.Empty() {
		h.warnFixed(nh.pid, nh.static)
	}
	return nil
}
