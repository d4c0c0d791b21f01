package fs

import (
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Nodes the kernel no longer needs.
//
// go-fuse keeps a node for every name the kernel has looked up, until the
// kernel sends FORGET. The kernel sends FORGET when it drops its inode,
// and on a FUSE mount (virtiofs aside) it keeps a dentry whose timeout ran
// out as long as memory is plentiful: every group and file ever looked up
// would keep a node, 20-odd a group after a find -ls or a grep -r.
// Such dentries are worth nothing: the name of a group is asked for again
// at every use anyway, and that of a file a second later. So after every
// pruneEvery new nodes the mirror asks the kernel to drop the inodes it
// does not use (FUSE_NOTIFY_PRUNE, Linux 6.16 and later, protocol 7.45),
// deepest first, so that a group whose files went can go too. The kernel
// keeps whatever is in use (an open file, a working directory and the
// groups above them) and sends FORGET for the rest, which frees the nodes.
// A kernel without FUSE_NOTIFY_PRUNE gets an entry invalidation for each
// file instead (directories stay: invalidating one that is a working
// directory would cut it off from its path).

// pruneEvery is how many new nodes make the mirror sweep.
const pruneEvery = 4096

// pruneBatch bounds the node IDs of one FUSE_NOTIFY_PRUNE.
const pruneBatch = 256

// pruner is the sweeping state of one mount.
type pruner struct {
	root     *gofs.Inode // the mount's root node
	srv      atomic.Pointer[fuse.Server]
	every    int64        // new nodes between sweeps; pruneEvery unless a test says
	made     atomic.Int64 // nodes made since the last sweep began
	sweeping atomic.Bool
	inval    bool          // invalidate entries even if the kernel could prune (tests)
	swept    chan struct{} // a sweep that ends sends on it if it can (tests)
}

// grew counts a new node and starts a sweep in the background once
// every nodes have been made since the last one, unless one is running.
func (p *pruner) grew() {
	if p.made.Add(1) < p.every || p.srv.Load() == nil {
		return
	}
	if !p.sweeping.CompareAndSwap(false, true) {
		return
	}
	p.made.Store(0)
	go p.sweep()
}

// sweep asks the kernel to drop every inode of the mount it does not use.
// It runs outside any request: a notification may wait for a directory
// lock that a request waiting for its reply holds.
func (p *pruner) sweep() {
	defer func() {
		p.sweeping.Store(false)
		select {
		case p.swept <- struct{}{}:
		default:
		}
	}()
	prune := !p.inval && p.srv.Load().KernelSettings().SupportsNotify(fuse.NOTIFY_PRUNE)
	var batch []*gofs.Inode
	// A name the kernel holds no dentry for is ENOENT, and nothing to
	// worry about; any other error (the mount went) ends the sweep.
	failed := false
	check := func(e syscall.Errno) {
		failed = failed || e != 0 && e != syscall.ENOENT
	}
	flush := func() {
		if len(batch) > 0 && !failed {
			check(p.root.NotifyPrune(batch))
		}
		batch = batch[:0]
	}
	var walk func(dir *gofs.Inode)
	walk = func(dir *gofs.Inode) {
		for name, c := range dir.Children() {
			if failed {
				return
			}
			switch {
			case c.IsDir():
				walk(c)
				if !prune {
					continue
				}
			case !prune:
				check(dir.NotifyEntry(name))
				continue
			}
			batch = append(batch, c)
			if len(batch) == pruneBatch {
				flush()
			}
		}
	}
	walk(p.root)
	flush()
}
