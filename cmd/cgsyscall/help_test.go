package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// runCaptured calls run with args and returns what it printed and its
// exit status.
func runCaptured(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	dir := t.TempDir()
	outF, err := os.Create(dir + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(dir + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outF, errF
	status = run(append([]string{"cgsyscall"}, args...))
	os.Stdout, os.Stderr = oldOut, oldErr
	outF.Close()
	errF.Close()
	o, _ := os.ReadFile(dir + "/stdout")
	e, _ := os.ReadFile(dir + "/stderr")
	return string(o), string(e), status
}

// checkWidth fails for a line wider than the help's width.
func checkWidth(t *testing.T, what, text string) {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if len(l) > helpWidth {
			t.Errorf("%s: a line of %d columns: %q", what, len(l), l)
		}
	}
}

func TestHelpOverviewListsEverything(t *testing.T) {
	out, errOut, status := runCaptured(t, "help")
	if status != 0 || errOut != "" {
		t.Fatalf("help: status %d, stderr %q", status, errOut)
	}
	checkWidth(t, "help", out)
	flat := strings.Join(strings.Fields(out), " ")
	for _, c := range doc.commands {
		if want := strings.Join(plainWords(synopsis(c)), " "); !strings.Contains(flat, want) {
			t.Errorf("help lacks the synopsis %q", want)
		}
	}
	for _, o := range doc.mountOptions {
		if want := plainText(optionTerm(o, false)); !strings.Contains(flat, want) {
			t.Errorf("help lacks the mount option %q", want)
		}
	}
	for _, alias := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help", "-h"}} {
		if again, _, status := runCaptured(t, alias...); again != out || status != 0 {
			t.Errorf("%q: status %d, and not the text of help", alias, status)
		}
	}
}

func TestHelpCommand(t *testing.T) {
	for _, c := range doc.commands {
		out, errOut, status := runCaptured(t, "help", c.name)
		if status != 0 || errOut != "" {
			t.Fatalf("help %s: status %d, stderr %q", c.name, status, errOut)
		}
		checkWidth(t, "help "+c.name, out)
		flat := strings.Join(strings.Fields(out), " ")
		want := []string{"usage: " + strings.Join(plainWords(synopsis(c)), " ")}
		for _, f := range c.flags {
			want = append(want, plainText(optionTerm(f, true)), plainText(f.text))
		}
		for _, e := range c.exits {
			want = append(want, plainText(e.term), plainText(e.text))
		}
		if c.name == "mount" {
			for _, o := range doc.mountOptions {
				want = append(want, plainText(optionTerm(o, false)), plainText(o.text))
			}
			want = append(want, strings.Join(doc.ignoredOpts, ", "))
		}
		for _, w := range want {
			if !strings.Contains(flat, w) {
				t.Errorf("help %s lacks %q", c.name, w)
			}
		}
		// -h after a command is the same text, except for help itself.
		if c.name == "help" || c.pending != "" {
			continue
		}
		if again, _, status := runCaptured(t, c.name, "--help"); again != out || status != 0 {
			t.Errorf("%s --help: status %d, and not the text of help %s", c.name, status,
				c.name)
		}
	}
}

func TestHelpMistakes(t *testing.T) {
	noMountPoint := "cgsyscall: mount point: stat /nonexistent/cgsyscall-mnt: no such file"
	if os.Geteuid() != 0 {
		noMountPoint = "cgsyscall: mount needs root"
	}
	for _, c := range []struct {
		args   []string
		want   string
		status int
	}{
		{[]string{"help", "bogus"}, "cgsyscall: help: no command \"bogus\"\n" +
			"usage: cgsyscall COMMAND [ARG...]\n", 2},
		{[]string{"help", "--man", "mount"}, "cgsyscall: help: expected --man or", 2},
		{[]string{"exec", "web", "true"}, "cgsyscall: exec: expected GROUP -- CMD [ARG...]\n" +
			"usage: cgsyscall exec [-m MOUNTPOINT] GROUP -- CMD [ARG...]\n" +
			"\"cgsyscall help exec\" tells more.\n", 125},
		{[]string{"exec", "--bogus", "web", "--", "true"},
			"cgsyscall: exec: flag provided but not defined: -bogus\n", 125},
		{[]string{"bogus"}, "cgsyscall: unknown command \"bogus\"\nusage: cgsyscall COMMAND", 2},
		// The mount helper's form, with the sources an fstab line may
		// name for the cgroup2 mount: a mount point that does not exist
		// fails the mount (32), not the command line (2).
		{[]string{"none", "/nonexistent/cgsyscall-mnt", "-o", "defaults"}, noMountPoint, 32},
		{[]string{"cgsyscall", "/nonexistent/cgsyscall-mnt"}, noMountPoint, 32},
		// A relative mount point in that form (helper-65: "unknown command").
		{[]string{"/sys/fs/cgroup/x", "mnt", "-o", "defaults"}, "cgsyscall: mount point " +
			"\"mnt\": the helper form (SOURCE MOUNTPOINT -o OPTIONS) takes an absolute path\n", 2},
		{[]string{"/bogus"}, "cgsyscall: unknown command \"/bogus\"\n", 2},
		{nil, "usage: cgsyscall COMMAND [ARG...]\n  cgsyscall mount", 2},
	} {
		out, errOut, status := runCaptured(t, c.args...)
		if status != c.status || out != "" || !strings.HasPrefix(errOut, c.want) {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %d, nothing, %q", c.args,
				status, out, errOut, c.status, c.want)
		}
	}
	// After "--", -h belongs to CMD.
	if asksHelp([]string{"web", "--", "ls", "-h"}) {
		t.Error("asksHelp took CMD's -h")
	}
}

func TestHelpMan(t *testing.T) {
	out, errOut, status := runCaptured(t, "help", "--man")
	if status != 0 || errOut != "" || out != manPage(&doc) {
		t.Fatalf("help --man: status %d, stderr %q, and not the man page", status, errOut)
	}
	if !bytes.HasPrefix([]byte(out), []byte(`.\" Generated by`)) {
		t.Errorf("the man page starts %q", out[:40])
	}
}
