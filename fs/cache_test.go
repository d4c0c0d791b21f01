package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// openMnt opens p below the mount and closes it when the test ends.
func (e *env) openMnt(p string, flags int) int {
	e.t.Helper()
	fd, err := unix.Open(filepath.Join(e.mnt, p), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// statErr stats name below the directory open at dirfd ("" for dirfd
// itself) and returns the errno, 0 for success.
func statErr(dirfd int, name string) syscall.Errno {
	var st unix.Stat_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Fstatat(dirfd, name, &st, flags); err != nil {
		return err.(syscall.Errno)
	}
	return 0
}

// TestGroupsBehindTheBackAtOnce: names of groups are never cached (SPEC
// 6), so a group made or removed in the real hierarchy shows at the very
// next lookup, and a file whose name the kernel keeps (fileEntryTimeout)
// is gone at once with its group: the kernel asks for its attributes on
// every stat and open.
func TestGroupsBehindTheBackAtOnce(t *testing.T) {
	e := newEnv(t)
	y := filepath.Join(e.group, "y")
	if got := statErr(unix.AT_FDCWD, filepath.Join(e.mnt, "y")); got != unix.ENOENT {
		t.Fatalf("stat of a group not made yet: %v", got)
	}
	if err := os.Mkdir(y, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := statErr(unix.AT_FDCWD, filepath.Join(e.mnt, "y")); got != 0 {
		t.Fatalf("stat of a group just made behind the back: %v", got)
	}

	dir := e.openMnt("y", unix.O_RDONLY|unix.O_DIRECTORY)
	for _, f := range []string{"cgroup.procs", denyName, tasksName} {
		if got := statErr(dir, f); got != 0 {
			t.Fatalf("stat y/%s: %v", f, got)
		}
	}
	if err := os.Remove(y); err != nil {
		t.Fatal(err)
	}
	// At once, well within fileEntryTimeout: by path, and by the names
	// the kernel still holds below the open directory.
	if got := statErr(unix.AT_FDCWD, filepath.Join(e.mnt, "y")); got != unix.ENOENT {
		t.Fatalf("stat of a group just removed behind the back: %v", got)
	}
	for _, f := range []string{"cgroup.procs", denyName, tasksName} {
		if got := statErr(dir, f); got != unix.ENOENT {
			t.Errorf("stat y/%s after the group went: %v, want ENOENT", f, got)
		}
		if fd, err := unix.Openat(dir, f, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != unix.ENOENT {
			t.Errorf("open y/%s after the group went: %v, want ENOENT", f, err)
			unix.Close(fd)
		}
	}
	// The directory's own attributes are kept for dirAttrTimeout at most.
	time.Sleep(3 * dirAttrTimeout)
	if got := statErr(dir, ""); got != unix.ENOENT {
		t.Errorf("fstat of the open directory of a removed group: %v, want ENOENT", got)
	}
	// And once the file names expired, nothing is found either.
	time.Sleep(fileEntryTimeout + 200*time.Millisecond)
	if got := statErr(dir, "cgroup.procs"); got != unix.ENOENT {
		t.Errorf("stat y/cgroup.procs %v later: %v, want ENOENT", fileEntryTimeout, got)
	}
}

// TestOwnersBehindTheBack: a chown of the real group directory (a
// delegation made outside the mount) shows at once to every path, on the
// group and on its control files, and within dirAttrTimeout to a
// descriptor opened before.
func TestOwnersBehindTheBack(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	dir := e.openMnt("g", unix.O_RDONLY|unix.O_DIRECTORY)
	e.shOK(`stat $M/g/syscalls.deny $M/g/cgroup.procs >/dev/null`)
	for _, p := range []string{"g", "g/cgroup.procs"} {
		if err := os.Chown(filepath.Join(e.group, p), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	got := e.shOK(`stat -c '%n %u' $M/g $M/g/syscalls.deny $M/g/cgroup.procs`)
	want := fmt.Sprintf("%[1]s/g 65534\n%[1]s/g/syscalls.deny 65534\n"+
		"%[1]s/g/cgroup.procs 65534\n", e.mnt)
	if got != want {
		t.Errorf("owners right after the chown:\n%s\nwant\n%s", got, want)
	}
	time.Sleep(3 * dirAttrTimeout)
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil || st.Uid != 65534 {
		t.Errorf("fstat of a descriptor opened before the chown: uid %d, %v; want 65534",
			st.Uid, err)
	}
}

// liveNodes lists the paths of the nodes below root that go-fuse keeps.
func liveNodes(root *gofs.Inode) []string {
	var out []string
	var walk func(n *gofs.Inode, p string)
	walk = func(n *gofs.Inode, p string) {
		for name, c := range n.Children() {
			out = append(out, p+name)
			if c.IsDir() {
				walk(c, p+name+"/")
			}
		}
	}
	walk(root, "")
	slices.Sort(out)
	return out
}

// sweepNow runs a sweep of m's nodes once no other sweep runs.
func sweepNow(m *mirror) {
	for !m.sweeping.CompareAndSwap(false, true) {
		time.Sleep(time.Millisecond)
	}
	m.sweep()
}

// TestPruneForgets: after many lookups the mirror asks the kernel to drop
// what it does not use; the kernel's FORGETs free the nodes, except those
// of an open file, an open directory and the groups above them, and all of
// it keeps working: the same inode numbers, the open file reads and
// writes. Without FUSE_NOTIFY_PRUNE only the files go.
func TestPruneForgets(t *testing.T) {
	for _, inval := range []bool{false, true} {
		t.Run(map[bool]string{false: "prune", true: "inval"}[inval], func(t *testing.T) {
			e := newGroup(t)
			e.knobs = &testKnobs{pruneEvery: 50, inval: inval, swept: make(chan struct{}, 1)}
			e.mount(t.TempDir(), e.group, nil)
			m := e.knobs.m
			if !inval && !m.srv.Load().KernelSettings().SupportsNotify(fuse.NOTIFY_PRUNE) {
				t.Skip("the kernel lacks FUSE_NOTIFY_PRUNE (Linux 6.16, FUSE 7.45)")
			}
			var groups []string
			for i := 0; i < 10; i++ {
				groups = append(groups, fmt.Sprintf("g%d", i))
				if err := os.Mkdir(filepath.Join(e.group, groups[i]), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			file := e.openMnt("g0/"+denyName, unix.O_RDWR)
			dir := e.openMnt("g1", unix.O_RDONLY|unix.O_DIRECTORY)
			var before syscall.Stat_t
			if err := syscall.Stat(filepath.Join(e.mnt, "g3", denyName), &before); err != nil {
				t.Fatal(err)
			}
			// Every file of every group, looked up: some 200 new nodes.
			real, err := os.ReadDir(filepath.Join(e.group, "g0"))
			if err != nil {
				t.Fatal(err)
			}
			out := e.shOK(`ls -l $M/g* | grep -c '^-'`)
			if n := strings.TrimSpace(out); n != fmt.Sprint(10*(len(real)+len(ctlKinds))) {
				t.Fatalf("ls -l listed %s files, want %d", n, 10*(len(real)+len(ctlKinds)))
			}
			select {
			case <-e.knobs.swept:
			case <-time.After(5 * time.Second):
				t.Fatal("no sweep after 200 lookups")
			}
			sweepNow(m)

			want := []string{"g0", "g0/" + denyName, "g1"}
			if inval {
				want = append(slices.Clone(groups), "g0/"+denyName)
				slices.Sort(want)
			}
			var got []string
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
				if got = liveNodes(m.root); slices.Equal(got, want) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("nodes after the sweep: %q, want %q", got, want)
			}

			if _, err := unix.Write(file, []byte("59\n")); err != nil {
				t.Fatalf("write on a file open across the sweep: %v", err)
			}
			buf := make([]byte, 64)
			if n, err := unix.Pread(file, buf, 0); err != nil || string(buf[:n]) != "59 \n" {
				t.Fatalf("read on a file open across the sweep: %q, %v", buf[:n], err)
			}
			if got := statErr(dir, "cgroup.procs"); got != 0 {
				t.Fatalf("stat below a directory open across the sweep: %v", got)
			}
			e.want("g0/"+denyName, "59 \n")
			var after syscall.Stat_t
			if err := syscall.Stat(filepath.Join(e.mnt, "g3", denyName), &after); err != nil {
				t.Fatal(err)
			}
			if after.Ino != before.Ino {
				t.Fatalf("inode number of g3/%s %d before the sweep, %d after",
					denyName, before.Ino, after.Ino)
			}
		})
	}
}
