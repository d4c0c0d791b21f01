package main

import (
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"
)

// notifyEnv names the socket of a service manager that waits for the
// daemon's word (a systemd unit of Type=notify, scripts/cgsyscall.service).
const notifyEnv = "NOTIFY_SOCKET"

// notifier tells the service manager, when notifyEnv names one, that the
// mount serves (READY=1) and that the daemon is shutting down
// (STOPPING=1). Without notifyEnv it does nothing.
type notifier struct {
	log      *logrus.Logger
	stopping sync.Once
}

// ready reports that the mount answers, at the moment a detached daemon
// writes "ok" on its ready descriptor.
func (n *notifier) ready(c mountConfig) {
	n.send(daemon.SdNotifyReady + "\nSTATUS=serving " + c.mountpoint + ", mirroring " +
		c.mirror)
}

// stop reports, once, that the daemon is unmounting or has been unmounted.
func (n *notifier) stop() {
	n.stopping.Do(func() { n.send(daemon.SdNotifyStopping) })
}

func (n *notifier) send(state string) {
	sent, err := daemon.SdNotify(false, state)
	what := strings.SplitN(state, "\n", 2)[0]
	if err != nil {
		n.log.WithError(err).Warn("could not tell the service manager " + what)
	} else if sent {
		n.log.Debug("told the service manager " + what)
	}
}

// withoutNotify returns env without notifyEnv: a detached daemon is not
// the process a service manager started, and must not speak for it.
func withoutNotify(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, notifyEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}
