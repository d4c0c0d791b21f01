package inject_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/enforce/inject"
	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
)

// BenchmarkHold measures Seize plus Install of a small filter into a
// running process. Each round closes the listener, so the next round may
// add another layer; a fresh victim is started every 500 layers, outside
// the timing, to stay far from the kernel's limit on a filter chain.
func BenchmarkHold(b *testing.B) {
	injecttest.RequireRoot(b)
	prog := injecttest.Filter(unix.SYS_GETPPID)
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			var v *injecttest.Victim
			for i := 0; i < b.N; i++ {
				if i%500 == 0 {
					b.StopTimer()
					if v != nil {
						v.Kill()
					}
					v = injecttest.Start(b, kind, 2)
					b.StartTimer()
				}
				fd, err := inject.Hold(v.Pid, prog)
				if err != nil {
					b.Fatal(err)
				}
				unix.Close(fd)
			}
		})
	}
}
