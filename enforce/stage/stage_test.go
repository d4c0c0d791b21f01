package stage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestProgramIsELF: each architecture's program is a static executable
// with one read-and-execute segment (the whole file, entered right after
// the headers) and a stack that is not executable.
func TestProgramIsELF(t *testing.T) {
	for goarch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64,
		"arm64": elf.EM_AARCH64} {
		prog := Program(goarch)
		f, err := elf.NewFile(bytes.NewReader(prog))
		if err != nil {
			t.Fatalf("%s: %v", goarch, err)
		}
		if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Type != elf.ET_EXEC ||
			f.Machine != machine {
			t.Errorf("%s: %v %v %v %v", goarch, f.Class, f.Data, f.Type, f.Machine)
		}
		if want := uint64(base + len(prog) - len(code[goarch])); f.Entry != want {
			t.Errorf("%s: entry %#x, want %#x", goarch, f.Entry, want)
		}
		if len(f.Progs) != 2 {
			t.Fatalf("%s: %d program headers, want 2", goarch, len(f.Progs))
		}
		load, stack := f.Progs[0], f.Progs[1]
		if load.Type != elf.PT_LOAD || load.Flags != elf.PF_R|elf.PF_X || load.Off != 0 ||
			load.Vaddr != base || load.Filesz != uint64(len(prog)) || load.Memsz != load.Filesz {
			t.Errorf("%s: load segment %+v", goarch, load.ProgHeader)
		}
		if stack.Type != elf.PT_GNU_STACK || stack.Flags != elf.PF_R|elf.PF_W {
			t.Errorf("%s: stack segment %+v", goarch, stack.ProgHeader)
		}
	}
	if Program("386") != nil {
		t.Error("Program(386) is not nil")
	}
}

// TestCodeMatchesSource assembles testdata/stage_GOARCH.s with binutils,
// where an assembler for that architecture is installed, and compares its
// text with the code bytes.
func TestCodeMatchesSource(t *testing.T) {
	assemblers := map[string][]string{
		"amd64": {"x86_64-linux-gnu-as", "as --64"},
		"arm64": {"aarch64-linux-gnu-as"},
	}
	if runtime.GOARCH == "arm64" {
		assemblers["arm64"] = append(assemblers["arm64"], "as")
	}
	for goarch, tries := range assemblers {
		t.Run(goarch, func(t *testing.T) {
			var as []string
			for _, try := range tries {
				if _, err := exec.LookPath(strings.Fields(try)[0]); err == nil {
					as = strings.Fields(try)
					break
				}
			}
			if as == nil {
				t.Skipf("no assembler for %s (one of %q; Debian: binutils, "+
					"binutils-aarch64-linux-gnu)", goarch, tries)
			}
			obj := filepath.Join(t.TempDir(), "stage.o")
			out, err := exec.Command(as[0], append(as[1:], "-o", obj,
				"testdata/stage_"+goarch+".s")...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", as, err, out)
			}
			f, err := elf.Open(obj)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Sections) == 0 || f.Section(".text") == nil {
				t.Fatal("no .text")
			}
			text, err := f.Section(".text").Data()
			if err != nil {
				t.Fatal(err)
			}
			if rel := f.Section(".rela.text"); rel != nil && rel.Size > 0 {
				t.Error("the code has relocations: it must be position independent")
			}
			if !bytes.Equal(text, code[goarch]) {
				t.Errorf("the code bytes differ from testdata/stage_%s.s assembled:\n%x\nwant\n%x",
					goarch, code[goarch], text)
			}
		})
	}
}

