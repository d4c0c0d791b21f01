package policy

import (
	"slices"
	"testing"
)

func TestSetBasics(t *testing.T) {
	var s Set
	if !s.Empty() || s.Len() != 0 || s.Max() != -1 || s.Numbers() != nil {
		t.Fatalf("zero Set = %v, Len %d, Max %d: want empty", s, s.Len(), s.Max())
	}

	for _, n := range []int{469, 0, 63, 64, 1023, 59, 59} {
		s.Add(n)
	}
	if got, want := s.Numbers(), []int{0, 59, 63, 64, 469, 1023}; !slices.Equal(got, want) {
		t.Fatalf("Numbers() = %v, want %v", got, want)
	}
	if s.Len() != 6 || s.Max() != 1023 || s.Empty() {
		t.Fatalf("Len %d Max %d Empty %v, want 6 1023 false", s.Len(), s.Max(), s.Empty())
	}
	for _, n := range []int{-1, 1, 62, 65, 470, 1024, 1 << 30} {
		if s.Has(n) {
			t.Errorf("Has(%d) = true, want false", n)
		}
	}
	if !s.Has(64) || !s.Has(0) {
		t.Errorf("Has(64), Has(0) = %v %v, want true true", s.Has(64), s.Has(0))
	}

	s.Remove(1023)
	s.Remove(1) // absent
	s.Remove(-5)
	s.Remove(5000)
	if got := s.String(); got != "{0 59 63 64 469}" {
		t.Errorf("after Remove: %s, want {0 59 63 64 469}", got)
	}
}

func TestSetIsAValue(t *testing.T) {
	a := NewSet(1, 2)
	b := a
	c := a.Clone()
	b.Add(3)
	c.Remove(1)
	if !a.Equal(NewSet(1, 2)) || b != NewSet(1, 2, 3) || c != NewSet(2) {
		t.Fatalf("copies share storage: a=%v b=%v c=%v", a, b, c)
	}
}

func TestSetAlgebra(t *testing.T) {
	a := NewSet(1, 2, 3, 100)
	b := NewSet(3, 4, 100, 700)
	if got, want := a.Union(b), NewSet(1, 2, 3, 4, 100, 700); got != want {
		t.Errorf("Union = %v, want %v", got, want)
	}
	if got, want := a.Intersect(b), NewSet(3, 100); got != want {
		t.Errorf("Intersect = %v, want %v", got, want)
	}
	if got, want := a.Minus(b), NewSet(1, 2); got != want {
		t.Errorf("Minus = %v, want %v", got, want)
	}
	if a != NewSet(1, 2, 3, 100) {
		t.Errorf("operations changed their receiver: %v", a)
	}
	if !a.Contains(NewSet(1, 100)) || a.Contains(b) || !a.Contains(Set{}) {
		t.Errorf("Contains wrong")
	}
	if got := span(5, 4); !got.Empty() {
		t.Errorf("span(5, 4) = %v, want {}", got)
	}
	if got := span(62, 66); got != NewSet(62, 63, 64, 65, 66) {
		t.Errorf("span(62, 66) = %v", got)
	}
}

func TestSetAddPanicsOutsideCapacity(t *testing.T) {
	for _, n := range []int{-1, Capacity} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%d) did not panic", n)
				}
			}()
			var s Set
			s.Add(n)
		}()
	}
}
