package keeper

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestThousandListeners measures a real keeper with 1,000 listeners (one
// victim thread with a filter and a listener of its own each): resident
// size, descriptors, the cost of Keep and of Take, and its CPU time while
// idle.
func TestThousandListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,000 listener threads")
	}
	const n = 1000
	k := startKeeper(t, time.Minute) // for its directory and root check
	k.Stop()
	<-k.ran
	k.ran <- nil
	v := startVictim(t)
	pidfd, err := unix.PidfdOpen(v.pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	var fds, tids []int
	for _, f := range strings.Fields(v.do(t, "threads "+strconv.Itoa(n))) {
		tidS, fdS, _ := strings.Cut(f, ":")
		tid, _ := strconv.Atoi(tidS)
		tfd, _ := strconv.Atoi(fdS)
		if tfd < 0 {
			t.Fatalf("thread %d: its filter failed with %d", tid, tfd)
		}
		fd, err := unix.PidfdGetfd(pidfd, tfd, 0)
		if err != nil {
			t.Fatalf("pidfd_getfd: %v", err)
		}
		defer unix.Close(fd)
		fds, tids = append(fds, fd), append(tids, tid)
	}
	if len(fds) != n {
		t.Fatalf("%d listeners, want %d", len(fds), n)
	}

	c, err := Connect(k.mirror, ClientOptions{Dir: k.dir, Exe: cgsyscall(t)})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer c.Close()
	kp := track(t, c.KeeperPid())
	rss0 := rssKiB(t, kp.pid)
	starts := make([]uint64, n)
	for i := range fds {
		starts[i], _ = StartTime(tids[i])
	}
	t0 := time.Now()
	for i, fd := range fds {
		start := starts[i]
		if _, err := c.Keep(fd, tids[i], start); err != nil {
			t.Fatalf("Keep %d: %v", i, err)
		}
	}
	keep := time.Since(t0) / n
	waitFor(t, "the keeper holding every listener", func() bool {
		return listenersOf(t, kp.pid) == n
	})
	rss1 := rssKiB(t, kp.pid)
	cpu0 := cpuTicks(t, kp.pid)
	time.Sleep(2 * time.Second)
	idle := cpuTicks(t, kp.pid) - cpu0

	c.Close()
	c2, err := Connect(k.mirror, ClientOptions{Dir: k.dir, Exe: cgsyscall(t)})
	if err != nil {
		t.Fatalf("Connect again: %v", err)
	}
	defer c2.Close()
	t0 = time.Now()
	ls, err := c2.Take()
	take := time.Since(t0)
	if err != nil || len(ls) != n {
		t.Fatalf("Take: %d listeners, %v; want %d", len(ls), err, n)
	}
	for _, l := range ls {
		unix.Close(l.Fd)
	}
	c2.Close() // before the keeper goes: it would start another
	t.Logf("keeper VmRSS %d KiB connected, %d KiB with %d listeners (%.1f KiB each)",
		rss0, rss1, n, float64(rss1-rss0)/n)
	t.Logf("Keep %v a listener; Take of %d: %v; CPU while idle for 2 s: %d ticks",
		keep, n, take, idle)
	if rss1 > 64<<10 {
		t.Errorf("keeper VmRSS %d KiB with %d listeners, want at most 64 MiB", rss1, n)
	}
	if idle > 1 {
		t.Errorf("idle keeper used %d clock ticks in 2 s, want at most 1", idle)
	}
	kp.signal(unix.SIGTERM)
	waitFor(t, "the keeper exiting on SIGTERM", kp.exited)
}

func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	st, err := status(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(st["VmRSS"], " kB"))
	return n
}

// cpuTicks is utime + stime of process pid, in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	f, err := statFields(pid)
	if err != nil || len(f) < 13 {
		t.Fatalf("stat of %d: %v", pid, err)
	}
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// listenersOf counts the seccomp listeners among the descriptors of pid.
func listenersOf(t *testing.T, pid int) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil &&
			l == "anon_inode:seccomp notify" {
			n++
		}
	}
	return n
}
