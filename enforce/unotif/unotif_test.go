package unotif

import (
	"testing"
	"unsafe"
)

// TestLayout: the structures have the kernel's sizes on every
// architecture (struct seccomp_notif is 80 bytes, seccomp_notif_resp 24).
func TestLayout(t *testing.T) {
	if n, r := unsafe.Sizeof(Notif{}), unsafe.Sizeof(Resp{}); n != 80 || r != 24 {
		t.Fatalf("sizes %d and %d, want 80 and 24", n, r)
	}
}
