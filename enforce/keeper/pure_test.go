package keeper

import (
	"strings"
	"testing"
)

func TestSocketPath(t *testing.T) {
	cases := []struct{ mirror, want string }{
		{"/sys/fs/cgroup", "/run/cgsyscall/keeper-sys_fs_cgroup.sock"},
		{"/sys/fs/cgroup/unified/web/", "/run/cgsyscall/keeper-sys_fs_cgroup_unified_web.sock"},
		{"/", "/run/cgsyscall/keeper-.sock"},
	}
	for _, c := range cases {
		if got := SocketPath("/run/cgsyscall", c.mirror); got != c.want {
			t.Errorf("SocketPath(%q) = %q, want %q", c.mirror, got, c.want)
		}
	}
	long := "/sys/fs/cgroup/" + strings.Repeat("a", 100)
	p := SocketPath("/run/cgsyscall", long)
	if len(p) > maxSun || !strings.HasPrefix(p, "/run/cgsyscall/keeper-") {
		t.Errorf("SocketPath of a long mirror = %q (%d bytes)", p, len(p))
	}
	if q := SocketPath("/run/cgsyscall", long+"b"); q == p {
		t.Errorf("two long mirrors share the socket %q", p)
	}
}

func TestMsgRoundTrip(t *testing.T) {
	m := msg{Op: opListener, Errno: 38, Pid: 123456, Slot: 1<<20 - 1, Start: 1<<40 + 7}
	b := m.encode()
	if len(b) != msgSize {
		t.Fatalf("encoded size %d, want %d", len(b), msgSize)
	}
	if got := decode(b); got != m {
		t.Errorf("decode(encode(%+v)) = %+v", m, got)
	}
}

func TestCapSet(t *testing.T) {
	if !capSet("000001ffffffffff", capSysPtrace) || capSet("0000000000000000", capSysPtrace) ||
		capSet("0000000000080000", 18) || !capSet("0000000000080000", capSysPtrace) {
		t.Error("capSet misreads CapEff masks")
	}
}