// runStage starts the stage (from Open, or from open when not nil) with
// argv [cgsyscall-stage, 4, path, argv...], fd 4 a socket whose other end
// it returns and fd 3 one for the command to inherit, with the command's
// output collected in out.
func runStage(t *testing.T, open func() (*os.File, error), env []string, path string,
	argv ...string) (*exec.Cmd, *os.File, *bytes.Buffer) {
	t.Helper()
	cmd, shim, out, err := startStage(open, env, path, argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		shim.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, shim, out
}

// startStage is runStage's work, for any goroutine.
func startStage(open func() (*os.File, error), env []string, path string,
	argv ...string) (*exec.Cmd, *os.File, *bytes.Buffer, error) {
	if open == nil {
		open = Open
	}
	f, err := open()
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	shim, end := os.NewFile(uintptr(fds[0]), "shim"), os.NewFile(uintptr(fds[1]), "stage")
	defer end.Close()
	var out bytes.Buffer
	// The socket at fd 4, fd 3 the test binary's /dev/null (the
	// command's to inherit).
	null, err := os.Open(os.DevNull)
	if err != nil {
		shim.Close()
		return nil, nil, nil, err
	}
	defer null.Close()
	cmd := &exec.Cmd{Path: "/proc/self/fd/" + strconv.Itoa(int(f.Fd())),
		Args:   append([]string{"cgsyscall-stage", "4", path}, argv...),
		Env:    env,
		Stdout: &out, Stderr: &out, ExtraFiles: []*os.File{null, end}}
	if err := cmd.Start(); err != nil {
		shim.Close()
		return nil, nil, nil, err
	}
	return cmd, shim, &out, nil
}

// exitOf waits for cmd and returns its exit status.
func exitOf(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	cmd.Wait()
	return cmd.ProcessState.ExitCode()
}

// TestStage runs the stage of the running architecture: the go-ahead runs
// the command with its argv and environment and without fd 3 (the shim
// then reads EOF), anything else ends the stage with status 125 and the
// command unrun, and a failed exec sends its errno and exits 126 or 127.
func TestStage(t *testing.T) {
	if Program(runtime.GOARCH) == nil {
		t.Skipf("no stage for %s", runtime.GOARCH)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script := `echo "$0 $1 $FOO"; if [ -e /proc/self/fd/4 ]; then echo fd4; fi; ` +
		`if [ -e /proc/self/fd/3 ]; then echo fd3; fi; exit 7`
	for _, goAhead := range []byte{GoAhead, GoAheadExecveat, GoAhead | CloseNoFcntl,
		GoAheadExecveat | CloseNoFcntl} {
		t.Run(fmt.Sprintf("go-%d", goAhead), func(t *testing.T) {
			testGoAhead(t, goAhead, sh, script)
		})
	}
	for _, c := range []struct {
		name string
		send []byte
	}{{"eof", nil}, {"other-byte", []byte{3}}, {"no-exec-way", []byte{CloseNoFcntl}},
		{"other-bit", []byte{GoAhead | 8}}} {
		t.Run(c.name, func(t *testing.T) {
			cmd, shim, out := runStage(t, nil, nil, sh, "sh", "-c", script)
			shim.Write(c.send)
			shim.Close()
			if st := exitOf(t, cmd); st != ExitGaveUp || out.Len() != 0 {
				t.Errorf("status %d, output %q; want %d and no output", st, out, ExitGaveUp)
			}
		})
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		errno      unix.Errno
		status     int
	}{
		{"missing", "/nonexistent/cgsyscall-stage-test", unix.ENOENT, ExitNotFound},
		{"not-executable", plain, unix.EACCES, ExitCannotRun},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, shim, _ := runStage(t, nil, nil, c.path, "x")
			shim.Write([]byte{GoAhead})
			var b [2]byte
			n, _ := shim.Read(b[:])
			if n != 1 || unix.Errno(b[0]) != c.errno {
				t.Errorf("the shim read %d bytes %v, want the errno %d (%v)", n, b[:n],
					int(c.errno), c.errno)
			}
			if st := exitOf(t, cmd); st != c.status {
				t.Errorf("status %d, want %d", st, c.status)
			}
		})
	}
}

// TestStageFromTmpfile runs the stage from the fallback of Open, an
// unnamed file in the test's directory, opened again read-only.
func TestStageFromTmpfile(t *testing.T) {
	if Program(runtime.GOARCH) == nil {
		t.Skipf("no stage for %s", runtime.GOARCH)
	}
	dir := t.TempDir()
	open := func() (*os.File, error) { return openTmpfile(dir, Program(runtime.GOARCH)) }
	if f, err := open(); err != nil {
		t.Skipf("no O_TMPFILE in %s: %v", dir, err)
	} else {
		f.Close()
	}
	cmd, shim, out := runStage(t, open, nil, "/bin/sh", "sh", "-c", "echo ran")
	shim.Write([]byte{GoAhead})
	if st := exitOf(t, cmd); st != 0 || out.String() != "ran\n" {
		t.Errorf("status %d, output %q; want 0, %q", st, out, "ran\n")
	}
}

