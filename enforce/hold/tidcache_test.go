package hold

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/kernel"
)

// TestTIDCache: an entry is good until a new generation starts, and goes
// when its thread exits: with thread pidfds (Linux 6.9) the watcher sees
// the exit; without them (turned off here, as on older kernels), the
// thread, not the main one, stands by its process's watch and its TID, and
// the entry is stale at once and pruned at the next scan.
func TestTIDCache(t *testing.T) {
	t.Run("thread pidfd", func(t *testing.T) {
		if !kernel.PidfdThread.Have() {
			t.Skip("no thread pidfds (Linux 6.9)")
		}
		tidCacheOnce(t, true)
	})
	t.Run("process pidfd", func(t *testing.T) {
		defer kernel.PidfdThread.Disable()()
		tidCacheOnce(t, false)
	})
}

func tidCacheOnce(t *testing.T, threads bool) {
	exited := make(chan int, 1)
	c, err := newTIDCache(func(tid int) { exited <- tid })
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	tidc, quit := make(chan int), make(chan struct{})
	go threadUntil(tidc, quit)
	tid := <-tidc
	c.store(tid, c.gen.Load(), "g", true)
	if g, in, ok := c.lookup(tid); !ok || g != "g" || !in {
		t.Fatalf("lookup = %q %v %v, want g true true", g, in, ok)
	}
	c.renew()
	if _, _, ok := c.lookup(tid); ok {
		t.Fatal("an entry of the last generation is still good")
	}
	c.store(tid, c.gen.Load(), "h", true)
	if g, _, ok := c.lookup(tid); !ok || g != "h" {
		t.Fatalf("lookup after a new store = %q %v, want h", g, ok)
	}
	close(quit)
	if threads {
		select {
		case got := <-exited:
			if got != tid {
				t.Errorf("exited(%d), want %d", got, tid)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the thread's exit was not seen within 5 s")
		}
	} else {
		for i := 0; unix.Tgkill(unix.Getpid(), tid, 0) == nil; i++ {
			if i == 500 {
				t.Fatalf("thread %d still runs after 5 s", tid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, _, ok := c.lookup(tid); ok {
		t.Error("the entry of an exited thread is still good")
	}
	c.prune() // the watcher dropped it already where threads are watched
	if _, ok := c.entries.Load(tid); ok {
		t.Error("the entry of an exited thread is kept after prune")
	}
}

// threadUntil sends the TID of a thread of its own and ends that thread
// once quit is closed. The runtime ends a thread whose goroutine exits
// locked to it, but never the main thread: there it starts over on
// another.
func threadUntil(tidc chan<- int, quit <-chan struct{}) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	if unix.Gettid() == unix.Getpid() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			threadUntil(tidc, quit)
		}()
		<-done
		runtime.UnlockOSThread()
		return
	}
	tidc <- unix.Gettid()
	<-quit
}
