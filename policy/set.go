package policy

import (
	"math/bits"
	"strconv"
	"strings"
)

// Capacity is one more than the highest number a [Set] can hold. Both
// supported native tables end below 512; the spare room keeps a newer
// kernel's table from outgrowing the type.
const Capacity = 1024

const words = Capacity / 64

// Set is a set of native syscall numbers, a fixed-size bit set. The zero
// value is the empty set. A Set is a value: assigning or passing it copies
// all of it (128 bytes), so no two holders ever share one, and == compares
// two sets.
type Set struct {
	w [words]uint64
}

// NewSet returns the set of the given numbers. It panics, as [Set.Add]
// does, on a number outside 0..Capacity-1.
func NewSet(nrs ...int) Set {
	var s Set
	for _, n := range nrs {
		s.Add(n)
	}
	return s
}

// Add puts n into s. It panics when n is outside 0..Capacity-1: callers
// check numbers against the table first, so such an n is a bug.
func (s *Set) Add(n int) {
	if n < 0 || n >= Capacity {
		panic("policy: syscall number " + strconv.Itoa(n) + " outside the set's capacity")
	}
	s.w[n/64] |= 1 << (n % 64)
}

// Remove takes n out of s. A number outside the capacity is never in a set,
// so removing it does nothing.
func (s *Set) Remove(n int) {
	if n >= 0 && n < Capacity {
		s.w[n/64] &^= 1 << (n % 64)
	}
}

// Has reports whether n is in s.
func (s Set) Has(n int) bool {
	return n >= 0 && n < Capacity && s.w[n/64]&(1<<(n%64)) != 0
}

// Union returns the numbers in s or in o.
func (s Set) Union(o Set) Set {
	for i := range s.w {
		s.w[i] |= o.w[i]
	}
	return s
}

// Intersect returns the numbers in both s and o.
func (s Set) Intersect(o Set) Set {
	for i := range s.w {
		s.w[i] &= o.w[i]
	}
	return s
}

// Minus returns the numbers in s that are not in o.
func (s Set) Minus(o Set) Set {
	for i := range s.w {
		s.w[i] &^= o.w[i]
	}
	return s
}

// Contains reports whether every number of o is in s (s ⊇ o).
func (s Set) Contains(o Set) bool {
	return o.Minus(s).Empty()
}

// Clone returns a copy of s. Plain assignment copies a Set just as well;
// Clone only makes the intent visible.
func (s Set) Clone() Set {
	return s
}

// Equal reports whether s and o hold the same numbers; it is s == o.
func (s Set) Equal(o Set) bool {
	return s == o
}

// Len returns how many numbers s holds.
func (s Set) Len() int {
	n := 0
	for _, w := range s.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// Empty reports whether s holds no number.
func (s Set) Empty() bool {
	return s == Set{}
}

// Max returns the highest number in s, or -1 for the empty set.
func (s Set) Max() int {
	for i := len(s.w) - 1; i >= 0; i-- {
		if s.w[i] != 0 {
			return i*64 + 63 - bits.LeadingZeros64(s.w[i])
		}
	}
	return -1
}

// Numbers returns the numbers of s in ascending order; nil for the empty
// set.
func (s Set) Numbers() []int {
	var out []int
	if n := s.Len(); n > 0 {
		out = make([]int, 0, n)
	}
	for i, w := range s.w {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			out = append(out, i*64+b)
			w &^= 1 << b
		}
	}
	return out
}

// String returns the numbers of s in ascending order inside braces, such
// as "{0 59 322}", for messages and tests.
func (s Set) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range s.Numbers() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(n))
	}
	b.WriteByte('}')
	return b.String()
}

// span returns the set of the numbers lo..hi, both included; empty when
// lo > hi.
func span(lo, hi int) Set {
	var s Set
	for n := lo; n <= hi; n++ {
		s.Add(n)
	}
	return s
}
