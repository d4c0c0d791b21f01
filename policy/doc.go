// Package policy holds the syscalls controller's policy: the deny set of
// every group, the rules that keep a child at least as restricted as its
// parent, and the grammar of the syscalls.deny and syscalls.allow control
// files (SPEC sections 2 and 3).
//
// The package is pure and deterministic: it makes no system calls, knows
// nothing of FUSE or seccomp, and runs its tests unprivileged. Numbers are
// always those of the native ABI of one [arch.Arch]. Errors meant for the
// file interface unwrap to a [syscall.Errno] (EINVAL, ERANGE, EPERM,
// ENOENT), so callers match them with [errors.Is].
//
// Hazards callers must know:
//   - A [Set] holds at most [Capacity] numbers; an architecture whose
//     native table is longer makes [Parse] and [NewTree] panic.
//   - The numbers of [arch.Arch.NeverDeny] can never be denied. Naming one
//     in a write fails with EPERM, so the text that syscalls.allow reads
//     (which lists them) is not valid input for a write; the text of
//     syscalls.deny always is.
package policy
