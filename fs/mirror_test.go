package fs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// names lists a directory of the mount.
func (e *env) names(p string) []string {
	e.t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.mnt, p))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

func TestListing(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	real, err := os.ReadDir(e.group)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{allowName, denyName, tasksName, statName}
	for _, d := range real {
		want = append(want, d.Name())
	}
	slices.Sort(want)
	if got := e.names(""); !slices.Equal(got, want) {
		t.Fatalf("listing %q, want %q", got, want)
	}
	// ls -l looks every entry up and stats it. Columns are compared with
	// single spaces: busybox's ls pads them wider than GNU's.
	out := e.shOK(`ls -la $M/g | tr -s ' '`)
	for _, f := range []string{"-rw-r--r-- 1 root root 0", " syscalls.deny\n", " tasks\n",
		"-r--r--r-- 1 root root 0 ", " syscalls.stat\n", " cgroup.procs\n", "--w------- 1 root root 0"} {
		if !strings.Contains(out, f) {
			t.Errorf("ls -la lacks %q:\n%s", f, out)
		}
	}
}

func TestGroupsMadeOutside(t *testing.T) {
	e := newEnv(t)
	x := filepath.Join(e.group, "x")
	if err := os.Mkdir(x, 0755); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e.names(""), "x") {
		t.Fatal("group made outside is not listed")
	}
	e.want("x/syscalls.deny", "\n")
	e.shOK(`echo 59 > $M/x/syscalls.deny`)
	if err := os.Remove(x); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e.names(""), "x") {
		t.Fatal("group removed outside is still listed")
	}
	if _, err := os.Stat(filepath.Join(e.mnt, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat of a removed group: %v", err)
	}
	// Made again outside: a new group, starting from its parent's set.
	if err := os.Mkdir(x, 0755); err != nil {
		t.Fatal(err)
	}
	e.want("x/syscalls.deny", "\n")
}

