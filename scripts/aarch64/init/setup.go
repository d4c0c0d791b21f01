//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// mounts are made in order; the cgroup2 mount sits where the CI host has
// it, since some tests name that path.
var mounts = []struct {
	fstype, target, data string
	flags                uintptr
}{
	{"proc", "/proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	{"sysfs", "/sys", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	{"devtmpfs", "/dev", "mode=0755", unix.MS_NOSUID},
	{"tmpfs", "/tmp", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV},
	{"tmpfs", "/run", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV},
	{"tmpfs", "/sys/fs/cgroup", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	{"cgroup2", "/sys/fs/cgroup/unified", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
}

// setup mounts the file systems, loads the modules, brings lo up and
// installs busybox's applets.
func setup() error {
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %v", m.fstype, m.target, err)
		}
	}
	if err := loadModules("/aarch64/modules"); err != nil {
		return err
	}
	if err := loUp(); err != nil {
		return fmt.Errorf("lo up: %v", err)
	}
	if out, err := exec.Command("/bin/busybox", "--install", "-s").CombinedOutput(); err != nil {
		return fmt.Errorf("busybox --install: %v: %s", err, out)
	}
	return nil
}

// loadModules loads each module file that list names, one path a line,
// dependencies first.
func loadModules(list string) error {
	f, err := os.Open(list)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path := strings.TrimSpace(sc.Text())
		if path == "" {
			continue
		}
		mod, err := os.Open(path)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(mod.Fd()), "", 0)
		mod.Close()
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("finit_module %s: %v", path, err)
		}
	}
	return sc.Err()
}

// loUp sets IFF_UP on the loopback interface.
func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
