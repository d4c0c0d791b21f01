package main

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLogTarget: where a detached daemon logs, for each log= and each
// state of the system log's socket (one of the test's own).
func TestLogTarget(t *testing.T) {
	dir := t.TempDir()
	gram := filepath.Join(dir, "gram")
	g, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: gram, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	stream := filepath.Join(dir, "stream")
	s, err := net.Listen("unix", stream)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		log, socket, want string
	}{
		{"", gram, syslogTarget},
		{"", stream, syslogTarget},
		{"", filepath.Join(dir, "none"), defaultLogFile},
		{"syslog", filepath.Join(dir, "none"), syslogTarget},
		{"/var/tmp/x.log", gram, "/var/tmp/x.log"},
		{"x.log", gram, filepath.Join(wd, "x.log")},
	} {
		t.Setenv(syslogSocketEnv, c.socket)
		got, err := logTarget(mountConfig{logFile: c.log})
		if err != nil || got != c.want {
			t.Errorf("log=%q, socket %s: %q, %v; want %q", c.log, filepath.Base(c.socket),
				got, err, c.want)
		}
	}
}

// TestDeadHint: an error that says the mount's daemon is gone gets what to
// do about it (helper-31); others get nothing.
func TestDeadHint(t *testing.T) {
	err := &os.PathError{Op: "stat", Path: "/m", Err: syscall.ENOTCONN}
	if got, want := deadHint("/m", err),
		" (the daemon of this mount is gone: umount /m, then mount it again)"; got != want {
		t.Errorf("deadHint(ENOTCONN) = %q, want %q", got, want)
	}
	if got := deadHint("/m", os.ErrNotExist); got != "" {
		t.Errorf("deadHint(ENOENT) = %q, want nothing", got)
	}
}
