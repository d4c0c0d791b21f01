// Package hold keeps running processes to the deny set of the group they are
// in now, as the 2011 RFC's kernel check did on every call.
//
// A process is held by a seccomp layer that the daemon injects (package
// inject) and whose listener the daemon owns (package supervise). The layer
// is the same for every process: it notifies every deniable number except
// a fixed set of hot syscalls (read, write, futex, mmap, ...) and seccomp
// itself, and allows the rest in the kernel. Each notified call is judged
// from the caller's cgroup at that moment (read from /proc/TID/cgroup) and
// the policy tree, so a deny, an allow or a move reaches a held process
// with no further work. Only two cases need a new layer:
//
//   - a process not held yet (moved into a restricted group, found there by
//     the scan, or met again after a daemon restart, whose old listener is
//     gone): it gets the notifying layer;
//   - a hot syscall, or seccomp, denied to a held process: it gets a fixed
//     layer answering ENOSYS in the kernel. That denial cannot be lifted
//     from the running process again; the log says so.
//
// When the daemon dies, its listeners close and the kernel answers every
// notified call with ENOSYS: held processes fail closed, and calls the
// layer allows outright keep working.
package hold

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce"
	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
	"github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/policy"
)

// hotNames are the syscalls the notifying layer allows outright, so that
// busy programs pay nothing for them. Names a table lacks are skipped.
var hotNames = strings.Fields(`read write readv writev pread64 pwrite64 preadv pwritev
	preadv2 pwritev2 lseek close fstat newfstatat statx openat getdents64 mmap munmap
	mprotect madvise brk mremap futex sched_yield nanosleep clock_nanosleep clock_gettime
	gettimeofday getpid gettid rt_sigprocmask rt_sigaction rt_sigreturn sigaltstack
	epoll_wait epoll_pwait epoll_pwait2 epoll_ctl poll ppoll select pselect6 recvfrom
	sendto recvmsg sendmsg fcntl dup dup2 dup3 ioctl access faccessat faccessat2 readlink
	readlinkat stat lstat open getrandom fadvise64 copy_file_range sendfile splice
	getuid geteuid getgid getegid getcwd fsync fdatasync`)

// ScanInterval is how often the holder looks for members that entered a
// restricted group behind the mount's back (straight through the real
// cgroup files) and holds them.
const ScanInterval = time.Second

// Holder implements fs.Enforcer with live holds.
type Holder struct {
	a      *arch.Arch
	tree   *policy.Tree
	mirror string // the real cgroup directory mirrored
	where  where  // the mirror as /proc/PID/cgroup names it
	log    *logrus.Logger
	sup    *supervise.Supervisor

	cover policy.Set        // numbers the notifying layer notifies
	prog  []unix.SockFilter // the notifying layer

	trustRoot bool // root callers are never confined (the trust_root option)

	mu    sync.Mutex    // serializes holds
	pmu   sync.RWMutex  // guards procs
	procs map[int]*proc // processes known to be held, by TGID

	places   *placements          // where held processes were placed, across restarts
	restored map[placement]string // the previous daemon's placements, for the first Scan
	restore  sync.Once

	cgfiles sync.Map // TID -> *os.File of /proc/TID/cgroup
	anchors sync.Map // TID -> *proc of its process, for Decide
	holders sync.Map // PID passed to the supervisor with a listener -> its *proc

	judgedSets sync.Map   // policy.Set -> []int, Decide's lists
	uring      policy.Set // io_uring_setup, io_uring_enter, io_uring_register
	groups     sync.Map   // group -> *groupDeny, Decide's view of the tree
	stop       chan struct{}
	stopped    sync.WaitGroup
}

// proc is what the holder knows of one held process.
type proc struct {
	start  uint64     // start time (/proc/PID/stat), against PID reuse
	static policy.Set // numbers denied by fixed layers
	// anchor is the group the process was last placed in through the
	// mount (or found in when held). While its cgroup lies in the
	// anchor's subtree it is judged by that cgroup; once outside (moved
	// behind the mount's back, through the real cgroup files or
	// clone3(CLONE_INTO_CGROUP)), it is judged by the anchor, so a
	// confined process cannot widen its restrictions that way.
	anchor atomic.Pointer[string]
	// pinned is the anchor's deny set when the process was placed there:
	// removing or remaking that group behind the mount's back does not
	// lift it.
	pinned atomic.Pointer[policy.Set]
	// staticAt is when the fixed layer last grew: children started before
	// lack what it added.
	staticAt int64
	// heldAt is when the layer went in (CLOCK_BOOTTIME nanoseconds), or the
	// start of a process born with it: children started later have it.
	heldAt int64
}

