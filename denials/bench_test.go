package denials

import (
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
)

// BenchmarkNote times counting a denial: "serial", "parallel" and
// "compat" with Note, which the first denial of a syscall in a group and
// one due for a log line take; "quiet" with Quiet and Unlogged, which
// Holder.Decide and its OnDenied hook take for the others. Compare them
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
	b.Run("quiet", func(b *testing.B) {
		b.ReportAllocs()
		book.Note("web/quiet", KeyOf(a, a.Native.AuditArch, nr, args))
		for b.Loop() {
			c := book.Quiet("web/quiet", KeyOf(a, a.Native.AuditArch, nr, args))
			if c == nil {
				b.Fatal("not quiet right after a line")
			}
			c.Unlogged()
		}
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
