package fs

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Listings without OPENDIR.
//
// When a file system answers OPENDIR with ENOSYS, the kernel (Linux 5.1
// and later, which say so with FUSE_NO_OPENDIR_SUPPORT at INIT) sends no
// OPENDIR or RELEASEDIR on that connection again, and every READDIR
// arrives with file handle 0: two requests fewer for each directory
// listed, of the six that find makes in a group. go-fuse's bridge keeps
// its listings in open handles, so dirFS, a layer around the bridge,
// serves those READDIRs itself, without state: each one lists the real
// directory afresh and answers from the offset it names.
//
// Offsets. Entries come sorted by a hash of their name, and an entry's
// offset is that hash and a collision number (47 bits, see the cookie
// layout below) below an epoch (16 bits) that each listing from offset 0
// draws anew. A READDIR at an offset continues with
// the entries whose hash is higher: one that stays in the directory is
// listed once whatever else comes and goes meanwhile, and one made or
// removed meanwhile may show or not, as POSIX has it.
//
// The kernel's cache. Without OPENDIR the kernel treats a directory as if
// it had been opened with FOPEN_CACHE_DIR|FOPEN_KEEP_CACHE: it keeps what
// READDIR returned in the directory's pages, and once a listing has read
// to its end (an empty READDIR reply) it would serve later listings from
// there, never asking again, against SPEC 6. So the empty reply that ends
// a listing goes out after FUSE_NOTIFY_INVAL_INODE has dropped those
// pages; a listing that finds the cache marked complete with its pages
// gone starts it afresh, and asks. Another listing could refill the pages
// before the kernel marks the cache complete, but it would do so with
// offsets of its own epoch, and the kernel marks the cache complete only
// when its last entry has the offset the ending listing stopped at. The
// notification also makes the kernel fetch the directory's attributes
// again at their next use (one GETATTR for a group whose children are
// visited next).
//
// Node IDs. READDIR names the directory by node ID only; dirFS learns the
// group of each directory ID from the LOOKUP and MKDIR replies that carry
// it and counts them as the kernel does, so that the ID is dropped when
// the kernel's FORGETs bring its count to 0. go-fuse never reuses an ID.

// Cookie layout: epoch (16 bits) above the name's hash (40 bits) above
// its collision number (7 bits): the names of one hash are numbered in
// name order, so that each has an offset of its own. Were a name of that
// hash made or removed during a listing, the numbers after it would
// shift, and one of those names could show twice or not at all; a
// listing of names that do not collide is unaffected.
const (
	cookieKeyBits = 47
	cookieKeyMask = 1<<cookieKeyBits - 1
	cookieRunBits = 7
	cookieRunMask = 1<<cookieRunBits - 1
	cookieEpochs  = 1 << 16
)

// dirFS is the raw file system of a mount: go-fuse's bridge, with
// directory listings served without OPENDIR where the kernel allows it.
type dirFS struct {
	fuse.RawFileSystem
	m      *mirror
	srv    *fuse.Server
	on     atomic.Bool   // set at INIT: OPENDIR is answered with ENOSYS
	off    bool          // never do without OPENDIR (a test's knob)
	epochs atomic.Uint64 // the last epoch drawn

	mu   sync.Mutex
	dirs map[uint64]*dirRef // directory node IDs the kernel knows

	seed maphash.Seed // of nameKey
}

// dirRef is a directory node ID: its group, and how many replies gave
// the kernel that ID, less what it forgot.
type dirRef struct {
	rel     string
	lookups uint64
}

// newDirFS wraps the bridge raw for the mirror m.
func newDirFS(raw fuse.RawFileSystem, m *mirror, off bool) *dirFS {
	return &dirFS{
		RawFileSystem: raw,
		m:             m,
		off:           off,
		dirs:          map[uint64]*dirRef{fuse.FUSE_ROOT_ID: {rel: ""}},
		seed:          maphash.MakeSeed(),
	}
}

// Init learns whether the kernel can do without OPENDIR.
func (w *dirFS) Init(s *fuse.Server) {
	w.RawFileSystem.Init(s)
	w.srv = s
	w.on.Store(!w.off && s.KernelSettings().Flags64()&fuse.CAP_NO_OPENDIR_SUPPORT != 0)
}

// Lookup records the node ID of a directory it finds.
func (w *dirFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string,
	out *fuse.EntryOut) fuse.Status {

	st := w.RawFileSystem.Lookup(cancel, h, name, out)
	if st.Ok() {
		w.gave(h.NodeId, name, out)
	}
	return st
}

// Mkdir records the node ID of the new directory.
func (w *dirFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string,
	out *fuse.EntryOut) fuse.Status {

	st := w.RawFileSystem.Mkdir(cancel, in, name, out)
	if st.Ok() {
		w.gave(in.NodeId, name, out)
	}
	return st
}