func newProc(start uint64, static policy.Set, anchor string) *proc {
	p := &proc{start: start, static: static, heldAt: startNanos(start)}
	p.staticAt = p.heldAt
	p.anchor.Store(&anchor)
	p.pinned.Store(&policy.Set{})
	return p
}

// place records p's anchor, also in the placement log.
func (h *Holder) place(pid int, p *proc, group string) {
	p.anchor.Store(&group)
	pin := h.deniedSet(group)
	p.pinned.Store(&pin)
	if err := h.places.record(pid, p.start, group); err != nil {
		h.log.WithError(err).Warn("placement log")
	}
}

// groupDeny caches a group's deny set as the sorted list Judge takes.
type groupDeny struct {
	set  policy.Set
	nums []int
}

var _ fs.Enforcer = (*Holder)(nil)

// New makes a Holder for the cgroup directory mirror and starts its
// supervisor. Call Scan once to hold the members already there, and Run
// for the periodic scan.
// trustRoot gives root callers the RFC's and cgroupfs's trust: root may
// move any process anywhere and allow anything.
func New(a *arch.Arch, tree *policy.Tree, mirror string, trustRoot bool,
	log *logrus.Logger) (*Holder, error) {
	w, err := locate(mirror)
	if err != nil {
		return nil, err
	}
	h := &Holder{a: a, tree: tree, mirror: mirror, where: w, log: log,
		trustRoot: trustRoot, procs: map[int]*proc{}, stop: make(chan struct{})}
	h.cover = Cover(a)
	for _, name := range []string{"io_uring_setup", "io_uring_enter", "io_uring_register"} {
		if nr, ok := a.Native.SyscallNumber(name); ok {
			h.uring.Add(nr)
		}
	}
	insns, err := enforce.Compile(a, h.cover.Numbers(), enforce.ModeNotify)
	if err != nil {
		return nil, err
	}
	if h.prog, err = enforce.Raw(insns); err != nil {
		return nil, err
	}
	if h.places, h.restored, err = openPlacements(mirror); err != nil {
		return nil, err
	}
	if h.sup, err = supervise.New(h.Decide); err != nil {
		h.places.close()
		return nil, fmt.Errorf("seccomp user notification: %w", err)
	}
	// A listener whose processes all exited is closed by the supervisor;
	// forget the record kept for its children.
	h.sup.OnGone(func(_, pid int) { h.holders.Delete(pid) })
	return h, nil
}

// Cover is the set of numbers the notifying layer hands to the daemon: all
// deniable numbers but the hot ones and seccomp(2), which must stay
// allowed in the kernel so that later layers can still be loaded.
func Cover(a *arch.Arch) policy.Set {
	c := policy.Deniable(a)
	for _, name := range append(hotNames, "seccomp") {
		if nr, ok := a.Native.SyscallNumber(name); ok {
			c.Remove(nr)
		}
	}
	return c
}

// Close stops the scan and the supervisor. The listeners close, so held
// processes fail closed until a new daemon holds them again.
func (h *Holder) Close() error {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	h.stopped.Wait()
	err := h.sup.Close()
	h.places.close()
	return err
}

// Decide judges one notified call by the deny set of the caller's group
// now.
func (h *Holder) Decide(n supervise.Notif) bool {
	group, inside, err := h.groupOf(n.Pid)
	if err != nil {
		return false // the caller is gone, or /proc is unreadable: fail closed
	}
	var deny policy.Set
	if inside {
		deny = h.deniedSet(group)
	}
	if p := h.anchorOf(n.Pid, n.Holder); p != nil {
		if anchor := *p.anchor.Load(); !inside || !within(group, anchor) {
			// Outside the subtree it was placed in, behind the mount's
			// back: whatever its group, its anchor's set and the set
			// pinned when it was placed there deny too.
			deny = deny.Union(h.deniedSet(anchor)).Union(*p.pinned.Load())
		}
	} else if !inside {
		return true // out of the mirrored hierarchy, and never placed: unrestricted
	}
	return !enforce.Judge(h.a, h.judged(deny), n.Arch, n.Nr, n.Args)
}

