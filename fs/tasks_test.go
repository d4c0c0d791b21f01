package fs

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// sleeper starts sleep 30 as the test's own process and returns its PID.
func (e *env) sleeper() int {
	return e.start("sleep", "30").Process.Pid
}

func TestTasksMoveAndRead(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	e.want("g/tasks", "")
	a, b := e.sleeper(), e.sleeper()
	e.shOK(`echo ` + strconv.Itoa(b) + ` > $M/g/tasks`)
	e.shOK(`echo ` + strconv.Itoa(a) + ` > $M/g/tasks`)
	e.shOK(`echo ` + strconv.Itoa(a) + ` > $M/g/tasks`) // already there: fine
	lo, hi := min(a, b), max(a, b)
	want := strconv.Itoa(lo) + "\n" + strconv.Itoa(hi) + "\n"
	e.want("g/tasks", want)
	if got := e.shOK(`wc -l < $M/g/tasks`); got != "2\n" {
		t.Errorf("wc -l tasks: %q", got)
	}
	// The mirrored cgroup.procs is the kernel's own file.
	if got, real := e.read("g/cgroup.procs"), e.realProcs("g"); got != real {
		t.Errorf("cgroup.procs reads %q, the real one %q", got, real)
	}

	// Several PIDs in one write, moved in order.
	e.shOK(`printf '%d\n%d\n' ` + strconv.Itoa(a) + " " + strconv.Itoa(b) + ` > $M/tasks`)
	e.want("g/tasks", "")
	if !strings.Contains(e.read("tasks"), strconv.Itoa(a)+"\n") {
		t.Errorf("root tasks lack %d", a)
	}
}

func TestTasksZeroIsCaller(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	rel := strings.TrimPrefix(e.group, cgroup2Root)
	out := e.shOK(`echo 0 > $M/g/tasks; echo $$; cat /proc/self/cgroup; cat $M/g/tasks`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("output %q", out)
	}
	shPID := lines[0]
	if !slices.Contains(lines, "0::"+rel+"/g") {
		t.Errorf("the shell's next command is not in the group: %q", out)
	}
	if !slices.Contains(lines[1:], shPID) {
		t.Errorf("tasks does not list the shell %s: %q", shPID, out)
	}
}

