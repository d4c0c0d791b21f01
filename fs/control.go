package fs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sirupsen/logrus"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
	"github.com/cgsyscall/cgsyscall/procfs"
)

// ctlNode is a control file of group (a slash path, "" for the root).
type ctlNode struct {
	gofs.Inode
	m     *mirror
	group string
	kind  ctlKind
}

// ctlAttr fills the attributes of a control file of kind from its group
// directory's: a regular file of mode 0644 (0444 for the read-only
// syscalls.stat), size 0, owned like the directory.
func ctlAttr(a *fuse.Attr, kind ctlKind, dir *syscall.Stat_t) {
	a.FromStat(dir)
	a.Mode = syscall.S_IFREG | 0644
	if kind == ctlStat {
		a.Mode = syscall.S_IFREG | 0444
	}
	a.Nlink = 1
	a.Size = 0
	a.Blocks = 0
	a.Rdev = 0
}

// seeGroup looks at group's real directory again before a write to its
// files, and notes it in the policy tree: a group removed and made again
// behind the mount's back, with nothing since that looked it up (a
// descriptor opened before, a working directory inside it), is the new
// group for the write. A process that moved out, made its group again and
// placed itself there through such a descriptor was judged by the new
// group's set (helper-52, 12 of 12).
func (m *mirror) seeGroup(group string) syscall.Errno {
	st, err := m.stat(group)
	if err != nil {
		return m.errnoOf(err, "group")
	}
	m.observe(group, st.Ino)
	return 0
}

// dirStat stats the group directory and notes it in the policy tree.
func (n *ctlNode) dirStat() (syscall.Stat_t, syscall.Errno) {
	st, err := n.m.stat(n.group)
	if err != nil {
		return st, n.m.errnoOf(err, "control file")
	}
	n.m.observe(n.group, st.Ino)
	return st, 0
}

var _ gofs.NodeGetattrer = (*ctlNode)(nil)

// Getattr reports the control file's attributes.
func (n *ctlNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	st, e := n.dirStat()
	if e != 0 {
		return e
	}
	ctlAttr(&out.Attr, n.kind, &st)
	return 0
}

var _ gofs.NodeSetattrer = (*ctlNode)(nil)

// Setattr accepts a truncation (what O_TRUNC sends) and time changes as
// no-ops, and a chown only to the owner the file already reports; a chmod
// fails with EPERM.
func (n *ctlNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn,
	out *fuse.AttrOut) syscall.Errno {

	st, e := n.dirStat()
	if e != 0 {
		return e
	}
	if _, ok := in.GetMode(); ok {
		return syscall.EPERM
	}
	if uid, ok := in.GetUID(); ok && uid != st.Uid {
		return syscall.EPERM
	}
	if gid, ok := in.GetGID(); ok && gid != st.Gid {
		return syscall.EPERM
	}
	ctlAttr(&out.Attr, n.kind, &st)
	return 0
}

var _ gofs.NodeOpener = (*ctlNode)(nil)

// Open hands out a handle with direct I/O. Only root, or the owner of a
// delegated group directory, may open a control file for writing: others
// get EACCES.
func (n *ctlNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if _, e := n.dirStat(); e != 0 {
		return nil, 0, e
	}
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if n.kind == ctlStat {
			return nil, 0, syscall.EACCES // as kernfs answers for a file without a write
		}
		c, ok := callerOf(ctx)
		if !ok {
			return nil, 0, syscall.EACCES
		}
		if e := n.m.mayWrite(c, n.group); e != 0 {
			return nil, 0, e
		}
	}
	return &ctlHandle{n: n}, fuse.FOPEN_DIRECT_IO, 0
}

var (
	_ gofs.NodeGetxattrer = (*ctlNode)(nil)
	_ gofs.NodeSetxattrer = (*ctlNode)(nil)
)

// Getxattr: control files have no extended attributes.
func (n *ctlNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}

// Setxattr: control files keep no extended attributes.
func (n *ctlNode) Setxattr(ctx context.Context, attr string, data []byte,
	flags uint32) syscall.Errno {

	return syscall.EOPNOTSUPP
}

// content renders what the control file reads now.
func (n *ctlNode) content() ([]byte, syscall.Errno) {
	switch n.kind {
	case ctlTasks:
		return n.m.readTasks(n.group)
	case ctlStat:
		if _, e := n.dirStat(); e != 0 {
			return nil, e
		}
		if n.m.counts == nil {
			return []byte("total 0\n"), 0
		}
		return n.m.counts.Stat(n.group), 0
	}
	d, ok := n.m.tree.Denied(n.group)
	if !ok {
		return nil, syscall.ENOENT
	}
	if n.kind == ctlAllow {
		d = n.m.full.Minus(d)
	}
	return policy.Format(d), 0
}

// ctlHandle is one open control file. Reads come from one snapshot of the
// content, taken at the first read and again by every read at offset 0,
// so that a reader in pieces sees no torn lines and a reader that starts
// over sees every write that has returned.
type ctlHandle struct {
	n    *ctlNode
	mu   sync.Mutex
	snap []byte
	have bool
}