// judged returns the sorted numbers Judge takes for deny, cached by value.
// A set that denies anything also denies the io_uring calls: a ring
// performs opens, socket calls and more without those syscalls.
func (h *Holder) judged(deny policy.Set) []int {
	if v, ok := h.judgedSets.Load(deny); ok {
		return v.([]int)
	}
	s := deny
	if !s.Empty() {
		s = s.Union(h.uring)
	}
	nums := s.Numbers()
	h.judgedSets.Store(deny, nums)
	return nums
}

// deniedSet is group's deny set. A group the tree does not know yet but
// that exists (made outside the mount) is added with a copy of its
// parent's set; one that is gone denies nothing of its own.
func (h *Holder) deniedSet(group string) policy.Set {
	set, ok := h.tree.Denied(group)
	if !ok {
		if _, err := os.Stat(filepath.Join(h.mirror, filepath.FromSlash(group))); err != nil {
			return policy.Set{}
		}
		h.tree.Ensure(group)
		set, _ = h.tree.Denied(group)
	}
	return set
}

// within tells whether group lies in the subtree of anchor.
func within(group, anchor string) bool {
	return anchor == "" || group == anchor || strings.HasPrefix(group, anchor+"/")
}

// anchorOf returns the process record of thread tid, found once per
// thread: its process's own, or for a process forked from a held one, a
// new record that takes the nearest held ancestor's anchor.
//
// holder is the PID the notification's listener was taken from: when no
// ancestor is known (the parent died and the process was reparented), the
// process inherits the anchor of the one whose layer it carries.
func (h *Holder) anchorOf(tid, holder int) *proc {
	if v, ok := h.anchors.Load(tid); ok {
		e := v.(*anchorEntry)
		if e.p != nil || time.Since(e.at) < ScanInterval {
			return e.p
		}
	}
	e := &anchorEntry{at: time.Now()}
	if tgid := tgidOf(tid); tgid != 0 {
		e.p = h.known(tgid)
		if e.p == nil {
			anc := h.heldAncestor(tgid)
			if anc == nil {
				if v, ok := h.holders.Load(holder); ok {
					anc = v.(*proc)
				}
			}
			if start, err := startTime(tgid); anc != nil && err == nil {
				e.p = newProc(start, anc.static, *anc.anchor.Load())
				h.setProc(tgid, e.p)
				h.place(tgid, e.p, *anc.anchor.Load())
				pin := e.p.pinned.Load().Union(*anc.pinned.Load())
				e.p.pinned.Store(&pin)
			}
		}
	}
	h.anchors.Store(tid, e)
	return e.p
}

// anchorEntry caches anchorOf for one thread; a miss is looked up again
// after ScanInterval.
type anchorEntry struct {
	p  *proc
	at time.Time
}

// confinement returns the group that confines the process of thread tid,
// and whether it is confined at all: its anchor when it is held, else its
// cgroup when that group denies anything.
func (h *Holder) confinement(tid int) (string, bool) {
	if p := h.anchorOf(tid, 0); p != nil {
		return *p.anchor.Load(), true
	}
	group, inside, err := h.groupOf(tid)
	if err != nil || !inside {
		return "", false
	}
	deny, _ := h.tree.Denied(group)
	return group, !deny.Empty()
}