func TestTasksThreadMovesProcess(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	// A process with a second thread that prints its TID.
	cmd := exec.Command("python3", "-c", `
import threading, time, sys
t = threading.Thread(target=time.sleep, args=(30,))
t.start()
print(t.native_id, flush=True)
t.join()`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("python3: %v", err)
	}
	e.pids = append(e.pids, cmd.Process.Pid)
	go func() { cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	tid := strings.TrimSpace(line)
	if tid == strconv.Itoa(cmd.Process.Pid) {
		t.Fatal("thread ID equals the PID")
	}
	e.shOK(`echo ` + tid + ` > $M/g/tasks`)
	e.want("g/tasks", strconv.Itoa(cmd.Process.Pid)+"\n")
	// Through the mirrored cgroup.threads the same: the whole process.
	e.shOK(`echo ` + tid + ` > $M/cgroup.threads`)
	e.want("g/tasks", "")
}

func TestTasksErrors(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	p := e.sleeper()
	ps := strconv.Itoa(p)
	cases := []struct {
		data  string
		errno syscall.Errno
		msg   string
	}{
		{"99999999", syscall.ESRCH, "No such process"},
		{ps + " abc", syscall.EINVAL, "Invalid argument"},
		{"abc " + ps, syscall.EINVAL, "Invalid argument"},
		{"-" + ps, syscall.EINVAL, "Invalid argument"},
		{ps + "x", syscall.EINVAL, "Invalid argument"},
		{"99999999999", syscall.EINVAL, "Invalid argument"},
	}
	for _, c := range cases {
		e.shFails(`/bin/echo '`+c.data+`' > $M/g/tasks`, 1, c.msg)
		err := os.WriteFile(filepath.Join(e.mnt, "g/tasks"), []byte(c.data), 0)
		if !errors.Is(err, c.errno) {
			t.Errorf("write %q to tasks: %v, want %v", c.data, err, c.errno)
		}
	}
	// Garbage moved nothing, not even the valid PID before it.
	e.want("g/tasks", "")
	// The first failure stops the write; earlier moves stand.
	e.shFails(`/bin/echo '`+ps+` 99999999' > $M/g/tasks`, 1, "No such process")
	e.want("g/tasks", ps+"\n")
	// The mirrored cgroup.procs takes the same path.
	e.shFails(`/bin/echo 99999999 > $M/g/cgroup.procs`, 1, "No such process")
	e.shOK(`echo ` + ps + ` > $M/cgroup.procs`)
	e.want("g/tasks", "")
}

// TestParsePIDsWhy: a refused write to tasks says in its log line which
// word was wrong and why; PIDs separated by any white space are taken.
func TestParsePIDsWhy(t *testing.T) {
	for _, c := range []struct{ data, why string }{
		{"12 abc", `"abc": not a PID (decimal digits)`},
		{"-5", `"-5": not a PID (decimal digits)`},
		{"99999999999", `"99999999999": too large for a PID`},
	} {
		if pids, e, why := parsePIDs([]byte(c.data)); pids != nil || e != syscall.EINVAL ||
			why != c.why {
			t.Errorf("%q: %v %v %q, want nil, EINVAL, %q", c.data, pids, e, why, c.why)
		}
	}
	if pids, e, why := parsePIDs([]byte("1\t2\n 30\n")); !slices.Equal(pids, []int{1, 2, 30}) ||
		e != 0 || why != "" {
		t.Errorf("three PIDs: %v %v %q", pids, e, why)
	}
}

func TestRmdirBusyWithMember(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g`)
	p := e.sleeper()
	ps := strconv.Itoa(p)
	e.shOK(`echo ` + ps + ` > $M/g/tasks`)
	if got := e.realProcs("g"); got != ps+"\n" {
		t.Fatalf("real cgroup.procs: %q", got)
	}
	e.shFails(`rmdir $M/g`, 1, "Device or resource busy")
	if err := syscall.Rmdir(filepath.Join(e.mnt, "g")); err != syscall.EBUSY {
		t.Fatalf("rmdir with a member: %v, want EBUSY", err)
	}
	e.shOK(`echo ` + ps + ` > $M/tasks`)
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.shOK(`rmdir $M/g`)
	if _, err := os.Stat(filepath.Join(e.group, "g")); !os.IsNotExist(err) {
		t.Fatalf("real group still there: %v", err)
	}
	if _, ok := e.tree.Denied("g"); ok {
		t.Fatal("policy of the removed group is still in the tree")
	}
}

// recorder is an Enforcer that records its calls and fails on demand.
type recorder struct {
	CgroupEnforcer
	mu      sync.Mutex
	moves   []int
	changes []string
	fail    error
}

func (r *recorder) Move(c Caller, pid int, group string) error {
	r.mu.Lock()
	r.moves = append(r.moves, pid)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		return fail
	}
	return r.CgroupEnforcer.Move(c, pid, group)
}

func (r *recorder) MayChange(c Caller, group string, allow bool) error { return nil }

func (r *recorder) PolicyChanged(c Caller, group string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, group)
	return len(r.changes), r.fail
}

// calls returns copies of what the recorder saw.
func (r *recorder) calls() ([]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.moves), slices.Clone(r.changes)
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func TestEnforcerErrorsReachWriter(t *testing.T) {
	e := newGroup(t)
	r := &recorder{CgroupEnforcer: CgroupEnforcer{Mirror: e.group}}
	e.mount(t.TempDir(), e.group, r)
	e.shOK(`mkdir $M/g && echo 59 > $M/g/syscalls.deny && echo 59 > $M/g/syscalls.allow`)
	e.shOK(`echo > $M/g/syscalls.deny`) // empty: no change to enforce
	// The second deny of 63 changes nothing; an allow holds no process.
	e.shOK(`echo 63 > $M/g/syscalls.deny && echo 63 > $M/g/syscalls.deny`)
	if _, changes := r.calls(); !slices.Equal(changes, []string{"g", "g"}) {
		t.Errorf("PolicyChanged calls %q, want [g g] (the two denies that change g)", changes)
	}

	r.setFail(syscall.EAGAIN)
	// Neither fails where no process can be held (helper-30: an allow
	// failed there, after seconds in which it let the calls through).
	e.shOK(`echo 63 > $M/g/syscalls.deny && echo 63 > $M/g/syscalls.allow`)
	e.want("g/syscalls.deny", "\n")
	e.shFails(`/bin/echo 59 > $M/g/syscalls.deny`, 1, "Resource temporarily unavailable")
	e.want("g/syscalls.deny", "\n")
	p := e.sleeper()
	e.shFails(`/bin/echo `+strconv.Itoa(p)+` > $M/g/tasks`, 1, "Resource temporarily unavailable")
	e.want("g/tasks", "")
	if moves, _ := r.calls(); len(moves) != 1 || moves[0] != p {
		t.Errorf("Move calls %v, want [%d]", moves, p)
	}
	if !strings.Contains(e.logBuf.String(), "result=EAGAIN") {
		t.Errorf("no log line of the failure:\n%s", e.logBuf)
	}
}

func TestLogLines(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 59 > $M/g/syscalls.deny`)
	p := strconv.Itoa(e.sleeper())
	e.shOK(`echo ` + p + ` > $M/g/tasks`)
	time.Sleep(10 * time.Millisecond)
	var info []string
	for line := range strings.Lines(e.logBuf.String()) {
		if strings.Contains(line, "level=info") {
			info = append(info, line)
		}
	}
	if len(info) != 2 {
		t.Fatalf("want 2 info lines, got:\n%s", strings.Join(info, ""))
	}
	name, _ := e.arch.Native.SyscallName(59) // execve on x86_64, pipe2 on aarch64
	fields := []string{"action=deny", "group=/g", "uid=0", "result=ok", "held=0",
		`syscalls="59(` + name + `)"`}
	for _, f := range fields {
		if !strings.Contains(info[0], f) {
			t.Errorf("policy line lacks %s: %s", f, info[0])
		}
	}
	for _, f := range []string{"msg=\"task move\"", "group=/g", "process=" + p, "result=ok"} {
		if !strings.Contains(info[1], f) {
			t.Errorf("move line lacks %s: %s", f, info[1])
		}
	}
	if strings.Contains(info[0]+info[1], "unchanged") {
		t.Errorf("a change taken as none:\n%s%s", info[0], info[1])
	}
}

