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
