package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	lsyslog "github.com/sirupsen/logrus/hooks/syslog"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/enforce/hold"
	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/keeper"
	cgfs "github.com/cgsyscall/cgsyscall/fs"
	"github.com/cgsyscall/cgsyscall/persist"
	"github.com/cgsyscall/cgsyscall/policy"
)

// readyFDEnv names the descriptor on which a detached daemon reports that
// its mount answers ("ok") or why it failed.
const readyFDEnv = "CGSYSCALL_READY_FD"

// Where a detached daemon logs: log=FILE, log=syslog, or without log= the
// system log when the machine has one, else defaultLogFile.
const (
	defaultLogFile = "/var/log/cgsyscall.log"
	syslogTarget   = "syslog"
	// syslogSocketEnv names a socket to use instead of /dev/log. Only
	// tests set it, to receive the daemon's lines on a socket of theirs.
	syslogSocketEnv = "CGSYSCALL_SYSLOG_SOCKET"
)

// mountConfig is everything a mount needs, from flags or an fstab line.
type mountConfig struct {
	mountpoint string
	mirror     string
	foreground bool
	debug      bool
	trustRoot  bool
	allowOther bool
	logFile    string
	logJSON    bool
}

// parseOptions applies one -o list (comma separated, as in fstab).
func (c *mountConfig) parseOptions(list string) error {
	for _, o := range strings.Split(list, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		switch key {
		case "":
		case "mirror":
			if !hasVal || val == "" {
				return fmt.Errorf("option mirror needs a directory (mirror=DIR)")
			}
			c.mirror = val
		case "trust_root":
			c.trustRoot = true
		case "debug":
			c.debug = true
		case "allow_other":
			c.allowOther = true
		case "log":
			c.logFile = val
		case "log_format":
			if val != "text" && val != "json" {
				return fmt.Errorf("option log_format takes text or json, not %q", val)
			}
			c.logJSON = val == "json"
		// Generic options mount(8) passes on, and FUSE's own that the
		// daemon applies anyway: accepted and ignored.
		case "defaults", "rw", "auto", "noauto", "nofail", "_netdev", "user",
			"nouser", "users", "exec", "noexec", "suid", "nosuid", "dev",
			"nodev", "default_permissions", "relatime", "noatime", "atime", "comment":
		default:
			// x-* options belong to mount(8) and systemd (X-mount.mkdir,
			// x-systemd.requires=...); should one come through, it is theirs.
			if strings.HasPrefix(strings.ToLower(key), "x-") {
				continue
			}
			return fmt.Errorf("unknown mount option %q", o)
		}
	}
	return nil
}

