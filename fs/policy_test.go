package fs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/policy"
)

// allowExcept is what syscalls.allow reads when D is denied.
func (e *env) allowExcept(denied ...int) string {
	return string(policy.Format(policy.Full(e.arch).Minus(policy.NewSet(denied...))))
}

func TestDenyAndRead(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	e.want("g/syscalls.deny", "\n")
	e.want("g/syscalls.allow", e.allowExcept())

	e.shOK(`echo 59 > $M/g/syscalls.deny`)
	e.want("g/syscalls.deny", "59 \n")
	e.want("g/syscalls.allow", e.allowExcept(59))
	e.want("syscalls.deny", "\n")

	// Several tokens, names, hex, octal, ranges, in any order.
	e.shOK(`printf '0x3e,073 10-12\n\tptrace' > $M/g/syscalls.deny`)
	ptrace := e.nr("ptrace")
	want := policy.Format(policy.NewSet(10, 11, 12, 59, 62, ptrace))
	e.want("g/syscalls.deny", string(want))
}

func TestAllow(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 59 62 > $M/g/syscalls.deny`)
	e.shOK(`echo 59 > $M/g/syscalls.allow`)
	e.want("g/syscalls.deny", "62 \n")
	e.want("g/syscalls.allow", e.allowExcept(62))
}

// TestAllowUringRefused: an allow of an io_uring call in a group that goes
// on denying anything else is refused (EPERM) and changes nothing: those
// calls stay denied there whatever the set says. Where the allow leaves
// the group denying nothing, it goes through.
func TestAllowUringRefused(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo uname > $M/g/syscalls.deny`)
	err := os.WriteFile(filepath.Join(e.mnt, "g/syscalls.allow"), []byte("io_uring_setup"), 0)
	if !errors.Is(err, syscall.EPERM) {
		t.Errorf("allow of io_uring_setup while g denies uname: %v, want EPERM", err)
	}
	uname, _ := e.arch.Native.SyscallNumber("uname")
	e.want("g/syscalls.deny", strconv.Itoa(uname)+" \n")
	e.shOK(`echo uname io_uring_setup > $M/g/syscalls.allow`)
	e.want("g/syscalls.deny", "\n")
}

func TestAllowRefusedByParent(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 59 > $M/g/syscalls.deny && mkdir $M/g/c`)
	e.shFails(`/bin/echo 59 > $M/g/c/syscalls.allow`, 1, "Operation not permitted")
	e.want("g/c/syscalls.deny", "59 \n")

	err := os.WriteFile(filepath.Join(e.mnt, "g/c/syscalls.allow"), []byte("59"), 0)
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("allow denied by parent: %v, want EPERM", err)
	}
	// At the root, allowing always succeeds.
	e.shOK(`echo 59 > $M/syscalls.deny && echo 59 > $M/syscalls.allow`)
	e.want("syscalls.deny", "\n")
}

func TestDenyPushedAllowNot(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir -p $M/a/b/c`)
	e.shOK(`echo 59 > $M/a/syscalls.deny`)
	for _, g := range []string{"a", "a/b", "a/b/c"} {
		e.want(g+"/syscalls.deny", "59 \n")
	}
	e.want("syscalls.deny", "\n")

	e.shOK(`echo 59 > $M/syscalls.deny && echo 59 > $M/syscalls.allow`)
	e.shOK(`echo 59 > $M/a/syscalls.allow`)
	e.want("a/syscalls.deny", "\n")
	e.want("a/b/syscalls.deny", "59 \n")
	e.want("a/b/c/syscalls.deny", "59 \n")
}

func TestNewGroupCopiesParent(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/a && echo 59 101 > $M/a/syscalls.deny && mkdir $M/a/b`)
	e.want("a/b/syscalls.deny", "59 101 \n")
	// Made outside the mount, seen for the first time: the same.
	if err := os.Mkdir(filepath.Join(e.group, "a/x"), 0755); err != nil {
		t.Fatal(err)
	}
	e.want("a/x/syscalls.deny", "59 101 \n")
}

func TestWriteErrors(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 59 > $M/g/syscalls.deny`)
	over := strconv.Itoa(e.arch.Native.NRMax + 1)
	cases := []struct {
		file, data string
		errno      syscall.Errno
		msg        string
	}{
		{"syscalls.deny", "junk", syscall.EINVAL, "Invalid argument"},
		{"syscalls.deny", "62 junk", syscall.EINVAL, "Invalid argument"},
		{"syscalls.allow", "nosuchcall", syscall.EINVAL, "Invalid argument"},
		{"syscalls.deny", over, syscall.ERANGE, "Numerical result out of range"},
		{"syscalls.deny", "62 " + over, syscall.ERANGE, "Numerical result out of range"},
		{"syscalls.allow", "-1", syscall.ERANGE, "Numerical result out of range"},
		{"syscalls.deny", "rt_sigreturn", syscall.EPERM, "Operation not permitted"},
	}
	for _, c := range cases {
		p := filepath.Join(e.mnt, "g", c.file)
		e.shFails("/bin/echo '"+c.data+"' > "+p, 1, c.msg)
		if err := os.WriteFile(p, []byte(c.data), 0); !errors.Is(err, c.errno) {
			t.Errorf("write %q to %s: %v, want %v", c.data, c.file, err, c.errno)
		}
	}
	// All or nothing: 62 of "62 junk" was not denied.
	e.want("g/syscalls.deny", "59 \n")

	// Empty writes and white space succeed and change nothing.
	e.shOK(`printf '' > $M/g/syscalls.deny && printf ' \n\t' > $M/g/syscalls.allow`)
	e.shOK(`echo > $M/g/syscalls.deny`)
	e.want("g/syscalls.deny", "59 \n")
}

