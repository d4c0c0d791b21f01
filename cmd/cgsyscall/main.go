// Command cgsyscall is a "syscalls" cgroup controller in user space: a FUSE
// mirror of a cgroup hierarchy whose groups carry syscalls.deny,
// syscalls.allow and tasks files, enforced with seccomp-BPF.
//
// Subcommands: mount, exec, show, export, import, resolve, help. Run
// "cgsyscall help" for the full text; doc.go holds it, and the man page
// docs/cgsyscall.8 is made from it ("cgsyscall help --man").
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// defaultMount is where administrators mount the controller, next to the
// kernel's own cgroup hierarchies.
const defaultMount = "/sys/fs/cgroup/syscalls"

// usageError is a command-line mistake: it prints the usage and exits 2,
// or 125 for exec (as env(1) and chroot(8) do: a status of exec's own,
// apart from any CMD's).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error {
	return usageError{fmt.Sprintf(format, a...)}
}

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

func main() {
	code := run(os.Args)
	if diedOf != 0 {
		dieBy(diedOf)
	}
	os.Exit(code)
}

func run(args []string) int {
	prog := filepath.Base(args[0])
	// As a mount helper (mount.fuse.cgsyscall, or called by mount.fuse3 as
	// "cgsyscall"), the arguments come in mount(8)'s order.
	if strings.HasPrefix(prog, "mount.") {
		return report(mountHelper(args[1:]))
	}
	if len(args) < 2 {
		writeUsage(os.Stderr, &doc, nil)
		fmt.Fprintln(os.Stderr, `"cgsyscall help" tells more.`)
		return 2
	}
	if c := doc.command(args[1]); c != nil && c.name != "help" && c.pending == "" &&
		asksHelp(args[2:]) {
		writeCommandHelp(os.Stdout, &doc, c)
		return 0
	}
	var err error
	switch cmd, rest := args[1], args[2:]; cmd {
	case "mount":
		err = mountCmd(rest)
	case "exec":
		err = execCmd(rest)
	case "show":
		err = showCmd(rest)
	case "export":
		err = exportCmd(rest)
	case "import":
		err = importCmd(rest)
	case "resolve":
		err = resolveCmd(rest)
	case "keeper":
		err = keeperCmd(rest) // internal: started by the daemon (package keeper)
	case "version", "--version":
		err = versionCmd(rest)
	case "help", "-h", "-help", "--help":
		err = helpCmd(rest)
	default:
		// mount.fuse3 runs "cgsyscall SOURCE MOUNTPOINT -o OPTIONS"; the
		// SOURCE "none" and "cgsyscall" mean the cgroup2 mount, as in an
		// fstab line (mountHelper).
		helper := strings.HasPrefix(cmd, "/") || cmd == "none" || cmd == "cgsyscall"
		switch {
		case helper && len(rest) > 0 && strings.HasPrefix(rest[0], "/"):
			return report(mountHelper(args[1:]))
		case helper && len(rest) > 0 && !strings.HasPrefix(rest[0], "-"):
			// The helper form with a relative mount point (mount(8)
			// always passes it absolute).
			err = usagef("mount point %q: the helper form (SOURCE MOUNTPOINT -o OPTIONS) "+
				"takes an absolute path", rest[0])
		default:
			err = usagef("unknown command %q", cmd)
		}
	}
	return report(err)
}

// report prints err the way the command line shows failures and returns the
// exit status.
func report(err error) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "cgsyscall: %s\n", ue.msg)
		// The message starts with the command's name ("exec: ...").
		name, _, _ := strings.Cut(ue.msg, ":")
		c := doc.command(name)
		if c != nil && c.name == "help" {
			c = nil
		}
		writeUsage(os.Stderr, &doc, c)
		if c != nil {
			name = " " + c.name
		} else {
			name = ""
		}
		fmt.Fprintf(os.Stderr, "\"cgsyscall help%s\" tells more.\n", name)
		if c != nil && c.name == "exec" {
			return 125
		}
		return 2
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(os.Stderr, "cgsyscall: %v\n", err)
		}
		return ee.code
	}
	fmt.Fprintf(os.Stderr, "cgsyscall: %v\n", err)
	return 1
}
