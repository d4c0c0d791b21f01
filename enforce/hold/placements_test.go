package hold

import (
	"testing"

	"github.com/cgsyscall/cgsyscall/policy"
)

func TestPlacementLines(t *testing.T) {
	for _, w := range []placedAt{
		{"web/worker", policy.NewSet(63, 110)},
		{"", policy.Set{}},
		{"a b/\"c\"", policy.NewSet(0)},
	} {
		line := formatPlacement(placement{42, 7}, w)
		p, got, ok := parsePlacement(line)
		if !ok || p != (placement{42, 7}) || got.group != w.group || got.pin != w.pin {
			t.Errorf("%q read back as %v %+v %v", line, p, got, ok)
		}
	}
	// A line of an older daemon pins nothing; torn or garbled lines are
	// skipped.
	if _, w, ok := parsePlacement(`42 7 "web"`); !ok || w.group != "web" || !w.pin.Empty() {
		t.Errorf("old line: %+v %v", w, ok)
	}
	for _, bad := range []string{`42 7 "web`, `42 7 "web" 1,x`, `42 7 "web"x`, `0 7 "web" -`,
		`42 7 "web" 99999`} {
		if _, _, ok := parsePlacement(bad); ok {
			t.Errorf("%q was taken", bad)
		}
	}
}
