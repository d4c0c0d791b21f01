package main

import (
	"syscall"

	"github.com/cgsyscall/cgsyscall/arch"
)

var table = arch.X86_64.Native

// map32Bit keeps the scratch page below 4 GiB, where int $0x80 can name it.
const map32Bit = syscall.MAP_32BIT

const sysMmap = syscall.SYS_MMAP

// i386 makes i386 syscall nr through int $0x80 with arg as its first
// argument and returns EAX, sign-extended.
var i386 = func(nr, arg uintptr) int64 { return int64(int32(int80(nr, arg))) }

// int80 is in probe_amd64.s.
func int80(nr, arg uintptr) uintptr
