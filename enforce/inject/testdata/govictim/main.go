// Command govictim is a Go test process for enforce/inject, speaking the
// same line protocol as ../cvictim.c: one command a line on stdin, one
// answer a line on stdout, raw system call results (negated errno on
// failure). Its workers ("t I CMD") are goroutines locked to threads of
// their own, started at launch (count in argv[1]).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func raw(nr, a, b, c uintptr) int64 {
	r, _, e := syscall.Syscall(nr, a, b, c)
	if e != 0 {
		return -int64(e)
	}
	return int64(r)
}

func nrOf(name string) uintptr {
	if name == "getpid" {
		return syscall.SYS_GETPID
	}
	return syscall.SYS_GETPPID
}

// The main goroutine stays on the main thread, so that the calls it
// makes for commands come from the thread whose TID is the PID, as those
// of the C victim do (tests compare a notification's TID with the PID).
func init() { runtime.LockOSThread() }

var mu sync.Mutex

func reply(format string, a ...any) {
	mu.Lock()
	fmt.Printf(format+"\n", a...)
	mu.Unlock()
}

func worker(cmds <-chan string) {
	runtime.LockOSThread()
	for name := range cmds {
		r := raw(nrOf(name), 0, 0, 0)
		reply("%d %d", syscall.Gettid(), r)
	}
}

func main() {
	n := 0
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	workers := make([]chan string, n)
	for i := range workers {
		workers[i] = make(chan string)
		go worker(workers[i])
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "ping":
			reply("pong")
		case "getppid", "getpid":
			reply("%d", raw(nrOf(cmd), 0, 0, 0))
		case "sleep":
			ms, _ := strconv.Atoi(arg)
			ts := syscall.NsecToTimespec(int64(ms) * 1e6)
			t0 := time.Now()
			r := raw(syscall.SYS_NANOSLEEP, uintptr(ptr(&ts)), 0, 0)
			reply("%d %d", r, time.Since(t0).Milliseconds())
		case "read":
			buf := make([]byte, 64)
			r := raw(syscall.SYS_READ, 3, uintptr(bufPtr(buf)), 64)
			data := ""
			if r > 0 {
				data = string(buf[:r])
			}
			reply("%d %s", r, strings.TrimSpace(data))
		case "subreaper":
			reply("%d", raw(syscall.SYS_PRCTL, 36, 1, 0)) // PR_SET_CHILD_SUBREAPER
		case "close":
			fd, _ := syscall.Open("/dev/null", syscall.O_RDONLY, 0)
			reply("%d", raw(syscall.SYS_CLOSE, uintptr(fd), 0, 0))
		case "thread":
			rc := make(chan int64)
			go func() {
				runtime.LockOSThread() // a fresh thread when this one exits
				rc <- raw(syscall.SYS_GETPPID, 0, 0, 0)
			}()
			reply("%d", <-rc)
		case "loop":
			k, _ := strconv.Atoi(arg)
			var r int64
			t0 := time.Now()
			for i := 0; i < k; i++ {
				r = raw(syscall.SYS_GETPPID, 0, 0, 0)
			}
			reply("%d %d", r, time.Since(t0).Nanoseconds())
		case "t":
			is, name, _ := strings.Cut(arg, " ")
			i, err := strconv.Atoi(is)
			if err != nil || i < 0 || i >= n {
				reply("bad")
				continue
			}
			workers[i] <- name
		default:
			reply("unknown")
		}
	}
}
