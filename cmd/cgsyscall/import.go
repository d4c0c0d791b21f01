package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/oci"
)

// importCmd denies in GROUP what an OCI seccomp profile denies, in one
// write to GROUP/syscalls.deny: the mount's rules for a write (all or
// nothing, EPERM, EINVAL) apply to it as a whole, and a profile that
// cannot be expressed changes nothing. Like any write to syscalls.deny it
// adds to what the group denies already.
func importCmd(args []string) error {
	fl := flag.NewFlagSet("import", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	mp := fl.String("m", defaultMount, "mount point")
	if err := fl.Parse(args); err != nil {
		return usagef("import: %v", err)
	}
	if fl.NArg() != 2 {
		return usagef("import: expected GROUP FILE")
	}
	a := arch.Host()
	if a == nil {
		return fmt.Errorf("this architecture is not supported")
	}
	group, file := groupName(*mp, fl.Arg(0)), fl.Arg(1)
	denyFile := filepath.Join(*mp, filepath.FromSlash(group), "syscalls.deny")
	if _, err := os.Stat(denyFile); err != nil {
		return groupError(*mp, group, err)
	}

	var data []byte
	var err error
	source := file
	if file == "-" {
		source = "standard input"
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return err
	}
	p, err := oci.Decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	deny, warnings, err := oci.Import(a, p)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "cgsyscall: warning: %s: %s\n", source, w)
	}

	f, err := os.OpenFile(denyFile, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	text := oci.DenyText(a, deny)
	n, err := f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != len(text) {
		err = fmt.Errorf("write %s: %d of %d bytes written", denyFile, n, len(text))
	}
	return err
}
