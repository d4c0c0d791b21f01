// Adversary's tests: each one demonstrates a bug found on purpose, and
// fails until it is fixed.
package cgsyscall_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// advColliding are two group names whose listing offsets collide: FNV-1a
// of each, masked to 47 bits (nodir.go's nameKey), is 14222951329113.
// Found by a birthday search over 2^25 random names.
var advColliding = []string{"nauo70gwqjxbhq4", "nv7dhuju7lr145b"}

// TestAdvListingHashCollision (fixed: offsets now carry a collision number,
// and the hash is keyed per mount; TestNumberedCollisions in fs forces
// a collision): a READDIR at an offset continued with the
// entries whose hash is higher, so of two names with the same hash, the
// one sorted second was lost whenever a getdents call ended after the
// first. A reader whose buffer holds one entry at a time showed it; ls and
// find lost it too when the pair straddled the kernel's READDIR reply
// (about 1000 entries with a lower hash before them were enough here).
// SPEC 6: every directory of the mirrored subtree appears.
func TestAdvListingHashCollision(t *testing.T) {
	m := newMirror(t)
	for _, n := range advColliding {
		if err := os.Mkdir(filepath.Join(m.base, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(m.mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 64) // one dirent of a 15-byte name a call
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			t.Fatalf("getdents: %v", err)
		}
		if n == 0 {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			reclen := int(b[16]) | int(b[17])<<8
			name := b[19:reclen]
			names = append(names, string(name[:bytes.IndexByte(name, 0)]))
			b = b[reclen:]
		}
	}
	for _, n := range advColliding {
		if !slices.Contains(names, n) {
			t.Errorf("listing of the mount lacks group %s (listed: %q)", n, names)
		}
	}
}

// TestAdvBehindTheBackNewGroup: a group made behind the mount's back below
// a restricted group is unknown to the policy tree until something looks
// it up through the mount, so the scan never reads its members: a process
// written into its real cgroup.procs (or started there with clone3
// CLONE_INTO_CGROUP) keeps making denied calls. README: such a process
// is held by a scan within 1 second.
func TestAdvBehindTheBackNewGroup(t *testing.T) {
	m := liveMirror(t)
	s := startServing(t, m.base)
	denyGetppid(m, "g")
	if err := os.Mkdir(filepath.Join(m.base, "g", "bb"), 0o755); err != nil {
		t.Fatal(err)
	}
	heldBehindTheBack(m, s, "g/bb")
}

// advCounts parses the "key=N key=N ..." line of testdata/adv.
func advCounts(t *testing.T, out string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, f := range strings.Fields(out) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("adv printed %q", out)
		}
		got[k] = n
	}
	return got
}

// TestAdvGuardPidfdSwap (finding 1): the guard judges pidfd_send_signal
// by what the descriptor number names when the daemon looks
// (/proc/TID/fd/N), but the kernel resolves the number again when the
// call runs after CONTINUE. A second thread of the held process that
// flips descriptor 100 between /dev/null and an open /proc/DAEMON
// directory (openat and dup3 run in the kernel, unasked) gets calls aimed
// at the daemon through: 645 and 3,848 of 20,000 returned 0 in two runs
// here (signal 0: the permission check; SIGSTOP or SIGKILL pass the same
// way; pidfd_getfd, which would copy a listener out of the daemon, is
// refused whatever it names since helper-79). It takes
// a member that may signal the daemon (root, as the daemon).
// At fault: enforce/hold/guard.go, guard.aimed (byPidfd) and pidOfFd; not
// fixed: user notification cannot check a descriptor and run the call
// atomically, so this stays a documented limitation (docs/LIMITATIONS.md) and the test
// runs only with CGSYSCALL_KNOWN_FAILURES=1, where it fails.
func TestAdvGuardPidfdSwap(t *testing.T) {
	if os.Getenv("CGSYSCALL_KNOWN_FAILURES") != "1" {
		t.Skip("finding 1 is a known failure, not fixed (docs/LIMITATIONS.md); " +
			"CGSYSCALL_KNOWN_FAILURES=1 runs it")
	}
	prog := cProgram(t, "adv")
	m := liveMirror(t)
	denyGetppid(m, "g")
	const calls = 20000
	out, errOut, status := run(t, "exec", "-m", m.mnt, "g", "--", prog, "pidfdrace",
		strconv.Itoa(daemonPID(t, m)), strconv.Itoa(calls))
	if status != 0 {
		t.Fatalf("adv pidfdrace: status %d, %s", status, errOut)
	}
	got := advCounts(t, out)
	if got["ok"] != 0 || got["other"] != 0 || got["enosys"]+got["ebadf"] != calls {
		t.Errorf("pidfd_send_signal(100, 0) while another thread swaps descriptor 100: "+
			"%d reached the daemon (0), %d refused by the guard (-38), %d on /dev/null "+
			"(EBADF), %d other; want 0 reaching it", got["ok"], got["enosys"], got["ebadf"],
			got["other"])
	}
}