func mountCmd(args []string) error {
	var c mountConfig
	fl := flag.NewFlagSet("mount", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	fl.StringVar(&c.mirror, "mirror", "", "real cgroup directory to mirror")
	fl.BoolVar(&c.foreground, "f", false, "stay in the foreground")
	fl.BoolVar(&c.debug, "debug", false, "log debug detail")
	fl.StringVar(&c.logFile, "log", "", "log file when detached, or syslog")
	logFormat := fl.String("log-format", "text", "text or json")
	var opts []string
	fl.Func("o", "mount options", func(s string) error { opts = append(opts, s); return nil })
	if err := fl.Parse(args); err != nil {
		return usagef("mount: %v", err)
	}
	// Options may follow the mount point too, as mount(8) users write them
	// ("cgsyscall mount --mirror DIR MNT -o log=FILE").
	if fl.NArg() > 1 && strings.HasPrefix(fl.Arg(1), "-") {
		mp := fl.Arg(0)
		if err := fl.Parse(fl.Args()[1:]); err != nil {
			return usagef("mount: %v", err)
		}
		if fl.NArg() != 0 {
			return usagef("mount: exactly one MOUNTPOINT expected, got %q and %q", mp,
				fl.Arg(0))
		}
		c.mountpoint = mp
	} else if fl.NArg() != 1 {
		return usagef("mount: exactly one MOUNTPOINT expected (options go before or after " +
			"it: cgsyscall mount [OPTIONS] MOUNTPOINT [OPTIONS])")
	} else {
		c.mountpoint = fl.Arg(0)
	}
	switch *logFormat {
	case "text", "json":
		c.logJSON = *logFormat == "json"
	default:
		return usagef("mount: --log-format takes text or json")
	}
	for _, o := range opts {
		if err := c.parseOptions(o); err != nil {
			return usagef("mount: %v", err)
		}
	}
	return doMount(c)
}

// mountHelper is the mount(8) helper form: "mount.fuse.cgsyscall SOURCE
// MOUNTPOINT [-o OPTIONS]" (or "-t TYPE"), also as mount.fuse3 calls it
// ("cgsyscall SOURCE MOUNTPOINT -o OPTIONS"). SOURCE is the mirrored
// directory unless a mirror= option names it; "cgsyscall" or "none" mean
// the system's cgroup v2 root. mount(8) reads exit status 32 as a mount
// failure.
func mountHelper(args []string) error {
	var c mountConfig
	var pos []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			i++
			if err := c.parseOptions(args[i]); err != nil {
				return exitError{32, err}
			}
		case a == "-t" && i+1 < len(args):
			i++
		case strings.HasPrefix(a, "-"):
			// -n, -s, -f, -v: nothing to do for a FUSE daemon.
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return exitError{32, errors.New("mount helper: expected SOURCE MOUNTPOINT")}
	}
	if src := pos[0]; c.mirror == "" && src != "cgsyscall" && src != "none" {
		c.mirror = src
	}
	c.mountpoint = pos[1]
	if err := doMount(c); err != nil {
		return exitError{32, err}
	}
	return nil
}

// doMount checks what a mount needs, then either serves in the foreground
// or starts a detached daemon and waits until its mount answers.
func doMount(c mountConfig) (err error) {
	served := false
	if fd, e := strconv.Atoi(os.Getenv(readyFDEnv)); e == nil {
		// The daemon spawnDaemon started: a check that fails here (the
		// other daemon's mount came up since the parent looked) is said
		// to the parent, which would only learn that the daemon exited.
		// serve says its own.
		defer func() {
			if err != nil && !served {
				ready := os.NewFile(uintptr(fd), "ready")
				fmt.Fprintln(ready, err)
				ready.Close()
			}
		}()
	}
	if os.Geteuid() != 0 {
		return errors.New("mount needs root (the daemon holds processes to seccomp filters)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return errors.New("/dev/fuse is missing: load the fuse module (modprobe fuse)")
	}
	if c.mirror == "" {
		root, err := cgroup2Root()
		if err != nil {
			return err
		}
		c.mirror = root
	}
	mirror, err := filepath.Abs(c.mirror)
	if err != nil {
		return err
	}
	c.mirror = mirror
	if err := checkCgroupDir(c.mirror); err != nil {
		return err
	}
	mp, err := filepath.Abs(c.mountpoint)
	if err != nil {
		return err
	}
	c.mountpoint = mp
	if fi, err := os.Stat(mp); err != nil {
		return fmt.Errorf("mount point: %w%s", err, deadHint(mp, err))
	} else if !fi.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", mp)
	}
	if mounted, err := isMountPoint(mp); err != nil {
		return err
	} else if mounted {
		return fmt.Errorf("%s is already a mount point", mp)
	}
	// Two daemons over one hierarchy, or over nested parts of it, would keep
	// two policies for the same groups, overwrite each other's saved sets
	// and fight over their processes.
	if other, at := mountOfMirror(c.mirror); at != "" {
		if other == c.mirror || other == realPath(c.mirror) {
			return fmt.Errorf("%s is already mirrored at %s", c.mirror, at)
		}
		return fmt.Errorf("%s overlaps %s, which is already mirrored at %s", c.mirror, other,
			at)
	}
	if !c.foreground {
		if fd := os.Getenv(readyFDEnv); fd == "" {
			return spawnDaemon(c)
		}
	}
	served = true
	return serve(c)
}

