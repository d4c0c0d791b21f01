//go:build linux

// Command init is the first and only program of the aarch64 test VM that
// scripts/aarch64/run.sh boots under qemu-system-aarch64. It mounts what
// the tests need (proc, sys, devtmpfs, tmpfs, cgroup2 at
// /sys/fs/cgroup/unified as on the CI host), loads the kernel modules
// listed in /aarch64/modules, brings lo up, installs busybox's applets,
// runs the test binaries that /aarch64/plan lists one after the other,
// prints marker lines that run.sh reads, and powers the machine off.
//
// Each plan line is "NAME DIR SECONDS ARGV...": ARGV runs with DIR as its
// working directory and is killed, with everything it started, after
// SECONDS. Lines "env KEY=VALUE" add to every test's environment. Markers,
// each alone on a line:
//
//	@@aarch64 boot KERNEL_RELEASE
//	@@aarch64 start NAME
//	@@aarch64 end NAME pass|fail STATUS SECONDS
//	@@aarch64 done PASSED FAILED
//
// As PID 1 it also reaps every orphan (a test's daemon whose parent
// died), and it never returns: a failure it cannot get past is printed
// as "@@aarch64 fatal ..." and the machine is powered off.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const marker = "@@aarch64"

func main() {
	if err := setup(); err != nil {
		fatal(err)
	}
	// A test process that dies of a fault (SIGSEGV, SIGILL, ...) gets
	// a line with its registers, which kernelWarnings prints.
	os.WriteFile("/proc/sys/kernel/print-fatal-signals", []byte("1"), 0)
	var uts unix.Utsname
	unix.Uname(&uts)
	fmt.Printf("%s boot %s\n", marker, unix.ByteSliceToString(uts.Release[:]))
	plan, env, err := readPlan("/aarch64/plan")
	if err != nil {
		fatal(err)
	}
	passed, failed := 0, 0
	for _, st := range plan {
		if runStep(st, env) {
			passed++
		} else {
			failed++
		}
	}
	kernelWarnings()
	fmt.Printf("%s done %d %d\n", marker, passed, failed)
	powerOff()
}

// fatal reports an error that stops the run and powers off.
func fatal(err error) {
	fmt.Printf("%s fatal %v\n", marker, err)
	powerOff()
}

func powerOff() {
	os.Stdout.Sync()
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}

// step is one line of the plan.
type step struct {
	name, dir string
	limit     time.Duration
	argv      []string
}

func readPlan(path string) ([]step, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var plan []step
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0 || strings.HasPrefix(fields[0], "#"):
		case fields[0] == "env" && len(fields) == 2:
			env = append(env, fields[1])
		case len(fields) >= 4:
			secs, err := strconv.Atoi(fields[2])
			if err != nil {
				return nil, nil, fmt.Errorf("plan: %q: bad seconds", sc.Text())
			}
			plan = append(plan, step{fields[0], fields[1], time.Duration(secs) * time.Second,
				fields[3:]})
		default:
			return nil, nil, fmt.Errorf("plan: bad line %q", sc.Text())
		}
	}
	return plan, env, sc.Err()
}

// runStep runs one test binary to its end, reaping orphans meanwhile,
// and reports whether it exited 0.
func runStep(st step, env []string) bool {
	fmt.Printf("%s start %s\n", marker, st.name)
	start := time.Now()
	base := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TMPDIR=/tmp",
		"USER=root", "LANG=C"}
	devNull, _ := os.Open("/dev/null")
	p, err := os.StartProcess(st.argv[0], st.argv, &os.ProcAttr{
		Dir:   st.dir,
		Env:   append(base, env...),
		Files: []*os.File{devNull, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	devNull.Close()
	if err != nil {
		fmt.Printf("%s: %v\n", st.name, err)
		fmt.Printf("%s end %s fail start 0\n", marker, st.name)
		return false
	}
	status := waitReaping(p.Pid, st.limit)
	// Whatever the test left behind in its process group goes with it.
	unix.Kill(-p.Pid, unix.SIGKILL)
	verdict := "pass"
	if status != 0 {
		verdict = "fail"
	}
	fmt.Printf("%s end %s %s %d %.1f\n", marker, st.name, verdict, status,
		time.Since(start).Seconds())
	return status == 0
}

// waitReaping waits for pid while reaping every other child, killing
// pid's process group once limit has passed. It returns the exit status,
// 128+N for death by signal N.
func waitReaping(pid int, limit time.Duration) int {
	timer := time.AfterFunc(limit, func() {
		fmt.Printf("%s: killed after %v\n", marker, limit)
		unix.Kill(-pid, unix.SIGKILL)
	})
	defer timer.Stop()
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// kernelWarnings prints the kernel's messages of level warning or worse,
// which the console's loglevel kept off the screen, and the first line of
// each report of a fault that killed a process (level info).
func kernelWarnings() {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	buf := make([]byte, 8192)
	header := false
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE {
			continue // overwritten records
		}
		if err != nil || n <= 0 {
			return
		}
		rec := string(buf[:n])
		prefix, msg, ok := strings.Cut(rec, ";")
		fields := strings.Split(prefix, ",")
		level, perr := strconv.Atoi(fields[0])
		fault := strings.Contains(msg, "unhandled") || strings.Contains(msg, "fatal signal")
		if !ok || perr != nil || level&7 > 4 && !fault {
			continue
		}
		if !header {
			fmt.Printf("%s kernel warnings\n", marker)
			header = true
		}
		msg, _, _ = strings.Cut(msg, "\n")
		fmt.Printf("kernel: %s\n", msg)
	}
}
