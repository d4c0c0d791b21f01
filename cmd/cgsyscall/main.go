// Command cgsyscall is a "syscalls" cgroup controller in user space: a FUSE
// mirror of a cgroup hierarchy whose groups carry syscalls.deny,
// syscalls.allow and tasks files, enforced with seccomp-BPF.
//
// Subcommands: mount, exec, show, resolve, help. Run "cgsyscall help" for the
// full text.
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

const usageText = `usage: cgsyscall COMMAND [ARG...]

commands:
  mount [--mirror DIR] [-o OPT[,OPT...]] [-f] MOUNTPOINT
        mount the controller; returns once the mount answers (-f: stay in
        the foreground). Options: mirror=DIR, trust_root, debug, allow_other
        and FUSE's own. Without a mirror, the system's cgroup v2 root.
  exec [-m MOUNTPOINT] GROUP -- CMD [ARG...]
        run CMD as a member of GROUP, held to the group's set from its
        first instruction. Exit status: CMD's (128+N when signal N ended
        it); 125 when exec fails, 126 when CMD cannot be run, 127 when CMD
        is not found, 2 for a usage mistake.
  show [-m MOUNTPOINT] [GROUP]
        print the group tree with each group's denied syscalls (number and
        name) and member count.
  resolve [--arch ARCH] NAME|NUMBER...
        print the number and name of each syscall (ARCH: x86_64, aarch64).
  help  print this text.

The mount point defaults to ` + defaultMount + `.
`

// usageError is a command-line mistake: it prints the usage and exits 2.
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
	os.Exit(run(os.Args))
}

func run(args []string) int {
	prog := filepath.Base(args[0])
	// As a mount helper (mount.fuse.cgsyscall, or called by mount.fuse3 as
	// "cgsyscall"), the arguments come in mount(8)'s order.
	if strings.HasPrefix(prog, "mount.") {
		return report(mountHelper(args[1:]))
	}
	if len(args) < 2 {
		fmt.Fprint(os.Stderr, usageText)
		return 2
	}
	var err error
	switch cmd, rest := args[1], args[2:]; cmd {
	case "mount":
		err = mountCmd(rest)
	case "exec":
		err = execCmd(rest)
	case "show":
		err = showCmd(rest)
	case "resolve":
		err = resolveCmd(rest)
	case "keeper":
		err = keeperCmd(rest)
	case "help", "-h", "--help":
		fmt.Print(usageText)
		return 0
	default:
		// mount.fuse3 runs "cgsyscall SOURCE MOUNTPOINT -o OPTIONS".
		if strings.HasPrefix(cmd, "/") && len(rest) > 0 && strings.HasPrefix(rest[0], "/") {
			return report(mountHelper(args[1:]))
		}
		err = usagef("unknown command %q", cmd)
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
		fmt.Fprintf(os.Stderr, "cgsyscall: %s\n\n%s", ue.msg, usageText)
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
