// Command probe makes raw system calls and prints what the kernel answered,
// for tests of seccomp filters. Each argument is a token:
//
//	NAME         the syscall of that name in the ABI the probe was built for
//	nr:N         syscall number N of that ABI
//	i386:NAME    the i386 syscall NAME through int $0x80 (amd64 builds only)
//	i386:nr:N    i386 syscall number N through int $0x80
//	args:NAME:A1[:A2...]
//	             the syscall NAME with arguments A1... (up to six) instead
//	             of the scratch page and zeros: each an integer in Go
//	             notation ("23", "-1", "0x17") or "self", the probe's PID
//	loop:C:TOKEN TOKEN C times; prints "loop:C:TOKEN NS RESULT", NS the
//	             mean nanoseconds of one call
//	lat:C:TOKEN  TOKEN C times, each call timed alone; prints
//	             "lat:C:TOKEN P50 MEAN RESULT P90 P99" in nanoseconds: the
//	             median, the mean, the last result, the 90th and 99th
//	             percentiles (each call's time includes one clock read)
//	newlistener  load an allow-all filter with SECCOMP_FILTER_FLAG_NEW_LISTENER
//	             on the calling thread (closing the listener it gets)
//	allowall     load a one-instruction allow-all filter on every thread
//	             (TSYNC, no listener): the cheapest seccomp filter, for
//	             benchmarks
//	killseccomp  load, on every thread, a filter that kills the process for
//	             seccomp(2) and allows the rest (a systemd service's kind)
//	faildumpable1
//	             load, on every thread, a filter that fails
//	             prctl(PR_SET_DUMPABLE, 1) with EPERM and allows the rest
//	retfor:NAME:ACTION
//	             load, on every thread, a filter that returns ACTION (a
//	             seccomp return value in Go notation) for syscall NAME and
//	             allows the rest
//	notifygetppid
//	             load, on every thread, a filter that hands getppid to a
//	             listener, without one (getppid then fails with ENOSYS)
//	answergetppid
//	             the same filter with a listener of the probe's own, which
//	             a goroutine answers with CONTINUE
//	write:PATH:TEXT
//	             write TEXT and a newline to the file PATH, as echo does
//	             ("self": the probe's PID); prints 0 or the negated errno
//
// With the single argument -serve it reads lines of tokens from standard
// input instead and answers each line, after a first line "ready PID".
//
// "-time CMD [ARG...]" runs CMD as its child, with the probe's standard
// streams, and then prints "probe-time NS" to standard error, NS the
// child's wall time from fork to exit in nanoseconds, and "probe-cpu NS",
// the CPU time the child and its reaped children used (user and system);
// it exits with the child's status. Under cgsyscall exec, this times a workload run as a
// member of the group, without the shim's start.
//
// For each token it prints one line, the token and the raw return value:
// the result on success, the negative errno on failure ("getppid -38").
// Every call gets the address of a zeroed scratch page below 4 GiB as its
// first argument (uname needs a buffer, and int $0x80 takes 32-bit
// pointers) and zero for the others. It exits 0 once every token ran, and
// 2 for a token it does not understand.
//
// Built for GOARCH=386 or arm, plain tokens are compat calls of an x86_64
// or aarch64 kernel. The program is static (CGO_ENABLED=0) and makes its
// calls with syscall.RawSyscall6, never through a wrapper that could hide
// the errno.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
)

