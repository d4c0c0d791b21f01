package inject

import "testing"

// SkipMemoryCheck leaves the check for a process that shares the
// memory out of the holds of test t, so that the checks behind it can be
// reached.
func SkipMemoryCheck(t testing.TB) {
	skipMemoryCheck = true
	t.Cleanup(func() { skipMemoryCheck = false })
}

// ForgetCensus drops the census, if any: the next holds list /proc.
func ForgetCensus() {
	census.Lock()
	census.entries = nil
	census.Unlock()
}

// HarmlessCount is how many of the oldest filters of thread tid the
// cache of chains found harmless has, if it has the thread.
func HarmlessCount(tid int) (int, bool) {
	harmless.Lock()
	defer harmless.Unlock()
	for k, n := range harmless.m {
		if k.tid == tid {
			return n, true
		}
	}
	return 0, false
}