// TestAdvZombieLeader (finding 4, fixed): a process whose main thread
// exits while its other threads run keeps a zombie leader that ptrace
// cannot seize and whose /proc memory files are empty. Moved into a group
// before that, it made every later deny of the group fail with EAGAIN
// ("members did not settle"), for good, and its threads kept making the
// denied call. Its live threads are held without the leader now, and the
// injection reads the process's memory through one of them.
func TestAdvZombieLeader(t *testing.T) {
	m, sub := zleaderLab(t)
	m.mustWrite("h/tasks", strconv.Itoa(sub.pid))
	leaveLeader(t, sub)
	if !denyZombieLed(m, sub) {
		return
	}
	if got := sub.ask(t, "getppid"); got != "-38" {
		t.Errorf("getppid after the deny = %s, want -38", got)
	}
	m.mustWrite("h/syscalls.allow", "getppid")
	if got, want := sub.ask(t, "getppid"), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("getppid after the allow = %s, want %s", got, want)
	}
}

// TestAdvZombieLeaderHidden (finding 3, fixed): a process whose main
// thread exited before the process entered a group is not listed in that
// group's cgroup.procs (its zombie leader stays in the group it left), only
// its threads in cgroup.threads: moved into a group that denied nothing
// and then denied getppid, it kept making the call. The holder finds such
// a process by its threads when it reads a group's members.
func TestAdvZombieLeaderHidden(t *testing.T) {
	m, sub := zleaderLab(t)
	leaveLeader(t, sub)
	m.mustWrite("h/tasks", strconv.Itoa(sub.pid))
	procs, err := os.ReadFile(filepath.Join(m.base, "h", "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bytes.TrimSpace(procs)) != 0 {
		t.Logf("h/cgroup.procs lists %q: this kernel lists such a process after all", procs)
	}
	if got, want := m.read("h/tasks"), strconv.Itoa(sub.pid)+"\n"; got != want {
		t.Errorf("h/tasks = %q, want %q", got, want)
	}
	if !denyZombieLed(m, sub) {
		return
	}
	if got := sub.ask(t, "getppid"); got != "-38" {
		t.Errorf("getppid after the deny = %s, want -38", got)
	}
}

// zleaderLab mounts a mirror with an open group h and starts
// testdata/zleader, whose main thread exits on "leave".
func zleaderLab(t *testing.T) (*mirror, *benchSubject) {
	t.Helper()
	prog := cProgram(t, "zleader")
	m := liveMirror(t)
	m.mkdir("h")
	sub := startSubjectOf(t, nil, prog)
	t.Cleanup(sub.stop)
	return m, sub
}

// leaveLeader has zleader's main thread exit, and waits until it is a
// zombie.
func leaveLeader(t *testing.T, sub *benchSubject) {
	t.Helper()
	if got := sub.ask(t, "leave"); got != "0" {
		t.Fatalf("leave: %q", got)
	}
}

// denyZombieLed denies getppid in h, whose member sub has a zombie leader,
// and reports whether the member is held now. Before Linux 6.9 (no thread
// pidfds) the listener cannot be taken from any thread of such a process:
// the deny fails with EBUSY, changes nothing, and the member runs on.
func denyZombieLed(m *mirror, sub *benchSubject) bool {
	t := m.t
	t.Helper()
	if kernel.PidfdThread.Have() {
		m.mustWrite("h/syscalls.deny", "getppid")
		return true
	}
	err := m.write("h/syscalls.deny", "getppid")
	if err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
		t.Errorf("deny with a zombie-led member, no thread pidfds: %v, want EBUSY", err)
	}
	if got, want := sub.ask(t, "getppid"), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("getppid after the refused deny = %s, want %s", got, want)
	}
	return false
}