func main() {
	buf, err := scratch()
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe: scratch page: %v\n", err)
		os.Exit(2)
	}
	if len(os.Args) == 2 && os.Args[1] == "-serve" {
		serve(buf)
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "-time" {
		os.Exit(timed(os.Args[2:]))
	}
	for _, tok := range os.Args[1:] {
		if strings.HasPrefix(tok, "loop:") || strings.HasPrefix(tok, "lat:") {
			line, err := loop(tok, buf)
			if err != nil {
				fmt.Fprintf(os.Stderr, "probe: %v\n", err)
				os.Exit(2)
			}
			fmt.Println(line)
			continue
		}
		r, err := call(tok, buf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "probe: %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("%s %d\n", tok, r)
	}
}

// call runs the syscall that tok names and returns its raw result.
func call(tok string, buf uintptr) (int64, error) {
	switch tok {
	case "newlistener":
		return newListener()
	case "allowall":
		return allowAll()
	case "killseccomp":
		return killSeccomp()
	case "faildumpable1":
		return failDumpable1()
	case "notifygetppid":
		return notifyGetppid(false)
	case "answergetppid":
		return notifyGetppid(true)
	}
	if rest, ok := strings.CutPrefix(tok, "args:"); ok {
		return callArgs(rest)
	}
	if rest, ok := strings.CutPrefix(tok, "write:"); ok {
		return writeFile(rest)
	}
	if rest, ok := strings.CutPrefix(tok, "retfor:"); ok {
		return retFor(rest)
	}
	if rest, ok := strings.CutPrefix(tok, "i386:"); ok {
		if i386 == nil {
			return 0, fmt.Errorf("%s: no i386 ABI in this build", tok)
		}
		nr, err := number(arch.X86_64.Compat, rest)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", tok, err)
		}
		return i386(uintptr(nr), buf), nil
	}
	nr, err := number(table, tok)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", tok, err)
	}
	r, _, errno := syscall.RawSyscall6(uintptr(nr), buf, 0, 0, 0, 0, 0)
	if errno != 0 {
		return -int64(errno), nil
	}
	return int64(int(r)), nil
}

// writeFile handles "write:PATH:TEXT": it writes TEXT and a newline to
// the file PATH in one write(2), as echo does (again after EINTR), and
// returns 0 or the negated errno of the open or the write. TEXT "self" is
// the probe's PID.
func writeFile(s string) (int64, error) {
	path, text, ok := strings.Cut(s, ":")
	if !ok || path == "" {
		return 0, fmt.Errorf("write:%s: want write:PATH:TEXT", s)
	}
	if text == "self" {
		text = strconv.Itoa(os.Getpid())
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -int64(err.(syscall.Errno)), nil
	}
	defer syscall.Close(fd)
	for tries := 1; ; tries++ {
		_, err := syscall.Write(fd, []byte(text+"\n"))
		if err == syscall.EINTR && tries < 100 {
			// The daemon answers so a write that waited for its turn
			// while it stopped this process for a hold: nothing changed.
			continue
		}
		if err != nil {
			return -int64(err.(syscall.Errno)), nil
		}
		return 0, nil
	}
}

// callArgs runs "NAME:A1[:A2...]" (see the package comment).
func callArgs(s string) (int64, error) {
	f := strings.Split(s, ":")
	if len(f) < 2 || len(f) > 7 {
		return 0, fmt.Errorf("args:%s: want args:NAME:A1[:A2...], at most six", s)
	}
	nr, ok := table.SyscallNumber(f[0])
	if !ok {
		return 0, fmt.Errorf("args:%s: %s has no syscall %q", s, table.Name, f[0])
	}
	var a [6]uintptr
	for i, v := range f[1:] {
		if v == "self" {
			a[i] = uintptr(os.Getpid())
			continue
		}
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("args:%s: bad argument %q", s, v)
		}
		a[i] = uintptr(n)
	}
	r, _, errno := syscall.RawSyscall6(uintptr(nr), a[0], a[1], a[2], a[3], a[4], a[5])
	if errno != 0 {
		return -int64(errno), nil
	}
	return int64(int(r)), nil
}

// number resolves "nr:N" or a syscall name of abi.
func number(abi *arch.ABI, s string) (int, error) {
	if n, ok := strings.CutPrefix(s, "nr:"); ok {
		nr, err := strconv.ParseUint(n, 0, 31)
		if err != nil {
			return 0, fmt.Errorf("bad number %q", n)
		}
		return int(nr), nil
	}
	nr, ok := abi.SyscallNumber(s)
	if !ok {
		return 0, fmt.Errorf("%s has no syscall %q", abi.Name, s)
	}
	return nr, nil
}

// scratch maps a zeroed page for the calls' first argument.
func scratch() (uintptr, error) {
	r, _, errno := syscall.RawSyscall6(sysMmap, 0, 4096,
		syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|map32Bit, ^uintptr(0), 0)
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}

// timed runs argv as a child and prints its wall time; it returns the
// child's exit status (128+N for a child that signal N ended), or 2 when
// the child could not start.
func timed(argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	ns := time.Since(start).Nanoseconds()
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "probe-time %d\n", ns)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fmt.Fprintf(os.Stderr, "probe-cpu %d\n", cpu.Nanoseconds())
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}