// gave counts a reply that gave the kernel out's node ID (0: a negative
// entry), found as name in the directory with ID parent.
func (w *dirFS) gave(parent uint64, name string, out *fuse.EntryOut) {
	if out.NodeId == 0 || out.Attr.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d := w.dirs[out.NodeId]; d != nil {
		d.lookups++
		return
	}
	p := w.dirs[parent]
	if p == nil {
		// Cannot be: the kernel looked up name in a directory it was
		// never given. A READDIR of the child will say so.
		return
	}
	rel := p.rel
	switch name {
	case ".":
	case "..":
		rel, _ = ParentRel(p.rel)
	default:
		rel = joinRel(p.rel, name)
	}
	w.dirs[out.NodeId] = &dirRef{rel: rel, lookups: 1}
}

// Forget drops a directory's node ID once the kernel has forgotten every
// reply that gave it.
func (w *dirFS) Forget(nodeID, nlookup uint64) {
	w.RawFileSystem.Forget(nodeID, nlookup)
	if nodeID == fuse.FUSE_ROOT_ID {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d := w.dirs[nodeID]; d != nil {
		if nlookup >= d.lookups {
			delete(w.dirs, nodeID)
		} else {
			d.lookups -= nlookup
		}
	}
}

// OpenDir is ENOSYS once the kernel can do without it.
func (w *dirFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if w.on.Load() {
		return fuse.ENOSYS
	}
	return w.RawFileSystem.OpenDir(cancel, in, out)
}

// ReleaseDir never comes for handle 0; should it, there is nothing to
// release.
func (w *dirFS) ReleaseDir(in *fuse.ReleaseIn) {
	if in.Fh != 0 {
		w.RawFileSystem.ReleaseDir(in)
	}
}

// ReadDirPlus is off (Mount), so it never comes for handle 0; should it,
// the answer is an error, never an empty listing.
func (w *dirFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn,
	out *fuse.DirEntryList) fuse.Status {

	if in.Fh == 0 {
		return fuse.EIO
	}
	return w.RawFileSystem.ReadDirPlus(cancel, in, out)
}

// ReadDir answers a READDIR of handle 0 from a fresh listing of the real
// directory; one of an opened handle goes to the bridge.
func (w *dirFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn,
	out *fuse.DirEntryList) fuse.Status {

	if in.Fh != 0 {
		return w.RawFileSystem.ReadDir(cancel, in, out)
	}
	w.mu.Lock()
	d := w.dirs[in.NodeId]
	var rel string
	if d != nil {
		rel = d.rel
	}
	w.mu.Unlock()
	if d == nil {
		w.m.log.WithField("node", in.NodeId).Error("readdir: unknown directory, answering EIO")
		return fuse.EIO
	}
	list, errno := w.m.entries(rel)
	if errno != 0 {
		return fuse.Status(errno)
	}
	numbered(list, w.nameKey)

	epoch, after := in.Offset>>cookieKeyBits, in.Offset&cookieKeyMask
	if in.Offset == 0 {
		epoch = w.epochs.Add(1) % cookieEpochs
	}
	i, _ := slices.BinarySearchFunc(list, after, func(e fuse.DirEntry, k uint64) int {
		if e.Off <= k {
			return -1
		}
		return 1
	})
	if i == len(list) {
		w.dropCache(in.NodeId)
		return fuse.OK
	}
	for _, e := range list[i:] {
		e.Off |= epoch << cookieKeyBits
		if !out.AddDirEntry(e) {
			break
		}
	}
	return fuse.OK
}

// dropCache drops the kernel's cached listing of directory nodeID before
// the reply that would mark it complete.
func (w *dirFS) dropCache(nodeID uint64) {
	st := w.srv.InodeNotify(nodeID, 0, 0)
	if !st.Ok() && st != fuse.ENOENT {
		w.m.log.WithField("node", nodeID).WithField("status", st.String()).
			Warn("readdir: the kernel's listing cache could not be dropped")
	}
}

// numbered sorts list by key of each name, and gives each entry its
// offset without the epoch: its key, and its collision number among the
// names of that key, in name order.
func numbered(list []fuse.DirEntry, key func(string) uint64) {
	for i := range list {
		list[i].Off = key(list[i].Name)
	}
	slices.SortFunc(list, func(a, b fuse.DirEntry) int {
		return cmp.Or(cmp.Compare(a.Off, b.Off), cmp.Compare(a.Name, b.Name))
	})
	for i := 1; i < len(list); i++ {
		if prev := list[i-1].Off; prev&^cookieRunMask == list[i].Off &&
			prev&cookieRunMask < cookieRunMask {
			list[i].Off = prev + 1
		}
	}
}

// nameKey is the offset part of a directory entry before its collision
// number: a hash of its name (40 bits, keyed with this mount's seed, so
// that names colliding cannot be searched for offline), never 0 (offset
// 0 is the start of a listing).
func (w *dirFS) nameKey(name string) uint64 {
	if k := maphash.String(w.seed, name) & cookieKeyMask &^ cookieRunMask; k != 0 {
		return k
	}
	return 1 << cookieRunBits
}
