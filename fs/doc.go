// Package fs is the FUSE side of cgsyscall: a tree of go-fuse nodes that
// mirrors one real cgroup directory and adds the syscalls controller's
// control files to every group (SPEC sections 1, 3, 4, 6 and 9). The
// directory lies on cgroup2 or in a cgroup v1 hierarchy; on v1 the
// group's real tasks file (one thread a write) is replaced by ours (whole
// processes), and there is no cgroup.threads.
//
// What the mount shows:
//   - Every real directory of the mirrored subtree, looked up afresh on each
//     LOOKUP and READDIR, so groups made or removed outside the mount appear
//     and vanish at once: the kernel caches no negative entry and no name of
//     a group. It keeps a group's attributes for 10 ms (dirAttrTimeout) and
//     the name of a file for a second (fileEntryTimeout), never a file's
//     attributes; mount.go says why. READDIRPLUS is off, and where the
//     kernel allows it OPENDIR is too: each READDIR lists the real
//     directory afresh (nodir.go).
//   - The real files of each group, passing through to the kernel: modes,
//     owners, reads, writes and errors are the kernel's. Writes to
//     cgroup.procs and cgroup.threads are the exception: they take the
//     path of tasks, so the mirror offers no way around enforcement.
//   - In every directory, syscalls.deny, syscalls.allow and tasks (mode
//     0644, owned like the group directory), and the read-only
//     syscalls.stat (mode 0444; an open for writing gets EACCES, as kernfs
//     answers for a file without a write method), whose content comes from
//     [Options.Counts]. They report size 0 and are opened with
//     FOPEN_DIRECT_IO; each open handle reads from one snapshot, taken at
//     the first read and again whenever a read starts at offset 0.
//
// Inode numbers are stable: a real file or directory keeps the kernel's
// inode number, and a control file gets 1<<63 | dirIno<<3 | slot. The
// generation of every node is a hash of its path, so a number that the
// kernel hands to a new group elsewhere never aliases an old node.
//
// What the kernel's cgroupfs refuses is refused with its errno, measured
// on Linux 6.18: creating a regular file EACCES; mknod, symlink, link and
// every rename EPERM; unlinking a file EPERM (a directory EISDIR). Control
// files accept truncation and time changes as no-ops; a chmod fails with
// EPERM and a chown succeeds only to the group directory's owner, whose
// uid and gid the control files always report.
//
// Limits, for now:
//   - One FUSE WRITE is one command. A single write(2) of the mount's
//     max_write (128 KiB) or more would reach the daemon in pieces, so a
//     piece that long fails with E2BIG; control-file text is far shorter.
//   - PIDs written to tasks are read in the daemon's PID namespace, not the
//     writer's (SPEC 4 asks for the writer's).
//   - Only root writes control files (EACCES for others); delegation and
//     the confinement rules of SPEC 5 are not applied yet.
//   - A directory listing is one snapshot per open directory handle; a
//     rewinddir on the same handle sees the old listing.
//   - The mount point inside the mirror is absent from the mount: lookup,
//     stat and rmdir say ENOENT, mkdir says EEXIST (the real one exists).
//
// Nodes: go-fuse keeps one for each name the kernel holds. The kernel lets
// go of names only under memory pressure, so after every few thousand new
// nodes the mirror asks it to drop those it does not use (prune.go).
//
// Hazards:
//   - The daemon must never resolve a path through its own mount: that
//     sends a request to itself, and while the request waits the daemon may
//     deadlock. The mirror is reached only through a directory descriptor
//     opened before mounting, every path below it with openat2 and
//     RESOLVE_BENEATH|RESOLVE_NO_XDEV, and a mount point inside the mirror
//     is hidden from its parent's listing and lookups.
//   - A test that writes "0" to tasks from its own process moves the test
//     binary, which serves the mount; write through a child (sh -c).
package fs