var _ gofs.FileReader = (*ctlHandle)(nil)

// Read returns the snapshot from off.
func (h *ctlHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult,
	syscall.Errno) {

	h.mu.Lock()
	defer h.mu.Unlock()

	if !h.have || off == 0 {
		b, e := h.n.content()
		if e != 0 {
			return nil, e
		}
		h.snap, h.have = b, true
	}
	if off >= int64(len(h.snap)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.snap)))
	return fuse.ReadResultData(h.snap[off:end]), 0
}

var _ gofs.FileWriter = (*ctlHandle)(nil)

// Write takes one whole write as one command; the offset does not matter,
// as in cgroupfs. Success reports every byte written.
func (h *ctlHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	var e syscall.Errno
	switch h.n.kind {
	case ctlStat:
		e = syscall.EACCES
	case ctlTasks:
		e = h.n.m.writeTasks(ctx, h.n.group, data)
	default:
		e = h.n.m.writePolicy(ctx, h.n.group, h.n.kind, data)
	}
	if e != 0 {
		return 0, e
	}
	h.mu.Lock()
	h.have = false
	h.mu.Unlock()
	return uint32(len(data)), 0
}

var _ gofs.FileFlusher = (*ctlHandle)(nil)

// Flush has nothing to do: writes take effect when they return.
func (h *ctlHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

var _ gofs.FileFsyncer = (*ctlHandle)(nil)

// Fsync has nothing to do either.
func (h *ctlHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return 0 }

// writePolicy applies one write to syscalls.deny or syscalls.allow of
// group: parsed whole, taken by the tree, then enforced. The first errno
// on the way goes back to the writer.
func (m *mirror) writePolicy(ctx context.Context, group string, kind ctlKind,
	data []byte) syscall.Errno {

	c, ok := callerOf(ctx)
	if !ok {
		return syscall.EACCES
	}
	if e := m.mayWrite(c, group); e != 0 {
		return e
	}
	action, file := "deny", denyName
	if kind == ctlAllow {
		action, file = "allow", allowName
	}

	if !LockOr(&m.wmu, c) {
		m.log.WithFields(logrus.Fields{
			"uid": c.Uid, "pid": c.Pid, "comm": procfs.CommOf(c.Pid), "group": groupName(group),
			"file": file, "action": action, "result": errName(syscall.EINTR),
			"error": ErrInterrupted.Error(),
		}).Warn("policy change")
		return syscall.EINTR
	}
	defer m.wmu.Unlock()
	if e := m.seeGroup(group); e != 0 {
		return e
	}

	set, err := parseWrite(m.arch, data)
	if err == nil && set.Empty() {
		return 0 // an empty write changes nothing
	}
	if err == nil {
		err = m.enforcer.MayChange(c, group, kind == ctlAllow)
	}
	if err == nil && kind == ctlAllow {
		err = m.uringAllow(group, set)
	}
	var mark policy.Mark
	held := 0 // held processes placed in the group's subtree, which a deny judges
	if err == nil {
		mark = m.tree.Mark()
		if kind == ctlAllow {
			err = m.tree.Allow(group, set)
		} else {
			err = m.tree.Deny(group, set)
		}
	}
	// A write that changes nothing holds nothing and saves nothing.
	if err == nil && m.changed(group, mark.Sets) {
		if kind == ctlDeny {
			// A deny that could not be enforced on every member is taken
			// back, so the write fails and changes nothing. Meanwhile the
			// members are judged by it already: that errs on the side of
			// denying. An allow needs no process held (a held one is
			// judged by its group's set at every call, a member not held
			// yet was not held before either), so it cannot fail here,
			// and none lets a call through for the seconds that a deny's
			// holds may take to fail (helper-30).
			if held, err = m.enforcer.PolicyChanged(c, group); err != nil {
				m.tree.Undo(mark)
			}
		}
		if err == nil {
			if err = m.save(group, kind == ctlDeny, mark.Sets); err != nil {
				err = fmt.Errorf("%w: %w", syscall.EIO, err)
			}
		}
	}
	e := m.errnoOf(err, "policy change")

	f := logrus.Fields{
		"uid": c.Uid, "pid": c.Pid, "comm": procfs.CommOf(c.Pid), "group": groupName(group),
		"file": file, "action": action, "syscalls": m.describe(set), "result": errName(e),
	}
	if err != nil {
		f["error"] = err.Error()
	} else if !m.changed(group, mark.Sets) {
		f["unchanged"] = true // an allow of what was allowed, a deny of what was denied
	} else if kind == ctlDeny {
		f["held"] = held
	}
	logOutcome(m.log.WithFields(f), e, "policy change")
	return e
}

// maxWrite bounds one write(2) to a control file: the kernel would cut a
// longer one into pieces, each a FUSE WRITE, and a piece could end inside a
// number. So a piece this long or longer is refused whole with E2BIG
// (helper-59: 131,071 spaces and "63" denied 3 and 6 instead of 63, and
// reported success), as cgroupfs refuses a write longer than a page. The
// mount takes pieces a page longer (mountMaxWrite), so that a shorter
// write(2) from a buffer that does not start on a page, which spans one
// page more, is never cut (helper-60: 127,000 bytes at page offset 4095
// were, into 32 pages and the rest).
const maxWrite = 128 << 10

// mountMaxWrite is the mount's max_write, from which go-fuse sets its
// max_pages too: maxWrite and one page, so the first piece of a longer
// write(2) is maxWrite bytes or more, whatever its buffer's alignment.
var mountMaxWrite = maxWrite + os.Getpagesize()

// tooLong is the error of a write of maxWrite bytes or more.
func tooLong(n int) error {
	return fmt.Errorf("%w: %d bytes in one write, the most is %d", syscall.E2BIG, n,
		maxWrite-1)
}

// parseWrite parses a write to syscalls.deny or syscalls.allow.
func parseWrite(a *arch.Arch, data []byte) (policy.Set, error) {
	if len(data) >= maxWrite {
		return policy.Set{}, tooLong(len(data))
	}
	return policy.Parse(a, data)
}

// logOutcome writes the one line of a write to a control file: at info
// level when it succeeded, at warning level when it was refused or
// failed, so that a watch of warnings sees every refusal (helper-53).
func logOutcome(e *logrus.Entry, errno syscall.Errno, msg string) {
	if errno != 0 {
		e.Warn(msg)
		return
	}
	e.Info(msg)
}

// changed reports whether group's set differs from before's, a snapshot
// taken before a write to its control files.
func (m *mirror) changed(group string, before map[string]policy.Set) bool {
	now, _ := m.tree.Denied(group)
	return !now.Equal(before[group])
}

// uringAllow refuses an allow of io_uring calls in group that would leave
// the group denying anything else: they stay denied there whatever its
// set says (policy.Uring), and the allow would report a success that lets
// no member call them.
func (m *mirror) uringAllow(group string, set policy.Set) error {
	u := set.Intersect(policy.Uring(m.arch))
	if u.Empty() {
		return nil
	}
	if d, ok := m.tree.Denied(group); ok && !d.Minus(set).Empty() {
		return fmt.Errorf("%w: the io_uring calls (%s) stay denied while the group "+
			"denies anything else", syscall.EPERM, m.describe(u))
	}
	return nil
}

// save hands an accepted change of group to the store, if there is one.
// When saving fails, the change is taken back: in the tree from before,
// and in the store as far as the failed save got.
func (m *mirror) save(group string, deny bool, before map[string]policy.Set) error {
	if m.store == nil {
		return nil
	}
	err := m.store.Save(m.tree, group, deny)
	if err == nil {
		return nil
	}
	if rerr := m.tree.Restore(before); rerr != nil {
		m.log.WithError(rerr).Error("could not take back an unsaved change")
		return err
	}
	if rerr := m.store.Save(m.tree, group, !deny); rerr != nil {
		m.log.WithError(rerr).WithField("group", groupName(group)).
			Error("could not put the saved policy back after a failed save")
	}
	return err
}

// describe lists the numbers of s with their names for the log:
// "59(execve) 110(getppid)"; numbers without a call are bare ("337").
func (m *mirror) describe(s policy.Set) string {
	nums := s.Numbers()
	if size := m.arch.Native.NRMax + 1; 2*len(nums) > size {
		// An allow-list ("all", then a few allowed) is named by what it
		// leaves, as show does: "all" alone listed 466 numbers, a line of
		// 6 KB that syslog relays cut (helper-53).
		left := m.full.Minus(s).Numbers()
		if len(left) == 0 {
			return "all"
		}
		return fmt.Sprintf("all but %d: %s", len(left), m.list(left))
	}
	return m.list(nums)
}

// list names sorted numbers ("59(execve)"), runs of numbers without a
// name as ranges ("335-423").
func (m *mirror) list(nums []int) string {
	var b strings.Builder
	for i := 0; i < len(nums); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		n := nums[i]
		if name, ok := m.arch.Native.SyscallName(n); ok && name != "" {
			fmt.Fprintf(&b, "%d(%s)", n, name)
			continue
		}
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			if name, ok := m.arch.Native.SyscallName(nums[j+1]); ok && name != "" {
				break
			}
			j++
		}
		if j == i {
			fmt.Fprintf(&b, "%d", n)
		} else {
			fmt.Fprintf(&b, "%d-%d", n, nums[j])
		}
		i = j
	}
	return b.String()
}

// mayWrite lets root, and the owner of group's real directory (a group
// delegated with chown), write the group's control files.
func (m *mirror) mayWrite(c Caller, group string) syscall.Errno {
	if c.Uid == 0 {
		return 0
	}
	st, err := m.stat(group)
	if err != nil {
		return m.errnoOf(err, "permission")
	}
	if st.Uid != c.Uid {
		return syscall.EACCES
	}
	return 0
}