func TestTruncAppendAndCopy(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/a $M/b`)
	// > opens with O_TRUNC, >> with O_APPEND; neither clears anything.
	e.shOK(`echo 59 > $M/a/syscalls.deny && echo 62 >> $M/a/syscalls.deny`)
	e.shOK(`echo 61 > $M/a/syscalls.deny`)
	e.want("a/syscalls.deny", "59 61 62 \n")

	e.shOK(`echo 1 > $M/b/syscalls.deny`)
	e.shOK(`cat $M/a/syscalls.deny > $M/b/syscalls.deny`)
	e.want("b/syscalls.deny", "1 59 61 62 \n")

	// A program that truncates explicitly.
	e.shOK(`truncate -s 0 $M/a/syscalls.deny`)
	e.want("a/syscalls.deny", "59 61 62 \n")
}

func TestReaders(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 1-40 > $M/g/syscalls.deny`)
	full := e.read("g/syscalls.deny")
	if !strings.HasPrefix(full, "1 2 3 ") || !strings.HasSuffix(full, " 40 \n") {
		t.Fatalf("deny reads %q", full)
	}
	if got := e.shOK(`head -c 6 $M/g/syscalls.deny`); got != "1 2 3 " {
		t.Errorf("head -c 6: %q", got)
	}
	if got := e.shOK(`wc -l < $M/g/syscalls.deny`); got != "1\n" {
		t.Errorf("wc -l: %q", got)
	}
	d, _ := e.tree.Denied("g")
	denied := d.Numbers()
	allow := e.allowExcept(denied...)
	if got := e.shOK(`wc -c < $M/g/syscalls.allow`); got != strconv.Itoa(len(allow))+"\n" {
		t.Errorf("wc -c of allow: %q, want %d", got, len(allow))
	}
	// One byte at a time: the pieces make up the whole line.
	if got := e.shOK(`dd if=$M/g/syscalls.deny bs=1 status=none`); got != full {
		t.Errorf("dd bs=1: %q, want %q", got, full)
	}
	// cp checks that the inode stays the same while it copies.
	dst := filepath.Join(t.TempDir(), "copy")
	e.shOK(`cp $M/g/syscalls.deny ` + dst + ` && cp $M/g/syscalls.allow ` + dst + `.allow`)
	if b, _ := os.ReadFile(dst); string(b) != full {
		t.Errorf("cp copied %q", b)
	}

	f, err := os.Open(filepath.Join(e.mnt, "g/syscalls.deny"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 5)
	n, err := f.ReadAt(buf, 2)
	if err != nil || string(buf[:n]) != full[2:7] {
		t.Fatalf("pread at 2: %q %v, want %q", buf[:n], err, full[2:7])
	}
	// Kept open across a write: a read from the start sees the write.
	e.shOK(`echo 100 > $M/g/syscalls.deny`)
	buf = make([]byte, 4096)
	n, _ = f.ReadAt(buf, 0)
	if got := string(buf[:n]); !strings.HasSuffix(got, " 40 100 \n") {
		t.Fatalf("open file after a write reads %q", got)
	}
}