// testGoAhead runs script under the stage with go-ahead byte goAhead: the
// command runs with its argv and environment and without fd 3, and the
// shim reads EOF.
func testGoAhead(t *testing.T, goAhead byte, sh, script string) {
	t.Helper()
	cmd, shim, out := runStage(t, nil, []string{"FOO=bar"}, sh, "sh", "-c", script, "zero", "one")
	shim.Write([]byte{goAhead})
	var b [1]byte
	if n, err := shim.Read(b[:]); n != 0 {
		t.Errorf("the shim read %d bytes (%v, %d), want EOF", n, err, b[0])
	}
	// fd 3 reaches the command; the socket, fd 4, does not.
	if st := exitOf(t, cmd); st != 7 || out.String() != "zero one bar\nfd3\n" {
		t.Errorf("status %d, output %q; want 7, %q", st, out, "zero one bar\nfd3\n")
	}
}

// TestStageQuits: the stage ends with 125 and the command unrun when its
// read fails with ENOSYS (helper-27: a filter of the invoker's that
// answered the read so had the command run unheld, taken for a group that
// denies read), and when it can neither mark its socket close-on-exec nor
// close it (the command would get the socket). With CloseNoFcntl in the
// go-ahead it makes no fcntl call at all: under a filter that kills for
// fcntl on the socket, the command runs (helper-31: the stage's denied
// fcntl counted in an allow-list group's syscalls.stat as the command's).
// Each runs under a filter of its own, loaded on a thread of this test
// that forks it and then ends.
func TestStageQuits(t *testing.T) {
	if Program(runtime.GOARCH) == nil {
		t.Skipf("no stage for %s", runtime.GOARCH)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	for _, c := range []struct {
		name    string
		filter  []unix.SockFilter
		goAhead byte
		status  int
		out     string
	}{
		{"read-enosys", onFd4(t, errno(unix.ENOSYS), "read"), GoAhead, ExitGaveUp, ""},
		{"no-fcntl-no-close", onFd4(t, errno(unix.EPERM), "fcntl", "close"), GoAhead,
			ExitGaveUp, ""},
		{"no-fcntl-asked", onFd4(t, unix.SECCOMP_RET_KILL_PROCESS, "fcntl"),
			GoAhead | CloseNoFcntl, 0, "ran\n"},
		{"no-fcntl-asked-execveat", onFd4(t, unix.SECCOMP_RET_KILL_PROCESS, "fcntl"),
			GoAheadExecveat | CloseNoFcntl, 0, "ran\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			type started struct {
				cmd  *exec.Cmd
				shim *os.File
				out  *bytes.Buffer
				err  error
			}
			got := make(chan started, 1)
			go func() {
				// Never unlocked: the thread ends with this goroutine,
				// its filter with it.
				runtime.LockOSThread()
				var s started
				defer func() { got <- s }()
				if s.err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); s.err != nil {
					return
				}
				prog := unix.SockFprog{Len: uint16(len(c.filter)), Filter: &c.filter[0]}
				if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
					0, uintptr(unsafe.Pointer(&prog))); e != 0 {
					s.err = e
					return
				}
				s.cmd, s.shim, s.out, s.err = startStage(nil, nil, sh, "sh", "-c", "echo ran")
			}()
			s := <-got
			if s.err != nil {
				t.Fatal(s.err)
			}
			defer s.shim.Close()
			s.shim.Write([]byte{c.goAhead})
			if st := exitOf(t, s.cmd); st != c.status || s.out.String() != c.out {
				t.Errorf("status %d, output %q; want %d and %q", st, s.out, c.status, c.out)
			}
		})
	}
}

// onFd4 is a filter that returns action for the calls named when their
// first argument is 4, the socket's number, and allows the rest.
func onFd4(t *testing.T, action uint32, names ...string) []unix.SockFilter {
	nr := func(name string) uint32 {
		n, ok := map[string]map[string]uint32{
			"amd64": {"read": 0, "close": 3, "fcntl": 72},
			"arm64": {"read": 63, "close": 57, "fcntl": 25},
		}[runtime.GOARCH][name]
		if !ok {
			t.Fatalf("no number for %s", name)
		}
		return n
	}
	ld := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: k}
	}
	ret := func(k uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k,
			Jt: jt, Jf: jf}
	}
	prog := []unix.SockFilter{ld(0)}
	for i, name := range names {
		// A match goes to the argument's test, after the last name.
		prog = append(prog, jeq(nr(name), uint8(len(names)-i), 0))
	}
	return append(prog, ret(unix.SECCOMP_RET_ALLOW), ld(16), jeq(4, 0, 1), ret(action),
		ret(unix.SECCOMP_RET_ALLOW))
}
