package main

import (
	"syscall"
	"unsafe"
)

func ptr(ts *syscall.Timespec) unsafe.Pointer { return unsafe.Pointer(ts) }

func bufPtr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
