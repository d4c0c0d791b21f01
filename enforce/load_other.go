//go:build !linux

package enforce

import (
	"syscall"

	"golang.org/x/net/bpf"
)

// Load fails with ENOSYS: seccomp exists on Linux only.
func Load(insns []bpf.Instruction, flags uint) (listener int, err error) {
	return -1, syscall.ENOSYS
}
