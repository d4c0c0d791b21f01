package hold

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce"
	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/policy"
)

// frequentNames are syscalls that busy programs make thousands of times a
// second. A layer notifies one of them only where it must: when the
// process's own group (or anchor) denies it, not because some other group
// of the tree does, and not in the generous cover a layer grows to. The
// rest of the frequent set are the callers measured in the RFC's macro
// workloads (find with cat, go build): clone, execve, wait4, pipe2,
// tgkill, utimensat and their kin. Names a table lacks are skipped.
var frequentNames = strings.Fields(`read write readv writev pread64 pwrite64 preadv pwritev
	preadv2 pwritev2 lseek close fstat newfstatat statx openat getdents64 mmap munmap
	mprotect madvise brk mremap futex sched_yield nanosleep clock_nanosleep clock_gettime
	gettimeofday getpid gettid rt_sigprocmask rt_sigaction rt_sigreturn sigaltstack
	epoll_wait epoll_pwait epoll_pwait2 epoll_ctl poll ppoll select pselect6 recvfrom
	sendto recvmsg sendmsg fcntl dup dup2 dup3 ioctl access faccessat faccessat2 readlink
	readlinkat stat lstat open getrandom fadvise64 copy_file_range sendfile splice
	getuid geteuid getgid getegid getcwd fsync fdatasync
	clone clone3 fork vfork execve execveat wait4 waitid pipe pipe2 tgkill tkill kill
	utimensat mkdir mkdirat unlink unlinkat rename renameat renameat2 ftruncate truncate
	sched_getaffinity fchdir chdir prlimit64 set_robust_list rseq arch_prctl
	set_tid_address exit exit_group fchmod fchmodat chmod fchown fchownat
	umask openat2 close_range pidfd_open pidfd_send_signal eventfd2 epoll_create1
	timerfd_create timerfd_settime signalfd4 socket connect accept4 bind listen
	getsockname getpeername setsockopt getsockopt shutdown socketpair`)

// maxDepth and maxInsns bound the layers of one process: the kernel allows
// 32768 instructions over a task's whole filter chain, counting 4 more
// for each filter. The maxDepth-th layer, or one that would go past
// maxInsns, notifies every deniable number instead, after which no layer is
// ever needed again: a process carries at most maxDepth of them.
const (
	maxDepth = 16
	maxInsns = 16384
)

// layer is one notifying layer that the daemon loaded into a process,
// with the fixed layer loaded right after it in the same stop, if any.
type layer struct {
	cover  policy.Set // the numbers it notifies, for some arguments at least
	static policy.Set // the numbers the fixed layer denies (seccomp)
	// passed holds the numbers of cover that it lets run in the kernel
	// for one argument value (see covers.pass): notified, but not
	// enforced, so a need that holds one of them is not covered.
	passed policy.Set
	at     atomic.Int64 // when it went in, CLOCK_BOOTTIME nanoseconds; 0 not known (adopt)
	holder int          // the process it was loaded into
	// label is the supervisor's label of its listener where that is not
	// holder (a listener taken back whose holder had exited), else 0.
	label int
	// key, when not 0, is the label of its listener and the key of its
	// holder's record in Holder.holders, where holder's PID still served
	// another process's open layer when it went in (holderKey).
	key int
	// places holds every group where a process known to carry it was
	// anchored (placePinned), with the numbers pinned there: a process
	// that carries it and was met with no held ancestor of it (an orphan,
	// or one made with CLONE_PARENT) may have been born in any of them,
	// also where its creator has exited since (helper-40).
	placesMu sync.Mutex
	places   map[string]policy.Set
	// placesVer counts the changes of places; wide caches placedSets,
	// made at that count and the tree's Changes wideAt (wideOK once made).
	placesVer, wideVer uint64
	wideAt             uint64
	wide               policy.Set
	wideOK             bool

	start uint64 // that process's start time, the keeper's key with holder
	depth int    // filters in the process's chain, this one included
	// firstAt and firstDepth are, for a layer grown from another, when the
	// first layer of its line went in and how deep it sat: a process born
	// after that may carry an older layer of the line, closed when this
	// one replaced it, whose places this one keeps (mayCarry; helper-67
	// F3: an orphan moved away before a growth passed for one that
	// carries nothing, and allowed a call in its birth group). 0: none.
	firstAt    int64
	firstDepth int
	// prog is the program it loads: covers.program's, and a last
	// instruction never reached that holds a random word, so that no two
	// layers load the same bytes and no process without CAP_SYS_ADMIN
	// (which PTRACE_SECCOMP_GET_FILTER needs) can load a copy; taken from
	// the chain for a layer taken back from the keeper. Set before the
	// layer is shared, read only after.
	prog  []unix.SockFilter
	insns int // the chain's instructions as the kernel counts them
	// closed is set once its listener is closed (by a grown layer) or
	// every process using it has exited: the processes that still carry
	// it fail its numbers with ENOSYS until they get a layer of their own.
	closed atomic.Bool
	mu     sync.Mutex
	remove func() // closes its listener
	// settled, when not nil, is closed once the layer went in and its
	// listener is with the supervisor and the keeper, or it failed: set
	// for a layer that goes in after the write that asked for it has its
	// answer (load.go, run). A layer grown from it waits for that first:
	// its writer, let go, may ask for the growth before the listener is
	// known, which would then not be closed, and the kernel refuses a
	// second listener (EBUSY: TestGrowWriterItself failed so, about 1 run
	// in 50).
	settled chan struct{}
}

