package inject

import "testing"

// BusyChecks makes the next n checks for a process sharing the memory end
// as on a machine that creates tasks throughout them (EAGAIN), for the
// holds of test t; it returns how many of them are left.
func BusyChecks(t testing.TB, n int) func() int {
	busyChecks.Store(int32(n))
	t.Cleanup(func() { busyChecks.Store(0) })
	return func() int { return int(max(busyChecks.Load(), 0)) }
}

// SkipMemoryCheck leaves the check for a process that shares the
// memory out of the holds of test t, so that the checks behind it can be
// reached.
func SkipMemoryCheck(t testing.TB) {
	skipMemoryCheck = true
	t.Cleanup(func() { skipMemoryCheck = false })
}

// StubWhereKernelPuts maps the stubs of the holds of test t where the
// kernel would put them, not at a random address, so that a process that
// shares the memory finds them where it looks (the checks behind the
// refusal of such a process).
func StubWhereKernelPuts(t testing.TB) {
	stubAnywhere = true
	t.Cleanup(func() { stubAnywhere = false })
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