// TestGroupBelowRemadeAncestor: L is removed and made again outside the
// mount, with a child S; S is looked up through the old L's node (a shell
// whose working directory is there), then the mount sees the new L. S's
// files must work: the tree dropped S with the old L, and the mount, which
// had seen S, never took it in again (ENOENT for reads and writes of its
// policy files, helper-55).
func TestGroupBelowRemadeAncestor(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/L && echo 59 > $M/L/syscalls.deny`)
	out := e.shOK(`cd $M/L && rmdir $G/L && mkdir $G/L $G/L/S && cat S/syscalls.deny && cd / &&
		cat $M/L/syscalls.deny && cat $M/L/S/syscalls.deny && echo 59 > $M/L/S/syscalls.deny &&
		cat $M/L/S/syscalls.deny`)
	// S through the old L: a copy of the old L's set; then the new L and
	// the new S start afresh, and S takes the write.
	if want := "59 \n\n\n59 \n"; out != want {
		t.Errorf("the reads: %q, want %q", out, want)
	}
}

func TestPassthrough(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	for _, f := range []string{"cgroup.type", "cgroup.procs", "cgroup.controllers",
		"g/cgroup.type", "g/cgroup.events"} {
		want, err := os.ReadFile(filepath.Join(e.group, f))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.shOK(`cat $M/` + f); got != string(want) {
			t.Errorf("%s reads %q, the real file %q", f, got, want)
		}
		st := `stat -c '%i %a %u %g %s' `
		e.shOK(`test "$(` + st + `$M/` + f + `)" = "$(` + st + `$G/` + f + `)"`)
	}
	// A read at an offset, then a write and the kernel's own error.
	if got := e.shOK(`dd if=$M/g/cgroup.type bs=1 skip=2 status=none`); got != "main\n" {
		t.Errorf("cgroup.type from offset 2: %q", got)
	}
	e.shOK(`echo threaded > $M/g/cgroup.type`)
	if b, _ := os.ReadFile(filepath.Join(e.group, "g/cgroup.type")); string(b) != "threaded\n" {
		t.Errorf("real cgroup.type after the write: %q", b)
	}
	e.shFails(`/bin/echo bogus > $M/g/cgroup.type`, 1, "Invalid argument")
	// Root passes the mode check, as on cgroupfs; the kernel then refuses.
	e.shFails(`/bin/echo x > $M/g/cgroup.controllers`, 1, "Invalid argument")

	// Modes and owners change on the real files.
	e.shOK(`chmod 0664 $M/g/cgroup.procs && chown 65534 $M/g`)
	e.shOK(`test "$(stat -c '%a' $G/g/cgroup.procs)" = 664`)
	e.shOK(`test "$(stat -c '%u' $G/g)" = 65534`)
	// The control files follow the group directory's owner.
	e.shOK(`test "$(stat -c '%u %a' $M/g/tasks)" = "65534 644"`)
	e.shOK(`chown 65534 $M/g/tasks && touch $M/g/tasks`)
	e.shFails(`chown 0 $M/g/tasks`, 1, "Operation not permitted")
	e.shFails(`chmod 0600 $M/g/tasks`, 1, "Operation not permitted")

	// Extended attributes pass through.
	if err := unix.Setxattr(filepath.Join(e.mnt, "g"), "user.k", []byte("v"), 0); err != nil {
		t.Fatalf("setxattr through the mount: %v", err)
	}
	v, err := unix.Getxattr(filepath.Join(e.group, "g"), "user.k", make([]byte, 8))
	if err != nil || v != 1 {
		t.Errorf("real xattr: %d %v", v, err)
	}
	// But not the daemon's own: its saved policy and counts.
	for _, attr := range []string{"trusted.cgsyscall.deny", "trusted.cgsyscall.stat"} {
		if err := unix.Setxattr(filepath.Join(e.mnt, "g"), attr, []byte("\n"), 0); err !=
			unix.EPERM {
			t.Errorf("setxattr %s through the mount: %v, want EPERM", attr, err)
		}
		if err := unix.Removexattr(filepath.Join(e.mnt, "g"), attr); err != unix.EPERM {
			t.Errorf("removexattr %s through the mount: %v, want EPERM", attr, err)
		}
	}
}

func TestRefusedLikeCgroupfs(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g $M/h`)
	p := func(s string) string { return filepath.Join(e.mnt, s) }
	checks := []struct {
		what string
		err  error
		want syscall.Errno
	}{
		{"creat", touch(p("g/new")), syscall.EACCES},
		{"O_CREAT|O_EXCL existing", create(p("g/tasks"), unix.O_EXCL), syscall.EEXIST},
		{"unlink control file", unix.Unlink(p("g/syscalls.deny")), syscall.EPERM},
		{"unlink real file", unix.Unlink(p("g/cgroup.procs")), syscall.EPERM},
		{"unlink group", unix.Unlink(p("g")), syscall.EISDIR},
		{"unlink nothing", unix.Unlink(p("g/nope")), syscall.ENOENT},
		{"rename group", unix.Rename(p("g"), p("g2")), syscall.EPERM},
		{"rename across", unix.Rename(p("g"), p("h/g")), syscall.EPERM},
		{"rename control file", unix.Rename(p("g/tasks"), p("g/t2")), syscall.EPERM},
		{"rename nothing", unix.Rename(p("nope"), p("nope2")), syscall.ENOENT},
		{"mknod", unix.Mknod(p("g/fifo"), unix.S_IFIFO|0600, 0), syscall.EPERM},
		{"symlink", unix.Symlink("x", p("g/sl")), syscall.EPERM},
		{"link", unix.Link(p("g/tasks"), p("g/hl")), syscall.EPERM},
		{"mkdir existing", unix.Mkdir(p("g"), 0755), syscall.EEXIST},
		{"mkdir over control file", unix.Mkdir(p("g/tasks"), 0755), syscall.EEXIST},
		{"rmdir control file", unix.Rmdir(p("g/tasks")), syscall.ENOTDIR},
		{"rmdir real file", unix.Rmdir(p("g/cgroup.procs")), syscall.ENOTDIR},
		{"rmdir nothing", unix.Rmdir(p("nope")), syscall.ENOENT},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.err, c.want)
		}
	}
	e.shFails(`touch $M/g/new`, 1, "Permission denied")
	e.shFails(`rm -f $M/g/syscalls.deny`, 1, "Operation not permitted")
	e.shFails(`mv $M/g $M/g2`, 1, "Operation not permitted")
}

func touch(p string) error { return create(p, 0) }

