package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/keeper"
)

// keeperCmd runs the listener keeper of one mirror: "cgsyscall keeper
// [-dir DIR] [-log FILE|syslog] [-log-format text|json] [-idle DURATION]
// MIRROR". Not in the usage text:
// the daemon starts it (enforce/keeper). It exits 0 when another keeper of
// that mirror runs, when it has been idle, and on SIGTERM.
func keeperCmd(args []string) error {
	fl := flag.NewFlagSet("keeper", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	dir := fl.String("dir", keeper.Dir, "")
	logFile := fl.String("log", "", "")
	logFormat := fl.String("log-format", "text", "")
	idle := fl.Duration("idle", keeper.IdleExit, "")
	if err := fl.Parse(args); err != nil {
		return usagef("keeper: %v", err)
	}
	if fl.NArg() != 1 || *idle <= 0 {
		return usagef("keeper: expected [-dir DIR] [-log FILE|syslog] [-log-format text|json] " +
			"[-idle DURATION] MIRROR")
	}
	log := logrus.New()
	var sys logrus.Hook
	switch *logFile {
	case "": // standard error: the daemon's in the foreground, else /dev/null
	case syslogTarget:
		h, err := toSyslog(log)
		if err != nil {
			return err
		}
		sys = h
	default:
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		log.SetOutput(f)
	}
	if *logFormat == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	log.AddHook(keeperHook(fl.Arg(0)))
	if sys != nil {
		log.AddHook(sys) // after the keeper's field
	}
	// Not dumpable: no process without CAP_SYS_PTRACE may copy a listener
	// out of this one.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	k, err := keeper.Listen(fl.Arg(0), keeper.Options{Dir: *dir, Idle: *idle, Log: log})
	if errors.Is(err, syscall.EEXIST) {
		log.Info("another keeper of this mirror runs")
		return nil
	}
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM)
	go func() {
		<-sig
		k.Stop()
	}()
	return k.Run()
}

// keeperHook names the keeper's mirror in every log line: the keeper may
// share the daemon's log file.
type keeperHook string

func (h keeperHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h keeperHook) Fire(e *logrus.Entry) error {
	e.Data["keeper"] = string(h)
	return nil
}
