package main

import (
	"testing"

	"github.com/cgsyscall/cgsyscall/arch"
)

// TestDescribe: show names numbers, writes runs of unassigned ones as
// ranges, and shows a set that denies most of the table by what it leaves.
func TestDescribe(t *testing.T) {
	a := arch.X86_64
	var most []int
	for n := 0; n <= a.Native.NRMax; n++ {
		if n != 0 && n != 60 && n != 231 {
			most = append(most, n)
		}
	}
	every := append([]int{0}, most...)
	every = append(every, 60, 231)
	for _, c := range []struct {
		nrs  []int
		want string
	}{
		{nil, "nothing denied"},
		{[]int{39, 63}, "39 getpid, 63 uname"},
		{[]int{334, 337, 338, 339, 424}, "334 rseq, 337-339, 424 pidfd_send_signal"},
		{[]int{337}, "337"},
		{most, "all but 3: 0 read, 60 exit, 231 exit_group"},
		{every[:a.Native.NRMax+1], "all"},
	} {
		if got := describe(a, c.nrs); got != c.want {
			t.Errorf("describe(%d numbers): %q, want %q", len(c.nrs), got, c.want)
		}
	}
}
