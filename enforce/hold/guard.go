package hold

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/denials"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
	"github.com/cgsyscall/cgsyscall/procfs"
)

// The daemon, and the keeper that holds copies of its listeners, are what
// keep a held process held: a confined process that could stop, kill or
// trace one of them, or copy a listener out of it with pidfd_getfd, would
// answer its own calls or leave every held process without answers. So
// whatever its group allows, a held process's call aimed at one of them
// is refused (ENOSYS), as are kill(-1) and a kill of the daemon's process
// group. The guarded calls take the target as a number (a PID) or as a
// pidfd or /proc/PID directory descriptor of the caller's, both read from
// registers. A PID is judged as the kernel will take it; a descriptor is
// not: its number is looked up here (/proc/TID/fd/N) and again by the
// kernel once the call runs, and another thread of the caller can make
// the number name a descriptor of the daemon's in between (openat and
// dup3 run in the kernel, unasked). User notification has no way to check
// a descriptor and run the call at once; it takes a caller allowed to
// signal or trace the daemon (root), which can also open /proc/DAEMON/mem.
// TestAdvGuardPidfdSwap shows it; the README says so.
//
// pidfd_getfd is refused whatever its target (helper-79, an escape): it
// is how a listener is copied, and a held process could take the one a
// hold or growth of another held process makes, which sits for a moment
// in that process's helper thread (enforce/inject, stubRun), where the
// kernel lets a process of the same user copy it from a process that the
// stub leaves dumpable (its code rewritten) or that runs in a user
// namespace the caller owns. A target judged by its descriptor would be
// open to the swap above; a target judged at the call's decision, to a
// hold that begins before the call runs. Refusing every pidfd_getfd is
// the same answer at every moment. Programs rarely make the call; those
// that do get ENOSYS, as for a kernel without it.
//
// It also refuses to set or remove the attributes that keep the daemon's
// saved policy and counts (trusted.cgsyscall.*) on the real directories.
//
// Two kinds of guarded call never reach it: tgkill and tkill with SIGURG,
// which Go's runtime sends its own threads to preempt goroutines, and
// prlimit64 of the caller itself (pid 0), which it makes in every process
// it starts: most of what a held Go program would hand over for the guard
// alone. A layer lets those run in the kernel where it notifies the three
// only for the guard (covers.pass): a SIGURG harms neither the daemon nor
// the keeper, Go programs that ignore one they did not ask for, and pid 0
// is never either of them. Where the process's group denies one, it is
// notified whatever its arguments.
//
// What the guard cannot see: opening /proc/DAEMON/mem or /proc/DAEMON/fd/N
// (a path in the caller's memory, through openat, which the kernel allows
// outright), which a confined process with CAP_SYS_PTRACE (root) can still
// do. The README says so.

// guardKind says how a guarded call names its target.
type guardKind uint8

const (
	byPid   guardKind = iota // a PID or TID in argument arg
	byTgid                   // a process ID in argument arg, of a call on one of its threads
	byKill                   // kill(2): a PID, 0, -1 or -PGID in argument 0
	byPidfd                  // a pidfd (or /proc/PID directory) descriptor in argument 0
	byXattr                  // the name of an extended attribute, a string at argument arg
	always                   // refused whatever it names
)

// guardRule is one guarded syscall.
type guardRule struct {
	kind guardKind
	arg  int
	arg2 int // a second PID argument (kcmp), or -1
}

// guardRules lists the guarded syscalls by native name.
var guardRules = map[string]guardRule{
	"kill":              {byKill, 0, -1},
	"tkill":             {byPid, 0, -1},
	"tgkill":            {byTgid, 0, -1},
	"rt_sigqueueinfo":   {byPid, 0, -1},
	"rt_tgsigqueueinfo": {byTgid, 0, -1},
	"ptrace":            {byPid, 1, -1},
	"pidfd_open":        {byPid, 0, -1},
	"process_vm_readv":  {byPid, 0, -1},
	"process_vm_writev": {byPid, 0, -1},
	"kcmp":              {byPid, 0, 1},
	"prlimit64":         {byPid, 0, -1},
	"pidfd_getfd":       {always, 0, -1},
	"pidfd_send_signal": {byPidfd, 0, -1},
	"process_madvise":   {byPidfd, 0, -1},
	"setxattr":          {byXattr, 1, -1},
	"lsetxattr":         {byXattr, 1, -1},
	"fsetxattr":         {byXattr, 1, -1},
	"removexattr":       {byXattr, 1, -1},
	"lremovexattr":      {byXattr, 1, -1},
	"fremovexattr":      {byXattr, 1, -1},
	"setxattrat":        {byXattr, 3, -1},
	"removexattrat":     {byXattr, 3, -1},
}

// ownXattrPrefix names the attributes that keep the daemon's saved state
// on the real cgroup directories (package persist): a held process may not
// set or remove them. The name is read from the caller's memory, so
// another thread of the caller could change it between the check and the
// call: the README says so.
const ownXattrPrefix = "trusted.cgsyscall."

