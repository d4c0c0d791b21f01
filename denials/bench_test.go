package denials

import (
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
)

// BenchmarkNote is what Holder.Decide adds to a call it denies: the key of
// the call and its count, without the rate-limited log line. Compare it
// with the decided call itself (BenchmarkDecidedCall, ns/call-enosys, in
// the root package): docs/BENCHMARKS.md gives both.
func BenchmarkNote(b *testing.B) {
	a := arch.Host()
	if a == nil {
		b.Skip("no syscall table for this architecture")
	}
	book := New(a)
	nr, _ := a.Native.SyscallNumber("getppid")
	var args [6]uint64
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			book.Note("web/worker", KeyOf(a, a.Native.AuditArch, nr, args))
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				book.Note("web/worker", KeyOf(a, a.Native.AuditArch, nr, args))
			}
		})
	})
	if a.Compat != nil {
		cnr, _ := a.Compat.SyscallNumber("getppid")
		b.Run("compat", func(b *testing.B) {
			for b.Loop() {
				book.Note("web/worker", KeyOf(a, a.Compat.AuditArch, cnr, args))
			}
		})
	}
}