// MayChange refuses (EPERM) an allow by a confined process in its own
// group or an ancestor of it: a confined process may only restrict
// further. Root is no exception unless the mount trusts root.
func (h *Holder) MayChange(c fs.Caller, group string, allow bool) error {
	if h.trustRoot && c.Uid == 0 {
		return nil
	}
	own, confined := h.confinement(c.Pid)
	if confined && !allow && !within(group, own) {
		h.log.WithFields(logrus.Fields{"uid": c.Uid, "pid": c.Pid, "group": "/" + group,
			"confined_in": "/" + own}).Warn("refused: a confined process may restrict only " +
			"inside its own subtree")
		return syscall.EPERM
	}
	if confined && allow && within(own, group) {
		h.log.WithFields(logrus.Fields{"uid": c.Uid, "pid": c.Pid, "group": "/" + group,
			"confined_in": "/" + own}).Warn("refused: a confined process may not widen its own set")
		return syscall.EPERM
	}
	return nil
}

// mayMove checks a move of process pid to group by caller c: root or the
// same uid as the process (EACCES otherwise), and a confined caller keeps
// itself and every process inside its own subtree (EPERM).
func (h *Holder) mayMove(c fs.Caller, pid int, group string) error {
	if c.Uid != 0 {
		uid, err := statusField(pid, "Uid")
		if err != nil {
			return syscall.ESRCH
		}
		if f := strings.Fields(uid); len(f) < 2 || f[0] != strconv.Itoa(int(c.Uid)) ||
			f[1] != f[0] {
			return syscall.EACCES
		}
	}
	if h.trustRoot && c.Uid == 0 {
		return nil
	}
	own, confined := h.confinement(c.Pid)
	if !confined || within(group, own) {
		return nil
	}
	h.log.WithFields(logrus.Fields{"uid": c.Uid, "pid": c.Pid, "process": pid,
		"group": "/" + group, "confined_in": "/" + own}).
		Warn("refused: a confined process may not move a process out of its own subtree")
	return syscall.EPERM
}

// denied returns group's deny set as a sorted list, cached while the set is
// unchanged. A group the tree does not know yet (made outside the mount)
// is added with a copy of its parent's set.
func (h *Holder) denied(group string) []int {
	set, ok := h.tree.Denied(group)
	if !ok {
		h.tree.Ensure(group)
		set, _ = h.tree.Denied(group)
	}
	if v, ok := h.groups.Load(group); ok {
		if g := v.(*groupDeny); g.set == set {
			return g.nums
		}
	}
	g := &groupDeny{set: set, nums: set.Numbers()}
	h.groups.Store(group, g)
	return g.nums
}

// groupOf returns the group of thread tid relative to the mirror, and
// whether it lies inside the mirror at all. It keeps /proc/TID/cgroup
// open and reads it again for every call: the kernel's answer is current,
// and a reused TID fails on the old file (ESRCH) and is opened afresh.
// The line read is that of the mirror's hierarchy: "0::" on cgroup2, the
// hierarchy's own on v1, where a thread may sit in another group than
// its process and is judged by its own.
func (h *Holder) groupOf(tid int) (string, bool, error) {
	var buf [512]byte
	for try := 0; try < 2; try++ {
		v, ok := h.cgfiles.Load(tid)
		if !ok {
			f, err := os.Open("/proc/" + strconv.Itoa(tid) + "/cgroup")
			if err != nil {
				return "", false, err
			}
			if v, ok = h.cgfiles.LoadOrStore(tid, f); ok {
				f.Close()
			}
		}
		f := v.(*os.File)
		n, err := f.ReadAt(buf[:], 0)
		if n == 0 && err != nil {
			// The thread is gone; a thread that reuses its TID is another.
			if h.cgfiles.CompareAndDelete(tid, f) {
				f.Close()
			}
			h.anchors.Delete(tid)
			continue
		}
		b := buf[:n]
		if n == len(buf) {
			// Many v1 hierarchies, or long paths: read it whole.
			if b, err = readWhole(f, len(buf)); err != nil {
				return "", false, err
			}
		}
		path, ok := pathOf(b, h.where.line)
		if !ok {
			return "", false, fmt.Errorf("no %q line in /proc/%d/cgroup", h.where.line, tid)
		}
		group, inside := h.relative(path)
		return group, inside, nil
	}
	return "", false, syscall.ESRCH
}

// relative turns a cgroup path of /proc/PID/cgroup into a group of the
// mirror.
func (h *Holder) relative(path string) (string, bool) {
	prefix := h.where.prefix
	if path == prefix || (prefix == "" && path == "/") {
		return "", true
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/"); ok {
		return rest, true
	}
	return "", false
}

