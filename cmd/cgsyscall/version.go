package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionCmd prints versionLine.
func versionCmd(args []string) error {
	if len(args) > 0 {
		return usagef("version: takes no argument, got %q", args[0])
	}
	fmt.Println(versionLine())
	return nil
}

// versionLine is "cgsyscall REVISION GOVERSION OS/ARCH", from what the Go
// toolchain recorded in the binary: the commit of the checkout it was built
// in (12 hex digits, "+dirty" where the tree had changes), or "unknown"
// where it recorded none (a build outside a git checkout, or with
// -buildvcs=false).
func versionLine() string {
	rev, dirty := "unknown", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return fmt.Sprintf("cgsyscall %s %s %s/%s", rev, runtime.Version(), runtime.GOOS,
		runtime.GOARCH)
}