// TestLogLinesOfRefusals: a refused write is logged at warning level, under
// the same message as a taken one (a bad PID too); a write that changes
// nothing says so; a set of more than half the table is named by what it
// leaves (helper-53: refusals at info level, "task move refused" beside
// "task move", a 6 KB line for "all").
func TestLogLinesOfRefusals(t *testing.T) {
	e := newEnv(t)
	e.shOK(`mkdir $M/g && echo 59 > $M/g/syscalls.deny`)
	before := len(e.logBuf.String())
	e.shFails(`/bin/echo x1 > $M/g/tasks`, 1, "Invalid argument")
	e.shFails(`/bin/echo bogus > $M/g/syscalls.deny`, 1, "Invalid argument")
	e.shOK(`echo getpid > $M/g/syscalls.allow`)
	e.shOK(`echo all > $M/g/syscalls.deny && echo read write > $M/g/syscalls.allow`)
	var lines []string
	for l := range strings.Lines(e.logBuf.String()[before:]) {
		if !strings.Contains(l, "level=debug") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 5 {
		t.Fatalf("want 5 lines, got:\n%s", strings.Join(lines, ""))
	}
	for i, want := range [][]string{
		{"level=warning", `msg="task move"`, "result=EINVAL", `input="\"x1`},
		{"level=warning", `msg="policy change"`, "result=EINVAL", "action=deny"},
		{"level=info", `msg="policy change"`, "result=ok", "action=allow", "unchanged=true"},
		{"level=info", `msg="policy change"`, "result=ok", "action=deny",
			`syscalls="all but `},
		{"level=info", `msg="policy change"`, "result=ok", "action=allow"},
	} {
		for _, f := range want {
			if !strings.Contains(lines[i], f) {
				t.Errorf("line %d lacks %s: %s", i+1, f, lines[i])
			}
		}
	}
	if strings.Contains(lines[4], "unchanged") {
		t.Errorf("the allow of read and write taken as no change: %s", lines[4])
	}
}

// TestDescribe: the log names a set by its numbers and names, runs of
// numbers without a name as ranges, and a set of more than half the table
// by what it leaves.
func TestDescribe(t *testing.T) {
	a, ok := arch.ByName("x86_64")
	if !ok {
		t.Fatal("no x86_64 table")
	}
	m := &mirror{arch: a, full: policy.Full(a)}
	for _, c := range []struct {
		set  policy.Set
		want string
	}{
		{policy.NewSet(0, 59), "0(read) 59(execve)"},
		{policy.NewSet(336, 337, 338, 339, 424), "336(uprobe) 337-339 424(pidfd_send_signal)"},
		{policy.NewSet(338), "338"},
		{m.full, "all"},
		{m.full.Minus(policy.NewSet(0, 1)), "all but 2: 0(read) 1(write)"},
	} {
		if got := m.describe(c.set); got != c.want {
			t.Errorf("describe(%v) = %q, want %q", c.set.Numbers(), got, c.want)
		}
	}
}

// TestHiddenProcs: a process that cgroup.procs leaves out is found by its
// threads, and nothing is looked up when the threads add up.
func TestHiddenProcs(t *testing.T) {
	self := os.Getpid()
	// The Go runtime may start a thread between the listing and the
	// count: take a listing that agrees with itself.
	var threads []byte
	for try := 0; try < 100; try++ {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		threads = threads[:0]
		for _, e := range ents {
			threads = append(threads, e.Name()+"\n"...)
		}
		if again, _ := os.ReadDir("/proc/self/task"); len(again) == len(ents) {
			break
		}
	}
	again := func() []byte { return threads }
	if got := HiddenProcs(threads, []int{self}, again); len(got) != 0 {
		t.Errorf("HiddenProcs(own threads, own PID listed) = %v, want none", got)
	}
	if got := HiddenProcs(threads, nil, again); !slices.Equal(got, []int{self}) {
		t.Errorf("HiddenProcs(own threads, nothing listed) = %v, want [%d]", got, self)
	}
	// A thread gone from the second reading: its process is not returned.
	if got := HiddenProcs(threads, nil, func() []byte { return nil }); len(got) != 0 {
		t.Errorf("HiddenProcs with the threads gone on the second reading = %v, want none",
			got)
	}
}