// Move holds process pid to group's set, if the group denies anything,
// and then moves it there through the real cgroup.procs.
func (h *Holder) Move(c fs.Caller, pid int, group string) error {
	if pid == os.Getpid() || pid == 1 {
		return syscall.EINVAL // the daemon never restricts itself, nor init
	}
	if err := h.mayMove(c, pid, group); err != nil {
		return err
	}
	deny, _ := h.tree.Denied(group)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !deny.Empty() {
		if err := h.ensureHeld(pid, deny, tgidOf(c.Pid) == pid, group); err != nil {
			h.log.WithFields(logrus.Fields{"pid": pid, "group": "/" + group}).
				WithError(err).Warn("could not hold the process; not moved")
			return errnoOf(err)
		}
	}
	// On v1 the threads of a process may sit in different groups, and the
	// group of the main thread says nothing of the others: always move.
	now, inside, err := h.groupOf(pid)
	if h.where.v1() || !(err == nil && inside && now == group) {
		err := writeProcs(filepath.Join(h.mirror, filepath.FromSlash(group)), pid)
		if err != nil {
			return err
		}
	}
	if p := h.known(pid); p != nil {
		h.place(pid, p, group)
	}
	return nil
}

// PolicyChanged holds every member of group's subtree that is not held yet,
// reading the members again until a pass finds no new one, so that
// processes forked while the holds ran are not missed.
func (h *Holder) PolicyChanged(c fs.Caller, group string) error {
	self := tgidOf(c.Pid)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.tree.Subtree(group) {
		if err := h.holdMembers(g, self); err != nil {
			return err
		}
	}
	return nil
}

// holdMembers holds the members of one group, as PolicyChanged describes.
// Called with h.mu held.
func (h *Holder) holdMembers(group string, self int) error {
	const maxPasses = 8
	for pass := 0; pass < maxPasses; pass++ {
		deny, ok := h.tree.Denied(group)
		if !ok || deny.Empty() {
			return nil
		}
		pids, err := readProcs(filepath.Join(h.mirror, filepath.FromSlash(group)))
		if err != nil {
			return err
		}
		fresh := 0
		var batch []*newHold
		for _, pid := range pids {
			if pid == os.Getpid() {
				continue
			}
			p := h.known(pid)
			if p != nil && h.extra(p, deny).Empty() {
				continue
			}
			var err error
			var heldParent bool
			if p == nil {
				var nh *newHold
				nh, heldParent, err = h.planNew(pid, deny, pid == self, group)
				if nh != nil {
					batch = append(batch, nh)
					continue
				}
			} else {
				heldParent = h.heldAncestor(pid) != nil
				err = h.ensureHeld(pid, deny, pid == self, group)
			}
			n, err := h.counted(pid, group, heldParent, err)
			if err != nil {
				return err
			}
			fresh += n
		}
		h.injectAll(batch)
		var failed error
		for _, nh := range batch {
			n, err := h.counted(nh.pid, group, nh.anc != nil, h.finishNew(nh))
			fresh += n
			if failed == nil {
				failed = err
			}
		}
		if failed != nil {
			return failed
		}
		if fresh == 0 {
			return nil
		}
	}
	// Members keep appearing faster than they can be held (a chain of
	// processes each forking the next and exiting): the change cannot be
	// said to hold for all of them.
	h.log.WithField("group", "/"+group).Warn("members did not settle while being held")
	return syscall.EAGAIN
}

// counted turns the result of holding member pid of group into what
// holdMembers counts: 1 for a process held now, or for one that exited
// without a held ancestor (it may have left unheld children: look
// again), 0 for one that exited under a held ancestor; and the errno
// that fails the pass, logged.
func (h *Holder) counted(pid int, group string, heldParent bool, err error) (int, error) {
	switch {
	case err == nil:
		return 1, nil
	case errors.Is(err, syscall.ESRCH):
		if heldParent {
			return 0, nil
		}
		return 1, nil
	}
	h.log.WithFields(logrus.Fields{"pid": pid, "group": "/" + group}).
		WithError(err).Warn("could not hold a member")
	return 0, errnoOf(err)
}

