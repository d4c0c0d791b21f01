package hold

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cgsyscall/cgsyscall/arch"
	"github.com/cgsyscall/cgsyscall/policy"
)

// TestPlanPass: a layer lets tgkill and tkill run with SIGURG, and
// prlimit64 with pid 0, where it notifies them only for the guard: not
// where the process needs them, not where an older filter or the layer it
// replaces notifies them with SIGURG too, not when it comes with the fixed
// layer or is the last, full one. covered then counts a passed number as
// not covered.
func TestPlanPass(t *testing.T) {
	for _, a := range []*arch.Arch{arch.X86_64, arch.AArch64} {
		t.Run(a.Name, func(t *testing.T) {
			c := testCovers(t, a)
			h := &Holder{cov: c}
			tgkill, tkill, prlimit := nr(t, a, "tgkill"), nr(t, a, "tkill"),
				nr(t, a, "prlimit64")
			getppid, seccomp := nr(t, a, "getppid"), nr(t, a, "seccomp")
			all := policy.NewSet(tgkill, tkill, prlimit)
			if !c.passable.Equal(all) {
				t.Fatalf("passable = %v, want tgkill, tkill and prlimit64", c.passable)
			}
			noTgkill := policy.NewSet(tkill, prlimit)
			c.setUnion(policy.NewSet(getppid, tgkill))
			plan := func(need policy.Set, old *layer, chain [][]unix.SockFilter) *layer {
				return h.planLayer(&member{need: need}, old, chain)
			}
			prog := func(cover, passed policy.Set) []unix.SockFilter {
				p, err := c.program(cover, passed)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			for _, tc := range []struct {
				name  string
				need  policy.Set
				old   *layer
				chain [][]unix.SockFilter
				want  policy.Set
			}{
				{"first layer", policy.NewSet(getppid), nil, [][]unix.SockFilter{}, all},
				{"tgkill needed", policy.NewSet(getppid, tgkill), nil, [][]unix.SockFilter{},
					noTgkill},
				{"prlimit64 needed", policy.NewSet(getppid, prlimit), nil,
					[][]unix.SockFilter{}, policy.NewSet(tgkill, tkill)},
				{"after a full tgkill", policy.NewSet(getppid), nil,
					[][]unix.SockFilter{prog(policy.NewSet(tgkill), policy.Set{})},
					noTgkill},
				{"after a full prlimit64", policy.NewSet(getppid), nil,
					[][]unix.SockFilter{prog(policy.NewSet(prlimit), policy.Set{})},
					policy.NewSet(tgkill, tkill)},
				{"after a pass layer", policy.NewSet(getppid), nil,
					[][]unix.SockFilter{prog(c.guard, all)}, all},
				{"grown from a pass layer", policy.NewSet(getppid),
					&layer{cover: c.guard, passed: all, depth: 1}, nil, all},
				{"grown from a full tgkill", policy.NewSet(getppid),
					&layer{cover: c.guard, passed: policy.NewSet(tkill), depth: 1}, nil,
					policy.NewSet(tkill)},
				{"with the fixed layer", policy.NewSet(getppid, seccomp), nil,
					[][]unix.SockFilter{}, policy.Set{}},
				{"the last layer", policy.NewSet(getppid),
					&layer{cover: c.guard, passed: all, depth: maxDepth - 1}, nil,
					policy.Set{}},
			} {
				lay := plan(tc.need, tc.old, tc.chain)
				if !lay.passed.Equal(tc.want) {
					t.Errorf("%s: passed %v, want %v", tc.name, lay.passed, tc.want)
				}
				if !lay.cover.Contains(c.guard.Union(tc.need.Minus(policy.NewSet(seccomp)))) {
					t.Errorf("%s: the cover lacks the guard's calls or the need", tc.name)
				}
				p := &proc{}
				p.lay.Store(lay)
				for _, n := range []int{tgkill, tkill, prlimit} {
					want := !lay.passed.Has(n)
					if got := h.covered(p, policy.NewSet(getppid, n)); got != want {
						t.Errorf("%s: covered(getppid, %d) = %v, want %v", tc.name, n, got, want)
					}
				}
				if !h.covered(p, policy.NewSet(getppid)) {
					t.Errorf("%s: getppid not covered", tc.name)
				}
			}
			// Unless tgkill is frequent no more, the union and the generous
			// cover have no say: a number in them is not passed.
			c.frequent.Remove(tgkill)
			if got := c.pass(policy.Set{}, policy.Set{}, false); !got.Equal(noTgkill) {
				t.Errorf("tgkill denied somewhere, not frequent: first layer passes %v", got)
			}
			if got := c.pass(policy.Set{}, policy.Set{}, true); !got.Equal(noTgkill) {
				t.Errorf("tgkill not frequent: grown layer passes %v", got)
			}
		})
	}
}
