package main

import (
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

var table = arch.AArch64.Native

const map32Bit = 0

const sysMmap = syscall.SYS_MMAP

var i386 func(nr, arg uintptr) int64
