// Package keeper keeps the seccomp listeners of held processes open while
// no daemon runs, so that a held process can never load a listener of its
// own.
//
// # Why
//
// A held process carries a layer whose notified calls the daemon answers
// through a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) that only the
// daemon has. When the daemon dies, the kernel closes the listener and
// fails those calls with ENOSYS. But it then also accepts a new
// NEW_LISTENER filter from the held process itself (the kernel allows one
// open listener per filter chain, EBUSY only while it is open), and that
// process can answer its own calls with CONTINUE until a new daemon kills
// it. The keeper is a process of its own that keeps a copy of every
// listener for as long as its processes live: the listener never closes,
// so such a filter gets EBUSY at all times.
//
// # What it does
//
// While a daemon is connected the keeper leaves the listeners it has
// copies of alone: the daemon answers. Once that daemon's process has
// exited (its pidfd says so), or it said Bye, the keeper answers every
// notification of every kept listener with ENOSYS, which is what the
// kernel does once a listener is closed. A daemon that started later
// takes the listeners over (Client.Take), each with the PID it was kept
// for and that process's start time, and needs to inject no new layer.
// When every process of a listener's filter has exited (the listener
// polls EPOLLHUP), the keeper closes its copy on its own. It exits when it
// has kept nothing and no daemon has been there for IdleExit, and on
// SIGTERM: the listeners then close, and answering ENOSYS is the kernel's
// job again.
//
// A notification that the daemon had received and not answered when it
// died stays pending: the kernel answers such notifications only when the
// last copy of the listener closes, which the keeper prevents, so their
// callers would wait for good. The daemon therefore notes the ID of each
// notification it receives in a Mark, one slot a listener in a table that
// it shares with the keeper (a sealed memfd); the keeper answers ENOSYS to
// every notification still pending within 32 IDs of the mark (IDs of one
// listener are consecutive; answering one that was never received fails
// harmlessly with EINPROGRESS) before it answers anything else.
//
// # Who may connect
//
// The socket is SocketPath(Dir, mirror), /run/cgsyscall/keeper-NAME.sock,
// NAME spelt as in the placement log of enforce/hold, in a directory of
// mode 0700, the socket itself 0600; a lock file beside it makes one
// keeper a mirror. The keeper admits one daemon at a time and, while the
// process that has copies of its listeners lives, no other process. The
// peer must be root, with CAP_SYS_PTRACE in effect, in the keeper's user
// namespace, and have a thread under no seccomp filter: such a process can
// copy the listeners out of a running daemon with pidfd_getfd anyway,
// and every thread of a held process, and of any child of one, has the
// layer. (A daemon whose every thread runs under a filter of its own, as
// systemd's SystemCallFilter= puts there, is refused.) The keeper does
// not check that the peer runs the cgsyscall binary: a daemon started
// from an upgraded binary must be able to take over.
//
// # Failure modes
//
//   - The daemon is killed: the keeper answers ENOSYS, pending calls
//     included (the marks); a new daemon takes the listeners.
//   - The keeper is killed while the daemon runs: the daemon still has its
//     copies; its Client notices the end of the connection, starts a new
//     keeper and sends it every listener again.
//   - Both are killed, or the keeper was stopped while no daemon ran: the
//     listeners close, the kernel fails their calls with ENOSYS, and the
//     held processes can load listeners of their own until a new daemon
//     holds them again (it kills those that did). This window remains.
//   - A keeper that does not answer its daemon within the Client's
//     Timeout is killed by the daemon, and a new one is given every
//     listener; listeners that no daemon had taken yet close with it.
//   - The daemon killed between injecting a layer and sending its Keep (a
//     few microseconds of each hold): that listener closes with it.
//   - A daemon killed while the kernel was handing it a notification (in
//     SECCOMP_IOCTL_NOTIF_RECV, before the mark) on a listener it never
//     received anything on before: no mark tells the keeper where to look,
//     and that one caller waits until it gets a signal.
//
// # How a daemon uses it
//
//   - At start, before it holds anything: Connect (which starts a keeper
//     when none answers), then Take, and add each listener taken to the
//     supervisor with its Mark instead of injecting a new layer.
//   - After each injection of a notifying layer: Keep the new listener,
//     and have the supervisor note every notification it receives in the
//     returned Mark before it answers it.
//   - When the supervisor closed a listener whose processes all exited:
//     Drop it (the keeper closed its copy already; the Client closes its
//     own).
//   - Before closing a listener on purpose, to load a new NEW_LISTENER
//     layer: Drop, and go on only when it returned nil.
//   - At exit: close the supervisor, then Close the Client.
//   - Never hold the keeper (KeeperPid).
//
// # Costs
//
// An idle keeper is blocked in epoll_wait: no CPU time at all over 2 s
// with 1,000 listeners kept. Each listener costs a descriptor and a map
// entry: the keeper's resident size went from about 6.5 MiB to 7 MiB
// with 1,000 (TestThousandListeners, 2-vCPU x86_64 VM, Linux 6.18). A
// daemon pays one send for each Keep (about 10-20 µs there, with the
// keeper's side running meanwhile), a round trip for each Drop, and one
// atomic store for each notification; Take hands over 1,000 listeners in
// 10-20 ms.
package keeper
