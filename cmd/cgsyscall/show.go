package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

func resolveCmd(args []string) error {
	// Flags by hand: "-1" is a number to resolve, not an option.
	var toks []string
	archName := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--arch" || a == "-arch":
			if i+1 == len(args) {
				return usagef("resolve: --arch needs a value")
			}
			i++
			archName = args[i]
		case strings.HasPrefix(a, "--arch="):
			archName = strings.TrimPrefix(a, "--arch=")
		case a == "--":
			toks = append(toks, args[i+1:]...)
			i = len(args)
		default:
			toks = append(toks, a)
		}
	}
	if len(toks) == 0 {
		return usagef("resolve: expected NAME or NUMBER")
	}
	a := arch.Host()
	if archName != "" {
		var ok bool
		if a, ok = arch.ByName(archName); !ok {
			return usagef("resolve: unknown architecture %q (x86_64, aarch64: control files "+
				"take native numbers, and a 32-bit call is judged as its native counterpart)",
				archName)
		}
	}
	if a == nil {
		return fmt.Errorf("this architecture is not supported; give --arch")
	}
	// Every token is looked at, as id(1) and getent(1) do with theirs: a
	// script that resolves a list learns all that is wrong with it at once.
	var out bytes.Buffer
	bad := 0
	for _, tok := range toks {
		line, err := resolveOne(a, tok)
		if err != nil {
			os.Stdout.Write(out.Bytes())
			out.Reset()
			fmt.Fprintf(os.Stderr, "cgsyscall: %v\n", err)
			bad++
			continue
		}
		fmt.Fprintln(&out, line)
	}
	if _, err := os.Stdout.Write(out.Bytes()); err != nil {
		return err
	}
	if bad > 0 {
		return exitError{code: 1}
	}
	return nil
}

// resolveOne turns a name or a number into "NUMBER NAME".
func resolveOne(a *arch.Arch, tok string) (string, error) {
	if n, err := strconv.ParseInt(tok, 0, 64); err == nil {
		if n < 0 || n > int64(a.Native.NRMax) {
			return "", fmt.Errorf("%s: outside 0..%d on %s", tok, a.Native.NRMax, a.Name)
		}
		name, ok := a.Native.SyscallName(int(n))
		if !ok {
			name = "(unassigned)"
		}
		return fmt.Sprintf("%d %s", n, name), nil
	}
	n, ok := a.Native.SyscallNumber(tok)
	if !ok {
		return "", fmt.Errorf("%s: no such syscall on %s", tok, a.Name)
	}
	return fmt.Sprintf("%d %s", n, tok), nil
}

func showCmd(args []string) error {
	fl := flag.NewFlagSet("show", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	mp := fl.String("m", defaultMount, "mount point")
	if err := fl.Parse(args); err != nil {
		return usagef("show: %v", err)
	}
	if fl.NArg() > 1 {
		return usagef("show: at most one GROUP")
	}
	a := arch.Host()
	if a == nil {
		return fmt.Errorf("this architecture is not supported")
	}
	if _, err := mirrorOf(*mp); err != nil {
		// A group's directory would pass for the root (helper-45).
		return fmt.Errorf("show: %s is not a cgsyscall mount point (-m takes the mount "+
			"point, GROUP comes after it)", *mp)
	}
	group := groupName(*mp, fl.Arg(0))
	start := filepath.Join(*mp, filepath.FromSlash(group))
	if _, err := os.Stat(filepath.Join(start, "syscalls.deny")); err != nil {
		return groupError(*mp, group, err)
	}
	var out bytes.Buffer
	if err := showGroup(&out, a, start, group, 0); err != nil {
		return err
	}
	_, err := os.Stdout.Write(out.Bytes())
	return err
}

// showGroup prints one group and, indented below it, its children.
func showGroup(w io.Writer, a *arch.Arch, dir, name string, depth int) error {
	data, err := os.ReadFile(filepath.Join(dir, "syscalls.deny"))
	if err != nil {
		return err
	}
	deny, err := policy.Parse(a, data)
	if err != nil {
		return fmt.Errorf("%s/syscalls.deny: %w", dir, err)
	}
	tasks, err := os.ReadFile(filepath.Join(dir, "tasks"))
	if err != nil {
		return err
	}
	members := len(strings.Fields(string(tasks)))
	label := name
	if depth > 0 {
		label = filepath.Base(name)
	} else if label == "" {
		label = "/"
	}
	plural := "s"
	if members == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "%s%s (%d member%s): %s\n", strings.Repeat("  ", depth), label,
		members, plural, describe(a, deny.Numbers()))

	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var children []string
	for _, e := range entries {
		if e.IsDir() {
			children = append(children, e.Name())
		}
	}
	sort.Strings(children)
	for _, c := range children {
		if err := showGroup(w, a, filepath.Join(dir, c), name+"/"+c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// describe lists numbers with their names: "59 execve, 110 getppid", runs
// of numbers without a name as ranges ("335-423"). A set that denies more
// than half of the native table (an allow-list group, "all" then a few
// allowed) is shown by what it leaves: "all but 12: 0 read, 1 write, ...",
// where a list of 400 and more numbers made a line of 10 KB (helper-39).
func describe(a *arch.Arch, nrs []int) string {
	if len(nrs) == 0 {
		return "nothing denied"
	}
	if size := a.Native.NRMax + 1; 2*len(nrs) > size {
		denied := make([]bool, size)
		for _, n := range nrs {
			if n >= 0 && n < size {
				denied[n] = true
			}
		}
		var left []int
		for n, d := range denied {
			if !d {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			return "all"
		}
		return fmt.Sprintf("all but %d: %s", len(left), list(a, left))
	}
	return list(a, nrs)
}

// list names sorted numbers, runs of unnamed ones as ranges.
func list(a *arch.Arch, nrs []int) string {
	var parts []string
	for i := 0; i < len(nrs); i++ {
		n := nrs[i]
		if name, ok := a.Native.SyscallName(n); ok {
			parts = append(parts, fmt.Sprintf("%d %s", n, name))
			continue
		}
		j := i
		for j+1 < len(nrs) && nrs[j+1] == nrs[j]+1 {
			if _, ok := a.Native.SyscallName(nrs[j+1]); ok {
				break
			}
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(n))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", n, nrs[j]))
		}
		i = j
	}
	return strings.Join(parts, ", ")
}
