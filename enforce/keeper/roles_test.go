package keeper

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/unotif"
)

// roleEnv makes the test binary play a part other than the tests: a
// victim that a test holds, or a daemon that a test kills.
const roleEnv = "CGSYSCALL_KEEPER_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "victim":
		victimMain()
		os.Exit(0)
	case "daemon":
		os.Exit(daemonMain(os.Args[len(os.Args)-3:]))
	}
	code := m.Run()
	injecttest.Cleanup()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// raw makes a system call the way Go's wrappers do, so that the runtime
// knows the thread is in a call: a thread it thought busy would get
// SIGURG to preempt it, which interrupts a notified call and notifies it
// again, and would hide a call left waiting.
func raw(nr uintptr) int64 {
	r, _, e := syscall.Syscall(nr, 0, 0, 0)
	if e != 0 {
		return -int64(e)
	}
	return int64(r)
}

// loadFilter loads prog on the calling thread with
// SECCOMP_FILTER_FLAG_NEW_LISTENER: the listener's descriptor, or a
// negated errno.
func loadFilter(prog []unix.SockFilter) int64 {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := syscall.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fp)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return -int64(e)
	}
	return int64(r)
}

// victimMain answers one command a line, on its main thread:
//
//	ping        pong
//	getppid     the raw result
//	listen      load a filter of its own with a listener (the escape that
//	            the keeper blocks): the listener's descriptor or -errno
//	threads N   N threads, each loading a filter that notifies getppid
//	            with a listener of its own: "TID:FD ..." (they live on)
//	take DIR M  try to take the listeners of mirror M from its keeper:
//	            the errno, 0 when it got through
func victimMain() {
	runtime.LockOSThread()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "ping":
			fmt.Println("pong")
		case "getppid":
			fmt.Println(raw(unix.SYS_GETPPID))
		case "listen":
			allowAll := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K,
				K: unix.SECCOMP_RET_ALLOW}}
			fmt.Println(loadFilter(allowAll))
		case "threads":
			n, _ := strconv.Atoi(arg)
			fmt.Println(strings.Join(listenerThreads(n), " "))
		case "take":
			dir, mirror, _ := strings.Cut(arg, " ")
			c, err := Connect(mirror, ClientOptions{Dir: dir, NoSpawn: true,
				Timeout: time.Second})
			if err == nil {
				c.Close()
			}
			fmt.Println(errnoOf(err))
		default:
			fmt.Println("unknown")
		}
	}
}

func errnoOf(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return int(e)
	}
	return -1
}

// listenerThreads starts n threads with a listener each.
func listenerThreads(n int) []string {
	out := make(chan string)
	prog := injecttest.Filter(unix.SYS_GETPPID)
	for range n {
		go func() {
			runtime.LockOSThread()
			fd := loadFilter(prog)
			out <- fmt.Sprintf("%d:%d", unix.Gettid(), fd)
			select {} // the thread, and with it its filter, lives on
		}()
	}
	var res []string
	for range n {
		res = append(res, <-out)
	}
	return res
}

// daemonMain plays a daemon that the test kills: it keeps the listener
// on its descriptor 3 (of the process VICTIM_PID names) with the keeper
// (started from KEEPER_EXE when none runs), allows the first notified
// call, then takes the second and never answers it.
// args: DIR MIRROR MODE, MODE "mark" noting the second in its Mark, or
// "nomark" (a daemon killed inside SECCOMP_IOCTL_NOTIF_RECV, before the
// note).
func daemonMain(args []string) int {
	dir, mirror, mode := args[0], args[1], args[2]
	pid, _ := strconv.Atoi(os.Getenv("VICTIM_PID"))
	start, _ := StartTime(pid)
	c, err := Connect(mirror, ClientOptions{Dir: dir, Exe: os.Getenv("KEEPER_EXE"),
		NoSpawn: os.Getenv("KEEPER_EXE") == ""})
	if err != nil {
		fmt.Println("connect:", err)
		return 1
	}
	mark, err := c.Keep(3, pid, start)
	if err != nil {
		fmt.Println("keep:", err)
		return 1
	}
	fmt.Println("kept", c.KeeperPid())
	n, err := recvRetry(3)
	if err != nil {
		fmt.Println("recv:", err)
		return 1
	}
	mark.Received(n.ID)
	allow(3, n.ID)
	if n, err = recvRetry(3); err != nil {
		fmt.Println("recv:", err)
		return 1
	}
	if mode == "mark" {
		mark.Received(n.ID)
	}
	fmt.Println("stalled")
	select {}
}

// recvRetry receives the next notification on fd. ENOENT, a call
// interrupted by a signal (the Go victim's runtime sends itself SIGURG),
// is notified again.
func recvRetry(fd int) (unotif.Notif, error) {
	for {
		n, err := recv(fd)
		if err != unix.ENOENT {
			return n, err
		}
	}
}

// allow answers notification id with SECCOMP_USER_NOTIF_FLAG_CONTINUE.
func allow(fd int, id uint64) error {
	return unotif.Continue(fd, id)
}
