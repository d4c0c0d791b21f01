package cgsyscall_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The listener keeper logs where its daemon does and as it does
// (helper-26: with log_format=json it wrote text lines into the daemon's
// JSON file, and with log=syslog or -f it wrote nowhere).

// waitFileLine waits up to 10 s for a line of file path that contains
// want, and returns every line read.
func waitFileLine(t *testing.T, path, want string) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q in %s within 10 s:\n%s", want, path, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKeeperLogsToSyslog(t *testing.T) {
	conn, sock := syslogListen(t)
	_, out, status := syslogMount(t, sock, "-o", "log=syslog")
	if status != 0 {
		t.Fatalf("mount: status %d: %s", status, out)
	}
	line := syslogWait(t, conn, "keeper listening")
	if !strings.Contains(line, "cgsyscall") || !strings.Contains(line, "keeper=") {
		t.Errorf("the keeper's syslog line %q lacks the tag or its mirror", line)
	}
}

func TestKeeperLogsJSON(t *testing.T) {
	log := filepath.Join(t.TempDir(), "json.log")
	_, out, status := syslogMount(t, "/nonexistent", "--log", log, "--log-format", "json")
	if status != 0 {
		t.Fatalf("mount: status %d: %s", status, out)
	}
	lines := waitFileLine(t, log, "keeper listening")
	keeper := 0
	for _, l := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Errorf("a line that is not JSON: %q (%v)", l, err)
			continue
		}
		if _, ok := e["keeper"]; ok {
			keeper++
		}
	}
	if keeper == 0 {
		t.Errorf("no line of the keeper in:\n%s", strings.Join(lines, "\n"))
	}
}

// TestKeeperLogsToForegroundStderr: with -f, to the daemon's standard
// error (here a file; a pipe it leaves alone, whose reader would wait for
// the keeper's end too).
func TestKeeperLogsToForegroundStderr(t *testing.T) {
	m := unmountedMirror(t)
	m.log = filepath.Join(t.TempDir(), "stderr.log")
	errFile, err := os.Create(m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd := exec.Command(bin.cgsyscall, "mount", "-f", "--mirror", m.base, m.mnt)
	cmd.Stderr = errFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		exec.Command("umount", m.mnt).Run()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // the daemon this test started
			<-done
		}
	})
	waitFileLine(t, m.log, "keeper listening")
	waitFileLine(t, m.log, "msg=mounted") // before the umount of the cleanup
}
