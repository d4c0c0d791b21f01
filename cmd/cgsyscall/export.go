package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/oci"
	"github.com/cgsyscall/cgsyscall/policy"
)

// archList collects the values of repeated --arch flags, each of which may
// hold several names separated by commas.
type archList []string

func (l *archList) String() string { return strings.Join(*l, ",") }

func (l *archList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// exportCmd prints GROUP's deny set as the linux.seccomp object of an OCI
// runtime config (package oci says what it holds and leaves out).
func exportCmd(args []string) error {
	fl := flag.NewFlagSet("export", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	mp := fl.String("m", defaultMount, "mount point")
	var names archList
	fl.Var(&names, "arch", "architectures of the profile")
	if err := fl.Parse(args); err != nil {
		return usagef("export: %v", err)
	}
	if fl.NArg() != 1 {
		return usagef("export: expected one GROUP")
	}
	a := arch.Host()
	if a == nil {
		return fmt.Errorf("this architecture is not supported")
	}
	var arches []specs.Arch
	for _, name := range names {
		sa, err := oci.ParseArch(a, name)
		if err != nil {
			return usagef("export: %v", err)
		}
		arches = append(arches, sa)
	}
	if len(arches) > 0 {
		if own := oci.Arches(a); !containsArch(arches, own[0]) {
			return usagef("export: --arch must include %s (the group's numbers are %s's)",
				own[0], a.Name)
		}
	}

	group := groupName(*mp, fl.Arg(0))
	dir := filepath.Join(*mp, filepath.FromSlash(group))
	data, err := os.ReadFile(filepath.Join(dir, "syscalls.deny"))
	if err != nil {
		return groupError(*mp, group, err)
	}
	deny, err := policy.Parse(a, data)
	if err != nil {
		return fmt.Errorf("%s/syscalls.deny: %w", dir, err)
	}
	p, warnings, err := oci.Export(a, deny, arches)
	if err != nil {
		return err
	}
	out, err := oci.Marshal(p)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "cgsyscall: warning: %s\n", w)
	}
	_, err = os.Stdout.Write(out)
	return err
}

func containsArch(list []specs.Arch, x specs.Arch) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
