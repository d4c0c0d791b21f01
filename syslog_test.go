// The daemon's log when detached (issue 4, item 4): to the system log
// unless log= names a file. The tests point the daemon at a datagram
// socket of their own instead of /dev/log (CGSYSCALL_SYSLOG_SOCKET).
package cgsyscall_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syslogSocketEnv is cmd/cgsyscall's name for the socket tests use
// instead of /dev/log.
const syslogSocketEnv = "CGSYSCALL_SYSLOG_SOCKET"

// syslogListen makes a datagram socket in a temporary directory for the
// daemon to log to, and returns it with its path.
func syslogListen(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, p
}

// syslogMount mounts a mirror of a new test cgroup with the extra
// arguments, the syslog socket set to sock, and no --log.
func syslogMount(t *testing.T, sock string, args ...string) (*mirror, string, int) {
	t.Helper()
	m := unmountedMirror(t)
	m.log = filepath.Join(t.TempDir(), "unused.log")
	cmd := exec.Command(bin.cgsyscall, append(append([]string{"mount", "--mirror", m.base},
		args...), m.mnt)...)
	cmd.Env = append(os.Environ(), syslogSocketEnv+"="+sock)
	out, err := cmd.CombinedOutput()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return m, string(out), status
}

// syslogWait reads datagrams until one contains want, and returns it.
func syslogWait(t *testing.T, conn *net.UnixConn, want string) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var seen []string
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no syslog line with %q (%v); got:\n%s", want, err,
				strings.Join(seen, "\n"))
		}
		line := string(buf[:n])
		if strings.Contains(line, want) {
			return line
		}
		seen = append(seen, line)
	}
}

// TestSyslogDetached: a detached daemon without log= sends every line to
// the system log, facility daemon, tag cgsyscall with its PID, the
// severity that of the line's level, and no second time stamp.
func TestSyslogDetached(t *testing.T) {
	conn, sock := syslogListen(t)
	m, out, status := syslogMount(t, sock, "-o", "debug")
	if status != 0 {
		t.Fatalf("mount: status %d: %s", status, out)
	}
	pid := strconv.Itoa(daemonPID(t, m))
	// <PRI>Mmm dd hh:mm:ss cgsyscall[PID]: MESSAGE, as syslog(3) writes to
	// /dev/log; PRI is facility daemon (3) times 8 plus the severity.
	head := func(pri string) *regexp.Regexp {
		return regexp.MustCompile(`^<` + pri + `>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d ` +
			`cgsyscall\[` + pid + `\]: level=`)
	}
	checks := []struct {
		do, want, pri string
	}{
		{"", "level=info msg=mounted", "30"},
		{"mkdir", "level=debug msg=mkdir group=/g", "31"},
		{"deny", `level=info msg="policy change"`, "30"},
	}
	for _, c := range checks {
		switch c.do {
		case "mkdir":
			m.mkdir("g")
		case "deny":
			m.mustWrite("g/syscalls.deny", "acct")
		}
		line := syslogWait(t, conn, c.want)
		if !head(c.pri).MatchString(line) {
			t.Errorf("syslog line %q does not start as <%s>TIME cgsyscall[%s]: level=",
				line, c.pri, pid)
		}
		if !strings.Contains(line, "mountpoint="+m.mnt) || strings.Contains(line, "time=") {
			t.Errorf("syslog line %q: want the mount point and no time= field", line)
		}
	}
	if _, err := os.Stat(m.log); !os.IsNotExist(err) {
		t.Errorf("a log file was written too: %v", err)
	}
}

// TestSyslogMissing: log=syslog with no system log to reach fails the
// mount with one line and status 1; without log= the daemon falls back to
// its log file, which TestLogTarget (cmd/cgsyscall) checks without
// writing /var/log.
func TestSyslogMissing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nothing-listens-here")
	m, out, status := syslogMount(t, sock, "-o", "log=syslog")
	want := "cgsyscall: log=syslog: dial unixgram " + sock +
		": connect: no such file or directory\n"
	if status != 1 || out != want {
		t.Errorf("mount with log=syslog and no socket: status %d, %q; want 1, %q",
			status, out, want)
	}
	if m.mounted() {
		t.Errorf("%s is mounted", m.mnt)
	}
}
