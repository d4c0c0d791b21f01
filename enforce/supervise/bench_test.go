package supervise_test

import (
	"fmt"
	"testing"

	"github.com/cgsyscall/cgsyscall/enforce/inject/injecttest"
	"github.com/cgsyscall/cgsyscall/enforce/supervise"
)

// BenchmarkRoundTrip measures a notified getppid answered with CONTINUE,
// timed inside the victim (a tight loop of b.N calls), against the same
// loop in a victim that is not held.
func BenchmarkRoundTrip(b *testing.B) {
	injecttest.RequireRoot(b)
	s, err := supervise.New(func(*supervise.Notif) bool { return true })
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	run := func(b *testing.B, v *injecttest.Victim) {
		b.ResetTimer()
		var ret, ns int64
		fmt.Sscan(v.Do(b, fmt.Sprintf("loop %d", b.N)), &ret, &ns)
		b.StopTimer()
		if ret < 0 {
			b.Fatalf("getppid = %d", ret)
		}
		b.ReportMetric(float64(ns)/float64(b.N), "ns/call")
	}
	b.Run("plain", func(b *testing.B) { run(b, injecttest.Start(b, injecttest.C, 0)) })
	b.Run("notified", func(b *testing.B) {
		run(b, held(b, s, injecttest.C))
		b.ReportMetric(boolMetric(s.SyncWakeUp()), "syncwake")
	})
}

func boolMetric(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
