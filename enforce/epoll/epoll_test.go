package epoll

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWait: a wait returns the cookie of the descriptor that became
// readable, an EPOLLONESHOT one only once until Modify arms it again, and
// Close ends a waiting Wait and fails a later one.
func TestWait(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := s.Add(efd, unix.EPOLLIN|unix.EPOLLONESHOT, 7); err != nil {
		t.Fatal(err)
	}
	got := make(chan int32, 2)
	go func() {
		events := make([]unix.EpollEvent, 4)
		for {
			n, err := s.Wait(events)
			if err != nil {
				close(got)
				return
			}
			for _, ev := range events[:n] {
				got <- ev.Fd
			}
		}
	}()
	unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	select {
	case c := <-got:
		if c != 7 {
			t.Fatalf("cookie %d, want 7", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	select {
	case c := <-got:
		t.Fatalf("a one-shot descriptor reported again (%d) before Modify", c)
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.Modify(efd, unix.EPOLLIN|unix.EPOLLONESHOT, 8); err != nil {
		t.Fatal(err)
	}
	if c := <-got; c != 8 {
		t.Fatalf("after Modify: cookie %d, want 8", c)
	}
	if err := s.Delete(efd); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case _, open := <-got:
		if open {
			t.Error("an event after Delete")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the waiting Wait within 5 s")
	}
	if _, err := s.Wait(make([]unix.EpollEvent, 1)); err == nil {
		t.Error("Wait after Close succeeded")
	}
}
