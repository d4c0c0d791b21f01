package main

import (
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

// A 386 build runs on an x86_64 kernel as an i386 (compat) process.
var table = arch.X86_64.Compat

const map32Bit = 0

// sysMmap is mmap2: the 32-bit ABIs take the offset in pages.
const sysMmap = syscall.SYS_MMAP2

var i386 func(nr, arg uintptr) int64