// known returns what the holder knows of process pid, forgetting an entry
// whose PID now names another process.
func (h *Holder) known(pid int) *proc {
	h.pmu.RLock()
	p := h.procs[pid]
	h.pmu.RUnlock()
	if p == nil {
		return nil
	}
	if st, err := startTime(pid); err != nil || st != p.start {
		h.pmu.Lock()
		if h.procs[pid] == p {
			delete(h.procs, pid)
		}
		h.pmu.Unlock()
		return nil
	}
	return p
}

// extra is the part of deny that the layers of p do not yet cover.
func (h *Holder) extra(p *proc, deny policy.Set) policy.Set {
	return deny.Minus(h.cover).Minus(p.static)
}

// ensureHeld makes process pid held for deny: the notifying layer (or one
// inherited from a held ancestor), plus a fixed layer for any number of
// deny the notifying layer leaves to the kernel. self says that pid is the
// writer of the request being served, which cannot stop before it is
// answered: its layer is loaded right after the answer, and a failure
// then kills it (fail closed). Called with h.mu held.
func (h *Holder) ensureHeld(pid int, deny policy.Set, self bool, group string) error {
	p := h.known(pid)
	if p == nil {
		return h.holdNew(pid, deny, self, group)
	}
	extra := h.extra(p, deny)
	if extra.Empty() {
		return nil
	}
	all := p.static.Union(extra)
	prog, err := h.fixedLayer(all)
	if err != nil {
		return err
	}
	if err := h.inject(pid, prog, nil, true, self); err != nil {
		return err
	}
	p.static = all
	p.staticAt = bootNanos()
	h.warnFixed(pid, extra)
	return nil
}

// fixedLayer compiles the layer that answers ENOSYS in the kernel for s.
func (h *Holder) fixedLayer(s policy.Set) ([]unix.SockFilter, error) {
	insns, err := enforce.Compile(h.a, s.Numbers(), enforce.ModeErrno)
	if err != nil {
		return nil, err
	}
	return enforce.Raw(insns)
}

func (h *Holder) warnFixed(pid int, s policy.Set) {
	h.log.WithFields(logrus.Fields{"pid": pid, "syscalls": names(h.a, s)}).
		Warn("denied a hot syscall to a running process with a fixed filter; " +
			"allowing it again will not reach this process")
}

func (h *Holder) setProc(pid int, p *proc) {
	h.pmu.Lock()
	h.procs[pid] = p
	h.pmu.Unlock()
}

// inject loads prog into process pid: a notifying layer whose listener the
// supervisor takes, or a fixed one; first, if any, is a fixed layer loaded
// right after it in the same stop.
func (h *Holder) inject(pid int, prog, first []unix.SockFilter, static, self bool) error {
	s, err := inject.Seize(pid)
	if err != nil {
		return exitedOr(pid, err)
	}
	s.Static = static
	s.After = first
	finish := func() error {
		fd, err := s.Install(prog)
		if err != nil {
			return exitedOr(pid, err)
		}
		if !static {
			return h.sup.Add(fd, pid)
		}
		return nil
	}
	if !self {
		return finish()
	}
	go func() {
		if err := finish(); err != nil {
			h.log.WithField("pid", pid).WithError(err).
				Error("could not hold the writer after its write; killing it (fail closed)")
			unix.Kill(pid, unix.SIGKILL)
		}
	}()
	return nil
}

// exitedOr returns ESRCH when process pid has exited (a zombie, or gone),
// and err otherwise: ptrace refuses an exited task with EPERM, which would
// read as a refusal.
func exitedOr(pid int, err error) error {
	f, serr := statFields(pid)
	if serr != nil || (len(f) > 0 && (f[0] == "Z" || f[0] == "X")) {
		return syscall.ESRCH
	}
	return err
}

// heldAncestor returns the nearest held ancestor of pid, if any.
func (h *Holder) heldAncestor(pid int) *proc {
	for i := 0; i < 64 && pid > 1; i++ {
		ppid, err := parentOf(pid)
		if err != nil || ppid <= 1 {
			return nil
		}
		if p := h.known(ppid); p != nil {
			return p
		}
		pid = ppid
	}
	return nil
}

