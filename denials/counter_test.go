package denials

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
)

// deny counts one denial of k in g as Holder.Decide and its OnDenied hook
// do: Quiet before the answer, then Unlogged, or Note when Quiet found the
// call may be due for a line.
func deny(b *Book, g string, k Key) (log bool, suppressed uint64) {
	if c := b.Quiet(g, k); c != nil {
		c.Unlogged()
		return false, 0
	}
	return b.Note(g, k)
}

// TestQuiet: a denial is quiet while its syscall's line in its group is
// less than LogEvery old, or while the shared budget is spent; quiet ones
// count in syscalls.stat, and the next line reports them as left out.
func TestQuiet(t *testing.T) {
	b := New(arch.X86_64)
	clock := time.Unix(1000, 0)
	b.now = func() time.Time { return clock }
	ppid := Key{Native, 110}
	if c := b.Quiet("g", ppid); c != nil {
		t.Fatal("the first denial of a group was judged quiet")
	}
	if log, sup := deny(b, "g", ppid); !log || sup != 0 {
		t.Fatalf("first denial: log %v, suppressed %d; want true, 0", log, sup)
	}
	if c := b.Quiet("g", Key{Native, 59}); c != nil {
		t.Fatal("the first denial of another syscall was judged quiet")
	}
	for i := 0; i < 3; i++ {
		if log, _ := deny(b, "g", ppid); log {
			t.Fatalf("denial %d within LogEvery was logged", i+2)
		}
	}
	if got := string(b.Stat("g")); got != "getppid 4\ntotal 4\n" {
		t.Fatalf("stat %q, want getppid 4", got)
	}

	// What the timer does LogEvery after the line, on the real clock.
	clock = clock.Add(LogEvery)
	e := (*b.group("g").by.Load())[ppid.packed()]
	if !e.unquiet.Stop() {
		t.Fatal("no timer ends the quiet time of a logged line")
	}
	e.quiet.Store(false)
	if c := b.Quiet("g", ppid); c != nil {
		t.Fatal("a denial LogEvery after the last line was judged quiet")
	}
	if log, sup := deny(b, "g", ppid); !log || sup != 3 {
		t.Fatalf("after LogEvery: log %v, suppressed %d; want true, 3", log, sup)
	}

	// The flag cleared early: the clock still says quiet.
	e.unquiet.Stop()
	e.quiet.Store(false)
	clock = clock.Add(LogEvery - time.Millisecond)
	if c := b.Quiet("g", ppid); c != e {
		t.Fatalf("Quiet %p within LogEvery, want the counter %p", c, e)
	}

	// Spend the shared budget on other groups: a denial that its own limit
	// would log is quiet, and the next line reports it.
	clock = clock.Add(time.Hour)
	for i := 0; i < LogRate; i++ {
		if log, _ := b.Note(fmt.Sprintf("o%d", i), ppid); !log {
			t.Fatalf("line %d of a full budget held back", i+1)
		}
	}
	e.unquiet.Stop()
	e.quiet.Store(false)
	c := b.Quiet("g", ppid)
	if c != e {
		t.Fatalf("Quiet %p with the budget spent, want the counter %p", c, e)
	}
	c.Unlogged()
	clock = clock.Add(time.Second)
	if log, sup := deny(b, "g", ppid); !log || sup != 1 {
		t.Fatalf("budget refilled: log %v, suppressed %d; want true, 1", log, sup)
	}
	if got := string(b.Stat("g")); got != "getppid 7\ntotal 7\n" {
		t.Fatalf("stat %q, want getppid 7", got)
	}
}

// TestQuietCountsOnce: denials from many goroutines at once are each
// counted once, and each is either logged or reported as left out by the
// next line.
func TestQuietCountsOnce(t *testing.T) {
	b := New(arch.X86_64)
	ppid := Key{Native, 110}
	const workers, each = 4, 2000
	var mu sync.Mutex
	lines, reported := 0, uint64(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if log, sup := deny(b, "g", ppid); log {
					mu.Lock()
					lines++
					reported += sup
					mu.Unlock()
				}
				if i%500 == 0 {
					b.Stat("g")
					b.Flush(func(string, []byte) error { return nil })
				}
			}
		}()
	}
	wg.Wait()
	want := fmt.Sprintf("getppid %d\ntotal %d\n", workers*each, workers*each)
	if got := string(b.Stat("g")); got != want {
		t.Fatalf("stat %q, want %q", got, want)
	}
	e := (*b.group("g").by.Load())[ppid.packed()]
	e.unquiet.Stop()
	e.quiet.Store(false)
	e.loggedAt = e.loggedAt.Add(-LogEvery)
	log, sup := b.Note("g", ppid)
	if !log {
		t.Fatal("no line LogEvery after the last one")
	}
	if got := uint64(lines) + reported + sup; got != workers*each {
		t.Fatalf("%d lines reported %d left out, and the last %d: %d of %d denials",
			lines, reported, sup, got, workers*each)
	}
}

// TestQuietAllocates: judging and counting a quiet denial allocates
// nothing.
func TestQuietAllocates(t *testing.T) {
	b := New(arch.X86_64)
	ppid := Key{Native, 110}
	b.Note("web/worker", ppid)
	got := testing.AllocsPerRun(1000, func() {
		if c := b.Quiet("web/worker", ppid); c != nil {
			c.Unlogged()
		} else {
			t.Fatal("not quiet right after a line")
		}
	})
	if got != 0 {
		t.Fatalf("%v allocations a quiet denial, want 0", got)
	}
}

// TestQuietAfterForget: a counter taken before a Forget of its group does
// not reach the group's new counts, and Unlogged marks a group for Flush.
func TestQuietAfterForget(t *testing.T) {
	b := New(arch.X86_64)
	ppid := Key{Native, 110}
	b.Note("g", ppid)
	if err := b.Flush(func(string, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	c := b.Quiet("g", ppid)
	c.Unlogged()
	saved := map[string]string{}
	b.Flush(func(g string, v []byte) error { saved[g] = string(v); return nil })
	if saved["g"] != "getppid 2\ntotal 2\n" || len(saved) != 1 {
		t.Fatalf("flushed %q after Unlogged, want g's getppid 2", saved)
	}
	c = b.Quiet("g", ppid)
	b.Forget("g")
	c.Unlogged()
	if got := string(b.Stat("g")); got != "total 0\n" {
		t.Fatalf("stat after Forget %q", got)
	}
	if c := b.Quiet("g", ppid); c != nil {
		t.Fatal("a forgotten group's denial was judged quiet")
	}
}

// TestRestoreRefusesWideNumbers: a saved count of a number beyond 32 bits,
// which no table has, is refused rather than merged with another.
func TestRestoreRefusesWideNumbers(t *testing.T) {
	b := New(arch.X86_64)
	if err := b.Restore("g", []byte("4294967296 1\ntotal 1\n")); err == nil {
		t.Fatal("Restore took a 33-bit syscall number")
	}
	if err := b.Restore("g", []byte("2147483647 1\nread 2\ntotal 3\n")); err != nil {
		t.Fatal(err)
	}
	if got := string(b.Stat("g")); got != "read 2\n2147483647 1\ntotal 3\n" {
		t.Fatalf("stat %q", got)
	}
}
