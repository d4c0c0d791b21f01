package main

import (
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

// An arm build runs on an aarch64 kernel as an AArch32 (compat) process.
var table = arch.AArch64.Compat

const map32Bit = 0

// sysMmap is mmap2: the 32-bit ABIs take the offset in pages.
const sysMmap = syscall.SYS_MMAP2

var i386 func(nr, arg uintptr) int64
