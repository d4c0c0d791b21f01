//go:build !linux

package enforce

import (
	"syscall"

	"golang.org/x/net/bpf"
)

// sigURG is the signal that CompilePass lets through: SIGURG of Linux on
// x86_64 and aarch64 (the filter is for Linux whatever the build's OS).
const sigURG = 23

// Load fails with ENOSYS: seccomp exists on Linux only.
func Load(insns []bpf.Instruction, flags uint) (listener int, err error) {
	return -1, syscall.ENOSYS
}
