package inject_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// tracerEnv makes the test binary a tracer of its own (tracerMain): "PID
// EXITKILL", EXITKILL 1 or 0.
const tracerEnv = "CGSYSCALL_INJECT_TEST_TRACER"

// tracerMain seizes and stops a process as a daemon's growth does, with
// Session.ExitKill as asked, says "stopped" and waits to be killed.
func tracerMain(arg string) {
	var pid, kill int
	if _, err := fmt.Sscan(arg, &pid, &kill); err != nil {
		fmt.Println("bad argument:", err)
		os.Exit(2)
	}
	s, err := inject.Seize(pid)
	if err == nil {
		s.ExitKill = kill == 1
		err = s.Stop()
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("stopped")
	select {}
}

// TestExitKill: a process stopped by a session with ExitKill dies of
// SIGKILL when its tracer dies (a daemon killed during a growth, whose
// family would run on with its old listener closed: helper-78); without
// it, the process runs on.
func TestExitKill(t *testing.T) {
	injecttest.RequireRoot(t)
	for _, kill := range []bool{true, false} {
		t.Run(fmt.Sprintf("exitkill=%v", kill), func(t *testing.T) {
			v := injecttest.Start(t, injecttest.C, 2)
			flag := 0
			if kill {
				flag = 1
			}
			tr := exec.Command(os.Args[0], "-test.run=^$")
			tr.Env = append(os.Environ(), tracerEnv+"="+fmt.Sprintf("%d %d", v.Pid, flag))
			out, err := tr.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			tr.Process.Kill()
			tr.Wait()
			if line != "stopped\n" {
				t.Fatalf("the tracer said %q, want \"stopped\"", line)
			}
			if !kill {
				if got := v.Do(t, "ping"); got != "pong" {
					t.Errorf("ping after its tracer died: %q, want pong", got)
				}
				return
			}
			code := -1
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				if state, c := zombieCode(v.Pid); state == "Z" {
					code = c
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if code != 9 {
				t.Errorf("victim after its tracer died: exit status %#x, want 0x9 (SIGKILL); "+
					"-1: not ended within 5 s", code)
			}
		})
	}
}

// zombieCode returns the state of process pid and its exit status as
// wait(2) gives it (/proc/PID/stat, fields 3 and 52).
func zombieCode(pid int) (string, int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 50 {
		return "", -1
	}
	code, _ := strconv.Atoi(f[49])
	return f[0], code
}
