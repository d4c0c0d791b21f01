// Package inject puts a seccomp filter into a process that is already
// running, from outside, with ptrace. The daemon uses it to hold the
// members of a group to a filter whose notified calls it then decides
// live (enforce/supervise).
//
// # How
//
// [Seize] attaches to every thread (PTRACE_SEIZE with
// PTRACE_O_TRACECLONE, so threads born meanwhile are attached by the
// kernel) and asks each to stop (PTRACE_INTERRUPT). [Session.Install]
// waits for the stops and picks one stopped thread. It saves its
// registers and points them at a system call instruction (the one the
// thread stopped in, or one found in the vDSO). On x86_64 it then makes
// few ptrace stops (stub.go): a single step over that instruction maps a
// scratch page, readable, writable and executable; a small stub and the
// sock_fprog go there with process_vm_writev; the thread runs the stub,
// which clones a helper thread (same memory and thread group, a private
// copy of the file table) and stops at a trap, while the helper calls
// seccomp(SECCOMP_SET_MODE_FILTER, TSYNC|TSYNC_ESRCH|NEW_LISTENER) and
// stops at a trap of its own. The listener is copied out of the helper's
// table into this process (pidfd_getfd on a thread pidfd); the helper
// exits, which closes its copy, while another single step unmaps the
// page. Where the kernel says EACCES (no CAP_SYS_ADMIN), the helper sets
// PR_SET_NO_NEW_PRIVS and loads again. On aarch64, or where such a page
// is refused, the same calls are made one at a time, each run up to its
// syscall-exit stop. The listener never enters the table that the
// tracee's threads, and any process created with CLONE_FILES, share.
// While it is in the helper's table the process is not dumpable (the
// helper clears the flag before its load, and a single step sets it back
// once the helper is gone), so that no process of its user may copy it
// with pidfd_getfd; a process that shares the memory, which could set the
// flag again, is refused before anything is written (see Limits). The
// docs/LIMITATIONS.md lists the ways around this still open (the owner of
// the process's user namespace, a filter of its own that refuses prctl,
// a sharer whose leader has exited, a write into the page before the
// helper runs).
// Where thread pidfds are missing (before Linux 6.9, kernel.PidfdThread)
// or the clone is refused, the seccomp call is made in the stopped thread
// itself and the tracee's copy of the listener is closed right after; a
// process whose file table another process shares is then refused with
// EBUSY (Op "files"), found by kcmp(KCMP_FILES) of every process while the
// tracee is stopped. Then it restores the registers exactly, orig_rax and
// an interrupted call's -ERESTART* value included, and detaches every
// thread: the kernel restarts the interrupted call as if nothing had
// happened (a sleep continues with the time left). Every thread stays
// stopped throughout, so no code of the process can touch the page.
//
// Injected calls run with orig_rax = -1 (x86_64) or the pending syscall
// number set to NO_SYSCALL (aarch64), so that no restart logic touches
// them. On aarch64 the kernel still turns the first one into
// restart_syscall when the thread stopped in a call that is to continue
// through restart_syscall (the decision falls on the way out of the stop,
// by the program counter alone): the injector sees that at the call's
// entry stop, makes the call it meant, and restores the thread with
// restart_syscall in x8, which is what the kernel would have left there.
// The injecting thread has every signal blocked while the calls run
// (PTRACE_SETSIGMASK; its mask is put back before it is detached), so
// signals sent to it meanwhile stay pending, siginfo and order intact,
// and stop no call. A signal that still stops a call (none is known) is
// suppressed and sent again (tgkill) before detaching, siginfo lost (the
// sender appears as this process); so is the signal of a thread picked
// in a signal-delivery stop, when no thread of the process was in
// another stop. Signals that other threads stopped for are handed on by
// PTRACE_DETACH with their siginfo. A thread let go
// first may end the process (exit_group) before the rest are detached:
// those then have SIGKILL pending, cannot be detached, and report their
// exits to the tracer, which reaps them; a tracing thread is reused only
// when the kernel says it traces nothing (see idleTracer).
//
// A session's cost is mostly ptrace stops, each a wakeup of the tracee
// and then of the tracer, the filter's load and the helper thread's
// clone. Once every thread is stopped, the tracing thread and the
// injecting thread of the tracee are pinned to the tracing thread's CPU
// where both may run on every CPU, so that each wakeup is a switch on one
// CPU rather than an interrupt sent to another; the masks are put back
// before the tracee runs on (see tracer.pin). On a 2-vCPU Firecracker
// VM (Linux 6.18) that took a session from 0.46 to 0.28 ms (C victim),
// the least injection there costing 31 µs on one CPU and 160-240 µs
// across two (scripts/floor/inject.c). [HoldWith] runs on the caller's
// own OS thread, locked for the hold, which spares the hand-off to a
// tracing thread and back; a [Session] has a tracing thread of its own,
// which serves later sessions when it left no tracee attached (a few are
// kept idle).
//
// # When the daemon dies
//
// PTRACE_O_EXITKILL is set where running on would leave the process
// unheld: from the first injected call of a hold that hands its listener
// on before the process runs on (Session.Keep, HoldKept), and from the
// Stop of a member of a family whose old listener closes for a growth
// (Session.ExitKill). Otherwise the tracees of a dying daemon are
// detached by the kernel (a session's tracing thread is its tracer, and
// the kernel detaches a dead tracer's tracees) and run on.
//   - Between Seize and the first injected call, and after the registers
//     are restored, that is harmless: the threads resume where they were,
//     interrupted calls restart.
//   - While injected calls run (about 0.1 ms a process), the injecting
//     thread would resume with injected registers: it runs on from the
//     syscall instruction with the wrong registers and almost certainly
//     crashes (SIGSEGV), taking its process with it; one stopped at the
//     stub's trap runs into ud2 next (SIGILL), and a helper stopped at its
//     trap exits. A scratch page or a listener copy may also be left in
//     the process. This window cannot be closed from outside without
//     EXITKILL, which would always kill.
//   - A tracee pinned for the session keeps the one-CPU mask: it runs on,
//     held to that CPU, until somebody sets its mask again. A helper thread
//     made by the fallback path (no stub) may stay behind, stopped.
//   - After the filter went in, a dead daemon's listener closes and every
//     notified call fails with ENOSYS: fail closed.
//
// # Forks and layers
//
// A child forked before Install carries no filter: the caller reads the
// group's cgroup.procs again after Install and holds every PID it did not
// hold before. A child forked after Install inherits the filter, and with
// it the listener: its notifications arrive on the parent's listener, and
// holding it again gives EBUSY. Closing that listener affects parent and
// children alike.
//
// The kernel allows one listener per filter chain. To add a layer to a
// held process, close its listener inside [Session.InstallWith]'s hook;
// the new layer must notify every number older layers notify, because the
// kernel hands a call to the newest of the filters that give the most
// restrictive action, and a closed listener fails its calls with ENOSYS.
// If an older layer notifies seccomp(2) itself, no new layer can go in
// (the injected seccomp call fails with ENOSYS); mmap is not needed (the
// injector falls back to the stack); close and munmap after the load are
// let through on the new listener by the injector itself.
//
// # Tracers
//
// A process already traced (by a debugger, strace, a sandbox, or another
// session: ptrace admits one tracer per thread) is refused with EBUSY. A
// held process may itself trace others: seccomp judges a tracee's call
// after its tracer has seen and possibly changed it at syscall entry, so
// a tracer cannot turn a notified call into an allowed one.
//
// # Limits
//
//   - A process that shares its memory with another (clone with CLONE_VM,
//     not a thread) is refused with EBUSY (Error.Op "memory", Other the
//     other process), found by kcmp(KCMP_VM) of every process once every
//     thread is stopped (thread by thread for a process whose leader has
//     exited): the other runs on, and could rewrite the injected code.
//     Hold tries a vfork child again until it has execed (10 ms).
//     [TakeCensus] spares a run of holds the listing of /proc each. The
//     check ends once the kernel's count of created tasks shows none
//     created since its list but the holds' helpers, and lists and asks
//     again otherwise; where the machine created tasks throughout 50
//     rounds, the check starts again, 2 ms later, for up to 300 ms, and
//     the hold then fails with EAGAIN (Op "memory").
//   - 64-bit native tasks only: a task running 32-bit code (i386 on
//     x86_64, AArch32 on aarch64) is refused with EINVAL. x32 tasks run
//     64-bit code and are held.
//   - A thread in an uninterruptible sleep (D state), or blocked in a FUSE
//     request the caller itself serves, cannot stop: Install fails with
//     ETIMEDOUT after Session.Timeout and lets the process run on.
//   - A timeout that comes while injected code runs (a load of a long
//     program on a loaded machine) gives the threads 200 ms more to reach
//     a stop, so that their registers are put back and the helper exits; a
//     load that went in meanwhile stays, with its listener closed, so its
//     notified calls fail with ENOSYS. A thread that does not stop even
//     then is let go where it is, which may end the process.
//   - A process whose injecting thread is in seccomp strict mode dies of
//     the first injected call (strict mode kills on any call but read,
//     write, exit and rt_sigreturn), and no filter could join that mode
//     anyway. The caller must leave such a process alone: enforce/hold
//     reads the mode from /proc/PID/status first and refuses it (EINVAL).
//     A process that enters strict mode during the hold's fraction of a
//     millisecond is not caught.
//   - Needs Linux 5.7 (TSYNC_ESRCH; pidfd_getfd is 5.6) and CAP_SYS_PTRACE.
//
// The arch-bound code is in machine_amd64.go and machine_arm64.go; the
// register layouts and their pure logic (x86regs.go, a64regs.go) build on
// every architecture, so their tests run everywhere.
package inject