// holderKey is the label under which l's listener is served and its
// holder's record kept: key, or holder itself.
func (l *layer) holderKey() int {
	if l.key != 0 {
		return l.key
	}
	return l.holder
}

// addPlace records that a process carrying l was anchored at group, with
// pin pinned, and reports whether that is new to l: the group, or numbers
// pinned there (a later deny, pinDenies), which the placement log must
// keep too (helper-56: after a restart a carrier judged by its layer's
// places missed a deny made after the place was logged).
func (l *layer) addPlace(group string, pin policy.Set) bool {
	l.placesMu.Lock()
	defer l.placesMu.Unlock()
	if l.places == nil {
		l.places = map[string]policy.Set{}
	}
	old, ok := l.places[group]
	if ok && old.Union(pin).Equal(old) {
		return false
	}
	l.places[group] = old.Union(pin)
	l.placesVer++
	return true
}

// addPlaces records the places spots, which the placement log kept.
func (l *layer) addPlaces(spots map[string]policy.Set) {
	for g, pin := range spots {
		l.addPlace(g, pin)
	}
}

// placed returns a copy of l's places.
func (l *layer) placed() map[string]policy.Set {
	l.placesMu.Lock()
	defer l.placesMu.Unlock()
	return maps.Clone(l.places)
}

// wait returns once l is settled.
func (l *layer) wait() {
	if l != nil && l.settled != nil {
		<-l.settled
	}
}

// settling reports whether l is to go in after the write that asked for
// it, and has not yet (settled).
func (l *layer) settling() bool {
	if l == nil || l.settled == nil {
		return false
	}
	select {
	case <-l.settled:
		return false
	default:
		return true
	}
}

// setRemove records how to close the listener, and closes it at once if
// the layer was closed before its listener was known.
func (l *layer) setRemove(remove func()) {
	l.mu.Lock()
	l.remove = remove
	l.mu.Unlock()
	if l.closed.Load() {
		remove()
	}
}

// close closes the layer's listener.
func (l *layer) close() {
	if l == nil || l.closed.Swap(true) {
		return
	}
	l.mu.Lock()
	remove := l.remove
	l.mu.Unlock()
	if remove != nil {
		remove()
	}
}

// covers is what the holder knows about the numbers layers notify.
type covers struct {
	a        *arch.Arch
	seccomp  int        // seccomp(2): never notified, see fixedLayer
	clone3   int        // clone3(2): failed by every layer, see evaluate
	frequent policy.Set // frequentNames
	generous policy.Set // every deniable number but the frequent ones
	full     policy.Set // every deniable number
	union    atomic.Pointer[policy.Set]
	progs    sync.Map // progKey -> []unix.SockFilter, compiled notifying layers
	notified sync.Map // string (a program's bytes) -> notice
	nprogs   atomic.Int32
	fixed    []unix.SockFilter // the fixed layer denying seccomp
	// guard holds the calls every layer hands over whatever the group
	// denies, so that the guard (guard.go) sees those aimed at the daemon.
	guard policy.Set
	// passable holds tgkill, tkill (with SIGURG) and prlimit64 (of the
	// caller itself), which a layer lets run in the kernel where it
	// notifies them only for the guard.
	passable policy.Set
}

