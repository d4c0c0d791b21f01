package cgsyscall_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The unit scripts/cgsyscall.service and scripts/install.sh, checked
// without a running systemd: nothing here starts, enables or reloads a
// unit.

// unitFile is a parsed systemd unit: the values of each key, by section,
// in order.
type unitFile map[string]map[string][]string

// readUnit parses scripts/cgsyscall.service the way systemd reads a unit:
// sections, KEY=VALUE lines, comments, backslash continuations.
func readUnit(t *testing.T) unitFile {
	t.Helper()
	data, err := os.ReadFile("scripts/cgsyscall.service")
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			key, val, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("scripts/cgsyscall.service:%d: %q is not KEY=VALUE in a section",
					i+1, line)
			}
			u[section][key] = append(u[section][key], strings.TrimSpace(val))
		}
	}
	return u
}

// one returns the single value of key, failing on none or several.
func (u unitFile) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: %q, want one value", section, key, v)
	}
	return v[0]
}

// unitMountPoint is where the unit mounts.
const unitMountPoint = "/sys/fs/cgroup/syscalls"

func TestServiceUnitKeys(t *testing.T) {
	u := readUnit(t)
	for _, c := range []struct{ section, key, want string }{
		{"Unit", "Documentation", "man:cgsyscall(8)"},
		{"Unit", "Wants", "modprobe@fuse.service"},
		{"Unit", "After", "modprobe@fuse.service local-fs.target"},
		{"Service", "Type", "notify"},
		{"Service", "ExecStartPre", "/bin/mkdir -p " + unitMountPoint},
		{"Service", "ExecStart", "/usr/local/bin/cgsyscall mount -f " + unitMountPoint},
		{"Service", "KillMode", "process"},
		{"Service", "Restart", "on-failure"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if got := u.one(t, c.section, c.key); got != c.want {
			t.Errorf("[%s] %s=%s, want %s", c.section, c.key, got, c.want)
		}
	}
	// Each of these would give the daemon a mount namespace of its own,
	// where its mount would be out of everyone else's sight; ExecStop is
	// SIGTERM's job; only the main process may notify.
	for _, key := range []string{"ExecStop", "NotifyAccess", "PrivateTmp", "PrivateMounts",
		"PrivateDevices", "ProtectSystem", "ProtectHome", "ProtectControlGroups",
		"ProtectKernelTunables", "ProtectKernelModules", "ReadOnlyPaths",
		"InaccessiblePaths", "TemporaryFileSystem", "BindPaths", "RootDirectory",
		"MountFlags", "User", "DynamicUser", "CapabilityBoundingSet", "NoNewPrivileges",
		"SystemCallFilter", "Delegate", "RuntimeDirectory"} {
		if v, ok := u["Service"][key]; ok {
			t.Errorf("[Service] %s=%q: it must not be set", key, v)
		}
	}
}

func TestServiceUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed; TestServiceUnitKeys checks the keys")
	}
	// verify wants the programs to exist: the binary under test, or this
	// test's own where it was not built.
	prog := bin.cgsyscall
	if prog == "" {
		var err error
		if prog, err = os.Executable(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("scripts/cgsyscall.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "cgsyscall.service")
	data = bytes.ReplaceAll(data, []byte("/usr/local/bin/cgsyscall"), []byte(prog))
	if err := os.WriteFile(unit, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// --man=no: the manual page is not installed here.
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// unitCommand splits an Exec line of the unit into its words as systemd
// does for this unit's lines: a leading "-" dropped, single quotes
// grouping, "$$" a dollar sign; the mount point replaced by mnt.
func unitCommand(t *testing.T, line, mnt string) []string {
	t.Helper()
	line = strings.TrimPrefix(line, "-")
	var words []string
	for i, part := range strings.Split(line, "'") {
		if i%2 == 1 {
			words = append(words, part)
			continue
		}
		words = append(words, strings.Fields(part)...)
	}
	for i, w := range words {
		w = strings.ReplaceAll(w, "$$", "$")
		words[i] = strings.ReplaceAll(w, unitMountPoint, mnt)
	}
	return words
}

func TestServiceStopPostDetachesOnlyADeadMount(t *testing.T) {
	m := newMirror(t)
	argv := unitCommand(t, readUnit(t).one(t, "Service", "ExecStopPost"), m.mnt)
	stopPost := func(what string) {
		t.Helper()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("ExecStopPost %s: %v\n%s", what, err, out)
		}
	}
	// A live mount, another daemon's: left alone.
	stopPost("on a live mount")
	if !m.mounted() || m.read("syscalls.deny") != "\n" {
		t.Fatal("ExecStopPost touched a live mount")
	}
	// The daemon killed: its mount is dead, and detached.
	pid := daemonPID(t, m)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	// The first request to a dead FUSE mount fails with ECONNABORTED, the
	// later ones with ENOTCONN; one that a thread of the dying daemon
	// still took off the device, and could not copy out, with EIO (seen
	// once, in a run on a clean clone: waitGone sees the main thread
	// gone before the others).
	var st syscall.Statfs_t
	if err := syscall.Statfs(m.mnt, &st); err != syscall.ENOTCONN &&
		err != syscall.ECONNABORTED && err != syscall.EIO {
		t.Fatalf("after kill -9, statfs of the mount: %v; want ENOTCONN", err)
	}
	stopPost("on a dead mount")
	if m.mounted() {
		t.Fatal("ExecStopPost left the dead mount")
	}
	// Nothing mounted: nothing to do.
	stopPost("on an empty directory")
}

func TestInstallScript(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command (install.sh builds the binary)")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fakebin")
	calls := filepath.Join(dir, "systemctl-calls")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	// A systemctl that only records: install.sh must not call it at all.
	script := "#!/bin/sh\necho \"$@\" >> " + calls + "\n"
	if err := os.WriteFile(filepath.Join(fake, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "usr")
	cmd := exec.Command("scripts/install.sh")
	cmd.Env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "PREFIX="+prefix,
		"UNITDIR="+filepath.Join(dir, "units"), "SBINDIR="+filepath.Join(dir, "sbin"),
		"MANDIR="+filepath.Join(dir, "man"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out),
		"systemctl daemon-reload && systemctl enable --now cgsyscall.service") {
		t.Errorf("install.sh does not say how to enable the unit:\n%s", out)
	}
	if _, err := os.Stat(calls); err == nil {
		b, _ := os.ReadFile(calls)
		t.Errorf("install.sh ran systemctl: %s", b)
	}
	binary := filepath.Join(prefix, "bin", "cgsyscall")
	if st, err := os.Stat(binary); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("the binary: %v", err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "sbin", "mount.fuse.cgsyscall")); err != nil ||
		l != binary {
		t.Errorf("the mount helper links to %q (%v), want %s", l, err, binary)
	}
	for installed, src := range map[string]string{
		filepath.Join(dir, "man", "man8", "cgsyscall.8"): "docs/cgsyscall.8",
		filepath.Join(dir, "units", "cgsyscall.service"): "scripts/cgsyscall.service",
	} {
		got, err := os.ReadFile(installed)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want = bytes.ReplaceAll(want, []byte("/usr/local/bin/cgsyscall"), []byte(binary))
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not %s (with the binary's path)", installed, src)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(dir, "units", "cgsyscall.service"))
	if !bytes.Contains(unit, []byte("\nExecStart="+binary+" mount -f "+unitMountPoint+"\n")) {
		t.Errorf("the installed unit does not start %s", binary)
	}
}
