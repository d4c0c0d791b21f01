// Package epoll is an epoll set whose waits park in Go's poller.
//
// A goroutine blocked in epoll_wait(2) keeps its processor; the runtime's
// monitor takes it back after up to 10 ms and then wakes every 20 µs for
// about a millisecond. A daemon that waits often (the supervisor's
// workers after each notification, the thread-exit watcher after each
// exit) paid that after every wait: it was half of cgsyscall's CPU under a
// held go build. A Set's descriptor is non-blocking and registered with
// the poller, so that a waiting goroutine holds no processor and no thread.
package epoll

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Set is one epoll descriptor.
type Set struct {
	fd int
	f  *os.File
	rc syscall.RawConn
}

// New makes an empty set.
func New() (*Set, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Set{fd: fd, f: f, rc: rc}, nil
}

// Add watches fd for events, reported with cookie.
func (s *Set) Add(fd int, events uint32, cookie int32) error {
	return s.ctl(unix.EPOLL_CTL_ADD, fd, events, cookie)
}

// Modify changes what fd is watched for (EPOLL_CTL_MOD), which also arms
// an EPOLLONESHOT descriptor again.
func (s *Set) Modify(fd int, events uint32, cookie int32) error {
	return s.ctl(unix.EPOLL_CTL_MOD, fd, events, cookie)
}

// Delete stops watching fd.
func (s *Set) Delete(fd int) error {
	return unix.EpollCtl(s.fd, unix.EPOLL_CTL_DEL, fd, nil)
}

func (s *Set) ctl(op, fd int, events uint32, cookie int32) error {
	ev := unix.EpollEvent{Events: events, Fd: cookie}
	return unix.EpollCtl(s.fd, op, fd, &ev)
}

// Wait fills events with what is ready, waiting until something is. Many
// goroutines may wait at once; they take turns. After Close it fails.
func (s *Set) Wait(events []unix.EpollEvent) (int, error) {
	var n int
	var err error
	if rerr := s.rc.Read(func(fd uintptr) bool {
		n, err = unix.EpollWait(int(fd), events, 0)
		return n > 0 || err != nil && err != unix.EINTR
	}); rerr != nil {
		return 0, rerr
	}
	return n, err
}

// Close closes the set; goroutines still waiting get an error.
func (s *Set) Close() error { return s.f.Close() }
