package kernel

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// release is the running kernel's major and minor version.
func release(t *testing.T) (int, int) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	rel := unix.ByteSliceToString(u.Release[:])
	if _, err := fmt.Sscanf(rel, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", rel, err)
	}
	return major, minor
}

// TestProbesMatchTheKernel: a kernel at least as new as a feature's
// version must be found to have it. An older one may have it backported,
// which is only logged.
func TestProbesMatchTheKernel(t *testing.T) {
	major, minor := release(t)
	for _, f := range All() {
		var fm, fn int
		if _, err := fmt.Sscanf(f.Since, "%d.%d", &fm, &fn); err != nil {
			t.Fatalf("%s: Since %q", f.Name, f.Since)
		}
		newer := major > fm || major == fm && minor >= fn
		got := f.Probed()
		t.Logf("%s (Linux %s): %v on %d.%d", f.Name, f.Since, got, major, minor)
		switch {
		case newer && !got:
			t.Errorf("%s: Linux %d.%d should have it (since %s)", f.Name, major, minor,
				f.Since)
		case !newer && got:
			t.Logf("%s: found on %d.%d, older than %s: a backport", f.Name, major, minor,
				f.Since)
		}
	}
}

func TestDisable(t *testing.T) {
	for _, f := range All() {
		probed := f.Probed()
		r1 := f.Disable()
		r2 := f.Disable()
		if f.Have() {
			t.Errorf("%s: Have after Disable", f.Name)
		}
		r1()
		r1() // a second call changes nothing
		if f.Have() {
			t.Errorf("%s: Have with one Disable still in force", f.Name)
		}
		r2()
		if f.Have() != probed {
			t.Errorf("%s: Have %v after both restores, want %v", f.Name, f.Have(), probed)
		}
	}
}

func TestOffByEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want bool
	}{
		{"", false},
		{"seccomp_sync_wake_up", true},
		{"proc_status_kthread,seccomp_sync_wake_up", true},
		{"all", true},
		{"seccomp", false},
	} {
		t.Setenv("CGSYSCALL_KERNEL_OFF", c.env)
		if got := offByEnv("seccomp_sync_wake_up"); got != c.want {
			t.Errorf("CGSYSCALL_KERNEL_OFF=%q: off %v, want %v", c.env, got, c.want)
		}
	}
}