// GuardNames are the syscalls that a held process's layer must always hand
// to the daemon, whatever its group denies, so that the guard sees them
// (tgkill and tkill but with SIGURG, prlimit64 but of pid 0).
func GuardNames() []string {
	names := make([]string, 0, len(guardRules))
	for name := range guardRules {
		names = append(names, name)
	}
	return names
}

// guard holds the PIDs the guard protects.
type guard struct {
	rules map[int]guardRule // by native number
	self  int               // the daemon's PID
	pgid  int               // the daemon's process group
}

func newGuard(a *arch.Arch) *guard {
	g := &guard{rules: map[int]guardRule{}, self: os.Getpid(), pgid: getpgid()}
	for name, r := range guardRules {
		if nr, ok := a.Native.SyscallNumber(name); ok {
			g.rules[nr] = r
		}
	}
	return g
}

// aimed tells whether notified call n (whose native key is k) aims at the
// daemon or at one of protect's PIDs.
func (g *guard) aimed(k denials.Key, n supervise.Notif, protect func(pid int) bool) bool {
	if k.Kind != denials.Native {
		return false
	}
	r, ok := g.rules[k.Nr]
	if !ok {
		return false
	}
	hits := func(pid int) bool {
		if pid <= 0 {
			return false
		}
		if pid == g.self || protect(pid) {
			return true
		}
		t := tgidOf(pid)
		return t == g.self || protect(t)
	}
	switch r.kind {
	case byTgid:
		// The kernel acts only when the thread named next belongs to
		// this process, so the process ID is the target as it stands:
		// no lookup (Go programs make these calls to preempt their own
		// threads, many a second).
		pid := int(int32(n.Args[r.arg]))
		return pid > 0 && (pid == g.self || protect(pid))
	case byKill:
		pid := int(int32(n.Args[0]))
		switch {
		case pid == -1:
			return true
		case pid < -1:
			return -pid == g.pgid
		case pid == 0:
			return pgidOf(n.Pid) == g.pgid
		}
		return hits(pid)
	case byPidfd:
		return hits(pidOfFd(n.Pid, int(int32(n.Args[0]))))
	case always:
		return true
	case byXattr:
		return strings.HasPrefix(readString(n.Pid, n.Args[r.arg], len(ownXattrPrefix)),
			ownXattrPrefix)
	}
	if hits(int(int32(n.Args[r.arg]))) {
		return true
	}
	return r.arg2 >= 0 && hits(int(int32(n.Args[r.arg2])))
}

// pidOfFd is the process that descriptor fd of thread tid refers to: a
// pidfd (its fdinfo's Pid line) or a /proc/PID directory; 0 for anything
// else.
func pidOfFd(tid, fd int) int {
	if fd < 0 {
		return 0
	}
	base := "/proc/" + strconv.Itoa(tid)
	if b, err := os.ReadFile(base + "/fdinfo/" + strconv.Itoa(fd)); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(ln, "Pid:"); ok {
				pid, _ := strconv.Atoi(strings.TrimSpace(v))
				return pid
			}
		}
	}
	target, err := os.Readlink(base + "/fd/" + strconv.Itoa(fd))
	if err != nil {
		return 0
	}
	rest, ok := strings.CutPrefix(target, "/proc/")
	if !ok {
		return 0
	}
	pid, err := strconv.Atoi(rest)
	if err != nil {
		return 0
	}
	return pid
}

// readString reads up to max bytes of the NUL-terminated string at addr in
// thread tid's memory; "" when it cannot.
func readString(tid int, addr uint64, max int) string {
	buf := make([]byte, max)
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(max)}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: max}}
	n, err := unix.ProcessVMReadv(tid, local, remote, 0)
	if err != nil || n <= 0 {
		return ""
	}
	s := string(buf[:n])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// pgidOf is the process group of thread tid (field 5 of /proc/TID/stat).
func pgidOf(tid int) int {
	f, err := statFields(tid)
	if err != nil || len(f) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(f[2])
	return n
}

func getpgid() int {
	return pgidOf(os.Getpid())
}

// protected tells whether pid is one the guard protects besides the daemon
// itself.
func (h *Holder) protected(pid int) bool {
	return pid > 0 && pid == h.keep.c.KeeperPid()
}

// refuseAimed logs a call that the guard refused, at most once per
// denials.LogEvery for each syscall of a group, as a denial. It is not
// counted in syscalls.stat: the group's policy did not deny it.
func (h *Holder) refuseAimed(n supervise.Notif, group string, inside bool) {
	if !inside {
		group = ""
	}
	k := denials.KeyOf(h.a, n.Arch, n.Nr, n.Args)
	if !h.guardLog.Due("aimed:"+group, k) {
		return
	}
	h.guardLog.Note("aimed:"+group, k)
	msg := "refused a call aimed at the daemon or its keeper"
	if k.Kind == denials.Native && h.guard.rules[k.Nr].kind == always {
		msg = "refused a call that a held process may never make (it could copy a listener)"
	}
	h.log.WithFields(logrus.Fields{
		"pid": tgidOf(n.Pid), "comm": procfs.CommOf(n.Pid), "group": "/" + group,
		"syscall": k.Name(h.a), "args": fmt.Sprintf("%d %d", int32(n.Args[0]),
			int32(n.Args[1])),
	}).Warn(msg)
}
