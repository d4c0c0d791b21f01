package hold

import (
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

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

// TestNoteWhereDuringMove: while a move through the mount places process
// pid (held, not yet written into its group), a decided call that finds
// it where it was logs no move behind the mount's back, and leaves what
// was last seen of it alone; once no move is under way, it does (one
// line). helper-59 saw such a line at every move of a busy process.
func TestNoteWhereDuringMove(t *testing.T) {
	h, _, _, _ := holderOfG(t)
	logged := test.NewLocal(h.log)
	h.log.SetLevel(logrus.InfoLevel)
	pid := sleeper(t)
	p := newProc(1, nil, "g")
	p.seen.Store(&spot{"g", true})
	out := spot{"", false}

	h.moving.Store(int64(pid))
	h.noteWhere(&anchorEntry{}, p, pid, out)
	if n := len(logged.AllEntries()); n != 0 {
		t.Errorf("lines logged for a call during the move: %d, want 0", n)
	}
	if got := *p.seen.Load(); got != (spot{"g", true}) {
		t.Errorf("last seen after a call during the move: %v, want /g", got)
	}

	h.moving.Store(0)
	h.noteWhere(&anchorEntry{}, p, pid, out)
	if es := logged.AllEntries(); len(es) != 1 ||
		es[0].Message != "a held process moved behind the mount's back" {
		t.Errorf("lines logged for a call outside any move: %v, want the one line", es)
	}
}