// spawnDaemon re-executes this binary in the foreground form, detached in
// its own session, and returns once the child says its mount answers.
func spawnDaemon(c mountConfig) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"mount", "--mirror", c.mirror, "--log-format", logFormatName(c)}
	if c.debug {
		args = append(args, "--debug")
	}
	if c.logFile, err = logTarget(c); err != nil {
		return err
	}
	args = append(args, "--log", c.logFile)
	var o []string
	if c.trustRoot {
		o = append(o, "trust_root")
	}
	if c.allowOther {
		o = append(o, "allow_other")
	}
	if len(o) > 0 {
		args = append(args, "-o", strings.Join(o, ","))
	}
	args = append(args, c.mountpoint)
	cmd := exec.Command(self, args...)
	cmd.Env = append(withoutNotify(os.Environ()), readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the daemon: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	if strings.TrimSpace(string(msg)) == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if len(msg) == 0 {
		where := c.logFile
		if where == syslogTarget {
			where = "the system log (tag cgsyscall)"
		}
		return errors.New("the daemon exited before its mount answered; see " + where)
	}
	return errors.New(strings.TrimSpace(string(msg)))
}

func logFormatName(c mountConfig) string {
	if c.logJSON {
		return "json"
	}
	return "text"
}

// serve mounts and serves until the file system is unmounted; SIGTERM and
// SIGINT unmount. A service manager named by NOTIFY_SOCKET hears READY=1
// once the mount answers and STOPPING=1 when the daemon begins to end.
func serve(c mountConfig) (err error) {
	var ready *os.File
	if fd, e := strconv.Atoi(os.Getenv(readyFDEnv)); e == nil {
		// Not inherited by the listener keeper, which would keep the
		// parent waiting for the end of the pipe.
		unix.CloseOnExec(fd)
		ready = os.NewFile(uintptr(fd), "ready")
		os.Unsetenv(readyFDEnv)
		defer func() {
			if err != nil {
				fmt.Fprintln(ready, err)
			}
			ready.Close()
		}()
	}
	log, err := newLogger(c, ready != nil)
	if err != nil {
		return err
	}
	a := arch.Host()
	if a == nil {
		return errors.New("this architecture is not supported (x86_64 and aarch64 are)")
	}
	cl, err := claimMirror(c.mirror)
	if err != nil {
		return err
	}
	defer cl.release()
	tree := policy.NewTree(a)
	store, err := persist.Open(c.mirror, c.mountpoint, a)
	if err != nil {
		return err
	}
	defer store.Close()
	savedStats := map[string][]byte{}
	store.RestoreStats(func(group string, val []byte) { savedStats[group] = val })
	sum, err := store.Load(tree)
	if err != nil {
		return err
	}
	log.WithField("mirror", c.mirror).Info("policy restored: " + sum.String())
	holder, err := hold.New(a, tree, c.mirror, c.trustRoot, log)
	if err != nil {
		return err
	}
	defer holder.Close()
	holder.CoverMountPoint(c.mountpoint) // before the mount covers it
	// The listener keeper logs where the daemon does, in its format: its
	// file or the system log, or in the foreground its standard error
	// (a terminal, the journal's socket, a file), but for a pipe, whose
	// reader would wait for the keeper's end as well, long after the
	// daemon's.
	keeperLog := keeper.ClientOptions{LogFile: c.logFile, LogJSON: c.logJSON}
	if ready == nil {
		keeperLog.LogFile = ""
		if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeNamedPipe == 0 {
			keeperLog.LogStderr = os.Stderr
		}
	}
	holder.ConnectKeeper(keeperLog)
	book := holder.Denials()
	restoreStats(book, savedStats, log)
	stopFlush := flushStats(book, store, log)
	defer stopFlush()
	holder.Scan()
	srv, err := cgfs.Mount(c.mountpoint, cgfs.Options{
		Mirror:   c.mirror,
		Tree:     tree,
		Arch:     a,
		Enforcer: holder,
		Log:      log,
		Debug:    c.debug,
		Store:    store,
		Counts:   book,
	})
	if err != nil {
		return fmt.Errorf("mounting %s: %w", c.mountpoint, err)
	}
	holder.Run()
	log.WithFields(logrus.Fields{"mountpoint": c.mountpoint, "mirror": c.mirror}).
		Info("mounted")
	// Catch SIGTERM before anyone may know the mount is there: one sent
	// right after mount(8) returns must unmount, not kill the daemon.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
	notify := &notifier{log: log}
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
		ready = nil
		devNull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		for _, fd := range []int{0, 1, 2} {
			unix.Dup2(int(devNull.Fd()), fd)
		}
	}
	notify.ready(c)
	go func() {
		s := <-sig
		log.WithField("signal", s.String()).Info("unmounting")
		notify.stop()
		if err := srv.Unmount(); err != nil {
			log.WithError(err).Warn("unmount failed")
		}
	}()
	srv.Wait()
	// Unmounted: a mount of the mirror made right after must not find it
	// claimed while this daemon ends (helper-62: 12 of 120 remounts in
	// loops were refused as overlapping the daemon still exiting).
	cl.release()
	notify.stop() // unmounted from outside (umount MOUNTPOINT)
	log.WithField("mountpoint", c.mountpoint).Info("unmounted, exiting")
	return nil
}