// progKey names a compiled notifying layer.
type progKey struct{ cover, passed policy.Set }

func newCovers(a *arch.Arch) (*covers, error) {
	c := &covers{a: a, seccomp: -1, clone3: -1, full: policy.Deniable(a)}
	if nr, ok := a.Native.SyscallNumber("clone3"); ok {
		c.clone3 = nr
	}
	for _, name := range frequentNames {
		if nr, ok := a.Native.SyscallNumber(name); ok {
			c.frequent.Add(nr)
		}
	}
	if nr, ok := a.Native.SyscallNumber("seccomp"); ok {
		c.seccomp = nr
		c.full.Remove(nr)
		insns, err := enforce.Compile(a, []int{nr}, enforce.ModeErrno)
		if err != nil {
			return nil, err
		}
		if c.fixed, err = enforce.Raw(insns); err != nil {
			return nil, err
		}
	}
	for _, name := range GuardNames() {
		if nr, ok := a.Native.SyscallNumber(name); ok {
			c.guard.Add(nr)
		}
	}
	for _, name := range []string{"tgkill", "tkill", "prlimit64"} {
		if nr, ok := a.Native.SyscallNumber(name); ok && c.guard.Has(nr) {
			c.passable.Add(nr)
		}
	}
	c.generous = c.full.Minus(c.frequent).Union(c.guard)
	c.union.Store(&policy.Set{})
	return c, nil
}

// setUnion records the union of every group's deny set.
func (c *covers) setUnion(u policy.Set) { c.union.Store(&u) }

// base is the cover of a first layer for a process judged by need: need
// itself, and whatever another group of the tree denies that is not
// frequent, so that a move between the tree's groups behind the mount's
// back is judged at once for those numbers.
func (c *covers) base(need policy.Set) policy.Set {
	s := need.Union(c.union.Load().Minus(c.frequent)).Union(c.guard)
	s.Remove(c.seccomp)
	return s
}

// grown is the cover of a layer that replaces one notifying old because
// need is not covered: generous, so that a later deny of another number
// rarely needs a layer again.
func (c *covers) grown(old, need policy.Set) policy.Set {
	s := old.Union(need).Union(c.generous)
	s.Remove(c.seccomp)
	return s
}

// pass returns the numbers of a new layer's cover that it lets run in the
// kernel for one argument value, where the layer notifies them only for
// the guard: tgkill and tkill with SIGURG, which Go's runtime sends its
// own threads many times a second to preempt goroutines, and prlimit64 of
// the caller itself (pid 0), which Go's runtime makes in every process it
// starts. A SIGURG aimed at the daemon or the keeper, Go programs that
// ignore one they did not ask for, harms nothing, and a process is never
// the daemon or the keeper. So no number that need holds (the process is
// judged by it), none that the cover holds without the guard (the tree's
// union in a first layer, the generous cover in a grown one: a later deny
// must find it covered), and none that an older filter of the chain
// notifies for every argument (strict): that filter's notification would
// be the one delivered, to a listener that may be gone.
func (c *covers) pass(need, strict policy.Set, grown bool) policy.Set {
	s := c.passable.Minus(need).Minus(strict)
	if grown {
		return s.Minus(c.full.Minus(c.frequent))
	}
	return s.Minus(c.union.Load().Minus(c.frequent))
}

// program returns the compiled notifying layer for cover, which lets the
// numbers of passed run with SIGURG.
func (c *covers) program(cover, passed policy.Set) ([]unix.SockFilter, error) {
	key := progKey{cover, passed}
	if v, ok := c.progs.Load(key); ok {
		return v.([]unix.SockFilter), nil
	}
	insns, err := enforce.CompileLayer(c.a, cover.Numbers(), enforce.ModeNotify,
		passed.Numbers())
	if err != nil {
		return nil, err
	}
	prog, err := enforce.Raw(insns)
	if err != nil {
		return nil, err
	}
	if c.nprogs.Add(1) < 1024 {
		c.progs.Store(key, prog)
	}
	return prog, nil
}

