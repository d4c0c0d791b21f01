package main

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestVersionLine: "cgsyscall REVISION GOVERSION OS/ARCH", the revision
// 12 hex digits (and "+dirty") or "unknown" (a test binary records no
// commit), the Go release and platform of this build.
func TestVersionLine(t *testing.T) {
	got := versionLine()
	re := regexp.MustCompile(`^cgsyscall (unknown|[0-9a-f]{12}(\+dirty)?) (\S+) (\S+)$`)
	m := re.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("versionLine() = %q, want cgsyscall REVISION GOVERSION OS/ARCH", got)
	}
	if m[3] != runtime.Version() || m[4] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("versionLine() = %q: want %s %s/%s", got, runtime.Version(), runtime.GOOS,
			runtime.GOARCH)
	}
	if err := versionCmd([]string{"x"}); err == nil || !strings.Contains(err.Error(),
		"takes no argument") {
		t.Errorf("version x: %v, want a usage error", err)
	}
}