func create(p string, extra int) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|extra, 0644)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func TestStableInodes(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g $M/h`)
	ino := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	seen := map[uint64]string{}
	for _, f := range []string{"", "g", "g/cgroup.procs", "g/syscalls.deny", "g/syscalls.allow",
		"g/tasks", "h/syscalls.deny", "syscalls.deny"} {
		a := ino(filepath.Join(e.mnt, f))
		if b := ino(filepath.Join(e.mnt, f)); a != b {
			t.Errorf("%s: inode %d, then %d", f, a, b)
		}
		if o, dup := seen[a]; dup {
			t.Errorf("%s and %s share inode %d", f, o, a)
		}
		seen[a] = f
		if !strings.Contains(f, "syscalls.") && f != "g/tasks" {
			if r := ino(filepath.Join(e.group, f)); r != a {
				t.Errorf("%s: inode %d, the real one %d", f, a, r)
			}
		}
	}
	// readdir and lookup agree.
	out := e.shOK(`ls -i $M/g | grep -w tasks; stat -c %i $M/g/tasks`)
	f := strings.Fields(out)
	if len(f) != 3 || f[0] != f[2] {
		t.Errorf("ls -i and stat disagree: %q", out)
	}
}

func TestMountInsideMirror(t *testing.T) {
	e := newGroup(t)
	mnt := filepath.Join(e.group, "syscalls")
	if err := os.Mkdir(mnt, 0755); err != nil {
		t.Fatal(err)
	}
	e.mount(mnt, e.group, nil)

	names := e.names("")
	if slices.Contains(names, "syscalls") {
		t.Fatalf("the mount point shows in its own mirror: %q", names)
	}
	e.shOK(`test ! -e $M/syscalls`)
	e.shFails(`mkdir $M/syscalls`, 1, "File exists")
	e.shFails(`rmdir $M/syscalls`, 1, "No such file or directory")
	e.shOK(`mkdir -p $M/a/b && echo 59 > $M/a/syscalls.deny`)
	// A walk of the whole tree ends, and never enters the mount again.
	done := make(chan string, 1)
	go func() { out, _, _ := e.sh(`find $M | wc -l; ls -R $M > /dev/null; echo ok`); done <- out }()
	select {
	case out := <-done:
		if !strings.HasSuffix(out, "ok\n") {
			t.Fatalf("walk: %q", out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("walking the mount inside its mirror hangs")
	}
	e.want("a/b/syscalls.deny", "59 \n")
	if _, ok := e.tree.Denied("syscalls"); ok {
		t.Error("the mount point became a group of the tree")
	}
}

func TestMountOptions(t *testing.T) {
	e := newEnv(t)
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(string(b)) {
		if f := strings.Fields(l); len(f) > 4 && f[4] == e.mnt {
			line = l
		}
	}
	// The source column names the mirror, as an fstab line does.
	wants := []string{" - fuse.cgsyscall " + e.group + " ", "allow_other", "default_permissions"}
	for _, want := range wants {
		if !strings.Contains(line, want) {
			t.Errorf("mountinfo line lacks %q: %s", want, line)
		}
	}
}

func TestUnmount(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && cat $M/g/syscalls.deny > /dev/null`)
	done := make(chan struct{})
	go func() { e.srv.Wait(); close(done) }()
	e.shOK(`umount $M`)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still runs after umount")
	}
	if mounted(e.mnt) {
		t.Fatal("still mounted")
	}
	// The real groups stay.
	if _, err := os.Stat(filepath.Join(e.group, "g")); err != nil {
		t.Fatal(err)
	}
}

func TestMountRefusesNonCgroup(t *testing.T) {
	requireRoot(t)
	_, err := Mount(t.TempDir(), Options{Mirror: t.TempDir(), Tree: nil})
	if err == nil {
		t.Fatal("mount without a tree succeeded")
	}
	e := newGroup(t)
	_, err = Mount(t.TempDir(), Options{Mirror: os.TempDir(), Tree: newTreeFor(e), Arch: e.arch})
	if err == nil || !strings.Contains(err.Error(), "not a cgroup v2 directory") {
		t.Fatalf("mirror of /tmp: %v", err)
	}
	for _, mnt := range []string{e.group, filepath.Dir(e.group)} {
		_, err = Mount(mnt, Options{Mirror: e.group, Tree: newTreeFor(e), Arch: e.arch})
		if err == nil || !strings.Contains(err.Error(), "covers the mirror") {
			t.Fatalf("mount on %s of mirror %s: %v", mnt, e.group, err)
		}
	}
}
