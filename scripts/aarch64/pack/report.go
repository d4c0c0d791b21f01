package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// A pkgRun is one test binary's stretch of the console, between its
// start and end markers.
type pkgRun struct {
	name, verdict, status, secs string
	lines                       []string
}

// event is the part of test2json's output that the report uses.
type event struct {
	Action, Test, Output string
}

// testResult gathers one test's events.
type testResult struct {
	action string
	output []string
}

// maxLines bounds what the report prints of one failed test.
const maxLines = 80

// report reads the console log, prints a summary of every package (the
// failures with their output, the skips with their reasons) and returns
// an error when a package failed or the markers are incomplete. want is
// the number of packages the plan ran.
func report(log string, want int, w io.Writer) error {
	data, err := os.ReadFile(log)
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(data), "\r", "")
	var runs []*pkgRun
	var cur *pkgRun
	var tail []string
	kernel, done, fatal := "", "", ""
	for _, line := range strings.Split(text, "\n") {
		tail = append(tail, line)
		if len(tail) > 40 {
			tail = tail[1:]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "@@aarch64" {
			if cur != nil {
				cur.lines = append(cur.lines, line)
			}
			continue
		}
		switch {
		case f[1] == "boot" && len(f) == 3:
			kernel = f[2]
		case f[1] == "start" && len(f) == 3:
			cur = &pkgRun{name: f[2]}
			runs = append(runs, cur)
		case f[1] == "end" && len(f) == 6 && cur != nil && cur.name == f[2]:
			cur.verdict, cur.status, cur.secs = f[3], f[4], f[5]
			cur = nil
		case f[1] == "done":
			done = strings.Join(f[2:], " ")
		case f[1] == "fatal":
			fatal = strings.Join(f[2:], " ")
		}
	}

	fmt.Fprintf(w, "aarch64: kernel %s\n", orNone(kernel))
	var problems []string
	var skips, fails []string
	for _, r := range runs {
		tests := parseTests(r)
		var nPass, nFail, nSkip int
		names := make([]string, 0, len(tests))
		for name := range tests {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t := tests[name]
			switch t.action {
			case "pass":
				nPass++
			case "fail":
				nFail++
				fails = append(fails, failText(r.name, name, t))
			case "skip":
				nSkip++
				skips = append(skips, fmt.Sprintf("  %s %s: %s", r.name, name,
					skipReason(t)))
			}
		}
		verdict := strings.ToUpper(r.verdict)
		if verdict == "" {
			verdict = "DIED"
			problems = append(problems, fmt.Sprintf("no end marker for %s", r.name))
		} else if r.verdict != "pass" {
			problems = append(problems, fmt.Sprintf("%s exited %s", r.name, r.status))
			if nFail == 0 {
				fails = append(fails, pkgText(r))
			}
		}
		fmt.Fprintf(w, "%-5s %-18s %4d passed %3d failed %3d skipped %8ss\n", verdict,
			r.name, nPass, nFail, nSkip, orNone(r.secs))
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "\nskipped (subtests included):\n%s\n", strings.Join(skips, "\n"))
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "\nfailed:\n%s", strings.Join(fails, ""))
	}
	if fatal != "" {
		problems = append(problems, "init: "+fatal)
	}
	if len(runs) != want {
		problems = append(problems, fmt.Sprintf("%d of %d packages ran", len(runs), want))
	}
	if done == "" {
		problems = append(problems, "no done marker: the VM stopped early")
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "\nlast console lines:\n%s\n", strings.Join(tail, "\n"))
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// parseTests turns a package's verbose output into per-test results
// with go tool test2json, which attributes each output line to its test.
func parseTests(r *pkgRun) map[string]*testResult {
	tests := map[string]*testResult{}
	cmd := exec.Command("go", "tool", "test2json", "-p", r.name)
	cmd.Stdin = strings.NewReader(strings.Join(r.lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return tests
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev event
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Test == "" {
			continue
		}
		t := tests[ev.Test]
		if t == nil {
			t = &testResult{}
			tests[ev.Test] = t
		}
		switch ev.Action {
		case "pass", "fail", "skip":
			t.action = ev.Action
		case "output":
			t.output = append(t.output, strings.TrimRight(ev.Output, "\n"))
		}
	}
	return tests
}

// ownLines are a test's own output lines, without the run and result
// lines of the framework.
func ownLines(t *testResult) []string {
	var out []string
	for _, l := range t.output {
		s := strings.TrimSpace(l)
		if strings.HasPrefix(s, "=== ") || strings.HasPrefix(s, "--- ") || s == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

func skipReason(t *testResult) string {
	lines := ownLines(t)
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

func failText(pkg, name string, t *testResult) string {
	lines := ownLines(t)
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], fmt.Sprintf("    ... %d more lines in the log",
			len(lines)-maxLines))
	}
	return fmt.Sprintf("--- %s %s\n%s\n", pkg, name, strings.Join(lines, "\n"))
}

// pkgText is the tail of a package that failed without a failed test (a
// panic, a timeout, a build problem).
func pkgText(r *pkgRun) string {
	lines := r.lines
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return fmt.Sprintf("--- %s (exit %s, no failed test; last lines)\n%s\n", r.name,
		r.status, strings.Join(lines, "\n"))
}