// chainNotified returns the native numbers that any filter of chain
// hands to a listener (SECCOMP_RET_USER_NOTIF), for some arguments at
// least: the notified ones, and of those the ones notified only partly,
// which the chain lets run with every argument zero or with every
// argument SIGURG (the passes of covers.pass: prlimit64 of pid 0, tgkill
// and tkill of SIGURG).
//
// The two answer two questions. A new layer must notify every notified
// number: its listener then decides them; where it does not, a filter
// whose listener is gone (the last daemon's, or a layer this one
// replaces) fails them with ENOSYS. Only a number notified and not partly
// is enforced whatever its arguments, as a need is (see covered). A
// filter that cannot be read as classic BPF counts as notifying every
// deniable number in full.
func (c *covers) chainNotified(chain [][]unix.SockFilter) (notified, partly policy.Set) {
	var zero, urg policy.Set
	for _, prog := range chain {
		n := c.notifiedBy(prog)
		zero, urg = zero.Union(n.zero), urg.Union(n.urg)
	}
	notified = zero.Union(urg)
	return notified, notified.Minus(zero.Intersect(urg))
}

// unreachedCut returns prog without the instructions at its end that no
// run can reach, up to markLen of them (inject.TrimUnreached). Layers end
// so (mark), each with words of its own there: cut, they are the same
// program for the cache of what a program notifies, which is worked out
// once rather than for each layer.
func unreachedCut(prog []unix.SockFilter) []unix.SockFilter {
	return inject.TrimUnreached(prog, markLen)
}

// notice is what one filter notifies of the native numbers: with every
// argument zero, and with every argument SIGURG.
type notice struct{ zero, urg policy.Set }

func (c *covers) notifiedBy(prog []unix.SockFilter) notice {
	prog = unreachedCut(prog)
	if len(prog) == 0 {
		return notice{}
	}
	key := string(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(prog)*8))
	if v, ok := c.notified.Load(key); ok {
		return v.(notice)
	}
	n := c.evaluate(prog)
	if c.nprogs.Add(1) < 1024 {
		c.notified.Store(key, n)
	}
	return n
}

// evaluate runs prog for every native number, with zero arguments and
// with SIGURG in every argument.
func (c *covers) evaluate(prog []unix.SockFilter) notice {
	all := notice{c.full, c.full}
	insns := make([]bpf.Instruction, len(prog))
	for i, f := range prog {
		insns[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble()
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return all
	}
	var n notice
	// decided: notified, or clone3 failed with an errno, as every layer
	// fails it (enforce.CompileLayer), whatever the group: no argument
	// lets it run, so it counts as notified in full. Other errnos are
	// not the daemon's to count: a fixed layer's seccomp is kept apart
	// (static), and a filter of the process's own is not a layer.
	decided := func(nr, r int) bool {
		act := uint32(r) & unix.SECCOMP_RET_ACTION_FULL
		return act == unix.SECCOMP_RET_USER_NOTIF ||
			nr == c.clone3 && act == unix.SECCOMP_RET_ERRNO
	}
	// struct seccomp_data as x/net/bpf's VM reads it: it loads words
	// big-endian where the kernel loads them in host order, so each word
	// is stored big-endian, the low word of an argument first.
	zero, urg := make([]byte, 64), make([]byte, 64)
	for i := 0; i < 6; i++ {
		put32(urg[16+8*i:], uint32(unix.SIGURG))
	}
	for nr := 0; nr <= c.a.Native.NRMax; nr++ {
		for _, data := range [][]byte{zero, urg} {
			put32(data[0:], uint32(nr))
			put32(data[4:], c.a.Native.AuditArch)
		}
		r0, err0 := vm.Run(zero)
		r1, err1 := vm.Run(urg)
		if err0 != nil || err1 != nil {
			return all
		}
		if decided(nr, r0) {
			n.zero.Add(nr)
		}
		if decided(nr, r1) {
			n.urg.Add(nr)
		}
	}
	full := policy.Full(c.a)
	return notice{n.zero.Intersect(full), n.urg.Intersect(full)}
}

func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// deniesSeccomp tells whether prog fails seccomp(2) of the native ABI
// with an errno, as the fixed layer does.
func (c *covers) deniesSeccomp(prog []unix.SockFilter) bool {
	if c.seccomp < 0 || len(prog) == 0 {
		return false
	}
	insns := make([]bpf.Instruction, len(prog))
	for i, f := range prog {
		insns[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble()
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return false
	}
	data := make([]byte, 64)
	put32(data[0:], uint32(c.seccomp))
	put32(data[4:], c.a.Native.AuditArch)
	r, err := vm.Run(data)
	return err == nil && uint32(r)&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO
}