func TestDelegatedGroupOnly(t *testing.T) {
	e := newGroup(t)
	mnt := t.TempDir()
	// Let others walk to the mount point and into the mirror's root.
	for _, d := range []string{filepath.Dir(mnt), e.group} {
		if err := os.Chmod(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
	e.mount(mnt, e.group, nil)
	e.shOK(`mkdir $M/g $M/other`)
	// Delegate g (chown of the real directory): its owner may write its
	// control files; nobody may write those of other groups.
	if err := os.Chown(filepath.Join(e.group, "g"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	e.shOK(`stat -c '%u %a' $M/g/syscalls.deny | grep -qx '65534 644'`)
	as := `setpriv --reuid=65534 --regid=65534 --clear-groups `
	e.shOK(as + `/bin/sh -c "/bin/echo 59 > $M/g/syscalls.deny"`)
	e.want("g/syscalls.deny", "59 \n")
	e.shFails(as+`/bin/sh -c "/bin/echo 60 > $M/other/syscalls.deny"`, 2, "Permission denied")
	e.shFails(as+`/bin/sh -c "/bin/echo 61 > $M/syscalls.deny"`, 2, "Permission denied")
	e.shFails(as+`/bin/sh -c "/bin/echo 0 > $M/other/tasks"`, 2, "Permission denied")
	// The real cgroup.procs of g still belongs to root, as the kernel's
	// delegation wants it chowned too.
	e.shFails(as+`/bin/sh -c "/bin/echo 0 > $M/g/cgroup.procs"`, 2, "Permission denied")
	if got := e.shOK(as + `cat $M/other/syscalls.deny`); got != "\n" {
		t.Errorf("nobody reads %q", got)
	}
	e.want("other/syscalls.deny", "\n")

	// A group made by its delegate belongs to it, files and all, as on
	// cgroupfs.
	e.shOK(as + `mkdir $M/g/sub`)
	e.shOK(`test "$(stat -c %u:%g $G/g/sub $G/g/sub/cgroup.procs | sort -u)" = 65534:65534`)
	e.shOK(`test "$(stat -c %u $M/g/sub/tasks)" = 65534`)
}

// TestLongWriteRefused: one write(2) of 128 KiB or more reaches the
// daemon cut in pieces of the mount's max_write, where a piece may end
// inside a number; it is refused whole with E2BIG and changes nothing.
// Before, 131,071 spaces then "63" from a page-aligned buffer denied 3
// and 6 (two pieces, each parsed on its own) and reported success
// (helper-59). One byte shorter is one piece, taken as usual.
func TestLongWriteRefused(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 59 > $M/g/syscalls.deny`)
	buf, err := unix.Mmap(-1, 0, 2*maxWrite, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	off, at := 0, -1             // where text starts in buf, and "63" in text (-1: at its end)
	text := func(n int) []byte { // n bytes: spaces, "63" at at, a newline
		for i := range n - 1 {
			buf[off+i] = ' '
		}
		buf[off+n-1] = '\n'
		if at < 0 {
			copy(buf[off+n-3:], "63")
		} else {
			copy(buf[off+at:], "63")
		}
		return buf[off : off+n]
	}
	write := func(file string, data []byte) (int, error) {
		fd, err := unix.Open(filepath.Join(e.mnt, "g", file), unix.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		return unix.Write(fd, data)
	}
	for _, file := range []string{"syscalls.deny", "syscalls.allow", "tasks"} {
		for _, n := range []int{maxWrite + 2, maxWrite} {
			if got, err := write(file, text(n)); err != unix.E2BIG {
				t.Errorf("one write of %d bytes to %s: %d, %v; want E2BIG", n, file, got, err)
			}
		}
	}
	e.want("g/syscalls.deny", "59 \n")
	if got, err := write("syscalls.deny", text(maxWrite-1)); got != maxWrite-1 || err != nil {
		t.Errorf("one write of %d bytes to syscalls.deny: %d, %v; want all of it", maxWrite-1,
			got, err)
	}
	e.want("g/syscalls.deny", "59 63 \n")

	// From a buffer that starts one byte before a page ends, the same
	// lengths span a page more: one piece all the same (helper-60: 127,000
	// bytes were cut in two, and 3 and 6 denied), and refused whole above.
	off = os.Getpagesize() - 1
	e.shOK(`echo 63 > $M/g/syscalls.allow`)
	for _, n := range []int{maxWrite + 2, maxWrite} {
		if got, err := write("syscalls.deny", text(n)); err != unix.E2BIG {
			t.Errorf("one write of %d bytes at page offset %d: %d, %v; want E2BIG", n, off,
				got, err)
		}
	}
	at = 32*os.Getpagesize() - off - 1 // "6" ends the 32nd page, "3" starts the 33rd
	for _, n := range []int{127000, maxWrite - 1} {
		e.shOK(`echo 63 > $M/g/syscalls.allow`)
		if got, err := write("syscalls.deny", text(n)); got != n || err != nil {
			t.Errorf("one write of %d bytes at page offset %d: %d, %v; want all of it", n, off,
				got, err)
		}
		e.want("g/syscalls.deny", "59 63 \n")
	}
}