// logTarget returns where a detached daemon of c logs: the file that
// log= names (made absolute: the daemon runs in /), the system log for
// log=syslog, and without log= the system log when its socket answers,
// else defaultLogFile.
func logTarget(c mountConfig) (string, error) {
	switch c.logFile {
	case syslogTarget:
		return syslogTarget, nil
	case "":
		if conn, err := dialSyslog(); err == nil {
			conn.Close()
			return syslogTarget, nil
		}
		return defaultLogFile, nil
	}
	return filepath.Abs(c.logFile)
}

// syslogSocket is the system log's socket, /dev/log unless a test says.
func syslogSocket() string {
	if p := os.Getenv(syslogSocketEnv); p != "" {
		return p
	}
	return "/dev/log"
}

// dialSyslog connects to the system log's socket, a datagram socket as
// journald and rsyslog make it, or else a stream one.
func dialSyslog() (net.Conn, error) {
	conn, err := net.Dial("unixgram", syslogSocket())
	if err != nil {
		if c, err2 := net.Dial("unix", syslogSocket()); err2 == nil {
			return c, nil
		}
	}
	return conn, err
}

// newLogger makes the daemon's logger: standard error in the foreground;
// when detached, the file c names or the system log (facility daemon, tag
// cgsyscall, each line's severity its level's).
func newLogger(c mountConfig, detached bool) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	var hook logrus.Hook
	switch {
	case detached && c.logFile == syslogTarget:
		sys, err := toSyslog(log)
		if err != nil {
			return nil, fmt.Errorf("log=syslog: %w", err)
		}
		hook = sys
	case detached:
		f, err := os.OpenFile(c.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("log file: %w", err)
		}
		log.SetOutput(f)
	}
	if c.logJSON {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	if c.debug {
		log.SetLevel(logrus.DebugLevel)
		inject.Debugf = log.WithField("part", "inject").Debugf
	}
	// Daemons of several mounts may share a log: every line names its
	// mount. The hook goes first, so the system log's lines have it too.
	log.AddHook(mountHook(c.mountpoint))
	if hook != nil {
		log.AddHook(hook)
	}
	return log, nil
}

// toSyslog makes log write to the system log only (facility daemon, tag
// cgsyscall, each line's severity its level's), and returns the hook that
// does it, for the caller to add after its own.
func toSyslog(log *logrus.Logger) (logrus.Hook, error) {
	sys, err := lsyslog.NewSyslogHook("unixgram", syslogSocket(),
		syslog.LOG_DAEMON|syslog.LOG_INFO, "cgsyscall")
	if err != nil {
		// A stream socket, as some syslog daemons make it.
		if h, err2 := lsyslog.NewSyslogHook("unix", syslogSocket(),
			syslog.LOG_DAEMON|syslog.LOG_INFO, "cgsyscall"); err2 == nil {
			sys, err = h, nil
		}
	}
	if err != nil {
		return nil, err
	}
	log.SetOutput(io.Discard)
	// The system log stamps every line itself.
	log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	return sys, nil
}