// Scan holds every member of every restricted group that is not held yet.
func (h *Holder) Scan() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restore.Do(h.holdPlaced)
	for _, g := range h.tree.Paths() {
		if err := h.holdMembers(g, 0); err != nil {
			h.log.WithField("group", "/"+g).WithError(err).Warn("scan: members not held")
		}
	}
}

// holdPlaced holds again every process that a previous daemon of this
// mirror held, wherever it is now, anchored where it was placed: its old
// layer lost its listener with that daemon, so without a new one every
// call it hands over would fail for good, and it would be judged by
// whatever group it moved to behind the mount's back. Called with h.mu
// held, once, by the first Scan.
func (h *Holder) holdPlaced() {
	for p, group := range h.restored {
		deny, ok := h.tree.Denied(group)
		if !ok {
			continue // its group is gone; the scan finds it where it is
		}
		err := h.holdNew(p.pid, deny, false, group)
		switch {
		case err == nil || errors.Is(err, syscall.ESRCH):
		case errors.Is(err, syscall.EBUSY) && tracerOf(p.pid) == 0:
			// It was held, and while no daemon ran it loaded a listener
			// of its own, which now decides the calls ours would have:
			// an escape. Fail closed.
			h.log.WithFields(logrus.Fields{"pid": p.pid, "group": "/" + group}).
				Error("a process held by the last daemon took a seccomp listener of its " +
					"own while no daemon ran; killing it")
			unix.Kill(p.pid, unix.SIGKILL)
		default:
			h.log.WithFields(logrus.Fields{"pid": p.pid, "group": "/" + group}).
				WithError(err).Warn("could not hold again a process the last daemon held")
		}
	}
	h.restored = nil
}

// Run scans every ScanInterval until Close, and drops cached /proc files of
// threads that are gone.
func (h *Holder) Run() {
	h.stopped.Add(1)
	go func() {
		defer h.stopped.Done()
		t := time.NewTicker(ScanInterval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.Scan()
				h.pruneFiles()
			}
		}
	}()
}

func (h *Holder) pruneFiles() {
	var b [1]byte
	h.cgfiles.Range(func(k, v any) bool {
		f := v.(*os.File)
		if _, err := f.ReadAt(b[:], 0); err != nil {
			if h.cgfiles.CompareAndDelete(k, f) {
				f.Close()
			}
			h.anchors.Delete(k)
		}
		return true
	})
}

// errnoOf returns err's errno, for the file interface.
func errnoOf(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// names lists numbers with their names, for the log.
func names(a *arch.Arch, s policy.Set) string {
	var parts []string
	for _, n := range s.Numbers() {
		name, _ := a.Native.SyscallName(n)
		parts = append(parts, fmt.Sprintf("%d(%s)", n, name))
	}
	return strings.Join(parts, " ")
}

// writeProcs moves pid into the real cgroup dir, unless it is there.
func writeProcs(dir string, pid int) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strconv.Itoa(pid)); err != nil {
		return errnoOf(err)
	}
	return nil
}

// readProcs lists the PIDs of a real cgroup directory; for a threaded
// cgroup, whose cgroup.procs cannot be read, the processes of its threads.
func readProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, syscall.EOPNOTSUPP) {
		b, err = os.ReadFile(filepath.Join(dir, "cgroup.threads"))
		if err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				if tid, err := strconv.Atoi(f); err == nil && tgidOf(tid) != 0 {
					pids = append(pids, tgidOf(tid))
				}
			}
			return pids, nil
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, errnoOf(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// statusField reads one field of /proc/PID/status.
func statusField(pid int, key string) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// tgidOf maps a thread ID to its process; 0 when it is gone.
func tgidOf(tid int) int {
	v, err := statusField(tid, "Tgid")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

func seccompFilters(pid int) int {
	v, err := statusField(pid, "Seccomp_filters")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("bad stat line")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// startTime is field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 20 {
		return 0, syscall.ESRCH
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// parentOf is field 4 of /proc/PID/stat.
func parentOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 2 {
		return 0, syscall.ESRCH
	}
	return strconv.Atoi(f[1])
}
