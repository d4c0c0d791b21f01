//go:build !(linux && (amd64 || arm64))

package supervise

import "golang.org/x/sys/unix"

// Elsewhere a stay has no tick, and listeners are served through epoll
// alone.
const haveTick = false

type tick struct{}

func startTick(int64) (*tick, error) { return nil, unix.ENOTSUP }

func (*tick) stop() {}

func (*tick) every(int64) error { return unix.ENOTSUP }