// cgroup2Root finds the system's cgroup v2 mount in /proc/self/mountinfo.
func cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE ...
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				return fields[4], nil
			}
		}
	}
	return "", errors.New("no cgroup2 file system is mounted; give --mirror DIR")
}

// checkCgroupDir makes sure dir is a directory of a cgroup file system.
func checkCgroupDir(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("mirror %s: %w", dir, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC && st.Type != unix.CGROUP_SUPER_MAGIC {
		return fmt.Errorf("mirror %s is not a cgroup directory", dir)
	}
	return nil
}

// mountOfMirror returns the mirror and the mount point of a cgsyscall
// mount whose mirror is mirror, lies inside it or contains it, or "" and
// "". Mirrors are compared where they lie in their file system (fsSpot),
// so a second path to the same cgroups (another cgroup2 mount of the
// hierarchy, a bind mount) is no way around it (helper-58: a second
// daemon mirrored the same groups through a second cgroup2 mount, and a
// write through it overwrote the first one's saved set).
func mountOfMirror(mirror string) (string, string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	mounts := parseMountinfo(string(data))
	mine := realPath(mirror)
	for _, m := range mounts {
		if m.fstype == "fuse.cgsyscall" && overlaps(mounts, mine, m.source) {
			return m.source, m.point
		}
	}
	return "", ""
}

// mountLine is one line of /proc/self/mountinfo.
type mountLine struct {
	dev    string // major:minor of the file system
	root   string // the directory of the file system mounted
	point  string // where
	fstype string
	source string
}

// parseMountinfo reads the lines of a mountinfo file, in its order.
func parseMountinfo(data string) []mountLine {
	var out []mountLine
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+2 < len(f) && i >= 5 {
				out = append(out, mountLine{dev: f[2], root: unescapeMount(f[3]),
					point: unescapeMount(f[4]), fstype: f[i+1], source: unescapeMount(f[i+2])})
				break
			}
		}
	}
	return out
}

// fsSpot returns the file system that holds directory p (an absolute path
// without symbolic links) and p's path from that file system's root,
// through the mount that holds p: the one with the longest mount point
// above it, the last mounted of those on one point. ok is false when no
// mount holds it.
func fsSpot(mounts []mountLine, p string) (dev, path string, ok bool) {
	best := -1
	for i, m := range mounts {
		if (p == m.point || m.point == "/" || strings.HasPrefix(p, m.point+"/")) &&
			(best < 0 || len(m.point) >= len(mounts[best].point)) {
			best = i
		}
	}
	if best < 0 {
		return "", "", false
	}
	m := mounts[best]
	rel := strings.TrimPrefix(strings.TrimPrefix(p, m.point), "/")
	return m.dev, filepath.Join(m.root, rel), true
}

// overlaps tells whether directories a and b are one, or one lies in the
// other, where they lie in their file systems; by their paths where
// mountinfo does not say.
func overlaps(mounts []mountLine, a, b string) bool {
	devA, pathA, okA := fsSpot(mounts, a)
	devB, pathB, okB := fsSpot(mounts, b)
	if !okA || !okB {
		return nested(a, b)
	}
	return nested(a, b) || devA == devB && nested(pathA, pathB)
}

// nested tells whether directories a and b are one, or one lies in the
// other.
func nested(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") ||
		a == "/" || b == "/"
}

// realPath is p absolute with its symbolic links resolved, or p as it is
// when that fails.
func realPath(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return p
	}
	if r, err = filepath.Abs(r); err != nil {
		return p
	}
	return r
}

// isMountPoint reports whether dir is the root of a mount.
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Stat(filepath.Join(dir, ".."), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev || st.Ino == parent.Ino, nil
}

// mountHook adds the mount point to every log line.
type mountHook string

func (h mountHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h mountHook) Fire(e *logrus.Entry) error {
	if _, ok := e.Data["mountpoint"]; !ok {
		e.Data["mountpoint"] = string(h)
	}
	return nil
}
