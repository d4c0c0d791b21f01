package hold

import "testing"

// TestLineBudget: at most movesPerSecond lines a second go out; the first
// one of a later second says how many were held back.
func TestLineBudget(t *testing.T) {
	var b lineBudget
	for i := range movesPerSecond {
		if ok, held := b.take(100); !ok || held != 0 {
			t.Fatalf("line %d of the first second: %v, %d held; want let through", i+1, ok,
				held)
		}
	}
	for range 3 {
		if ok, _ := b.take(100); ok {
			t.Fatalf("a line beyond %d in one second let through", movesPerSecond)
		}
	}
	if ok, held := b.take(101); !ok || held != 3 {
		t.Errorf("the next second's first line: %v, %d held; want let through, 3", ok, held)
	}
	if ok, held := b.take(101); !ok || held != 0 {
		t.Errorf("its second line: %v, %d held; want let through, 0", ok, held)
	}
}
