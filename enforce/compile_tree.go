package enforce

import (
	"golang.org/x/net/bpf"
)

// leaf is where a range of numbers leads: a return value, or the block of
// multiplexer mux (an index into Arch.Mux) when mux >= 0.
type leaf struct {
	ret uint32
	mux int
}

func retLeaf(v uint32) leaf { return leaf{ret: v, mux: -1} }

// muxGate is the mux of the leaf of the first gate of the native path
// (see plan.gates), muxGate-i that of gate i: the block that lets its
// number through for one argument value and denies it for any other.
const muxGate = -2

// maxIslands is the most islands one run holds. Each island adds a jeq
// to the paths through its run, so the bound keeps paths short.
const maxIslands = 3

// dest is where a run leads: leaf to, except for the single numbers at[i]
// (i < n), which lead to exc[i]. An island folds the pattern A [x] A of
// three runs into one run and a jeq: one instruction instead of two
// comparisons, and a shallower tree.
type dest struct {
	to  leaf
	n   int
	at  [maxIslands]uint32
	exc [maxIslands]leaf
}

// run is a range of numbers with one dest. It starts at lo and ends where
// the next run of its list starts; the last run reaches 2^32-1.
type run struct {
	lo uint32
	to dest
}

// runs collects runs in ascending order and merges neighbours that lead to
// the same leaf.
type runs []run

func (rs *runs) add(lo uint32, to leaf) {
	if n := len(*rs); n > 0 && (*rs)[n-1].to.to == to {
		return
	}
	*rs = append(*rs, run{lo: lo, to: dest{to: to}})
}

// fold turns each run of a single number between two runs of one leaf
// into an island of the run before it, up to maxIslands a run.
func (rs runs) fold() runs {
	out := make(runs, 0, len(rs))
	for i := 0; i < len(rs); i++ {
		n := len(out)
		if n > 0 && i+1 < len(rs) && out[n-1].to.n < maxIslands &&
			rs[i+1].lo == rs[i].lo+1 && rs[i+1].to.to == out[n-1].to.to {
			d := &out[n-1].to
			d.at[d.n], d.exc[d.n] = rs[i].lo, rs[i].to.to
			d.n++
			i++ // the run after the island is part of out[n-1] now
			continue
		}
		out = append(out, rs[i])
	}
	return out
}

// size is the number of instructions of rs as one chunk, without exits:
// its comparisons and its island checks.
func (rs runs) size() int {
	n := len(rs) - 1
	for _, r := range rs {
		n += r.to.n
	}
	return n
}

// emitter writes decision trees into an asm.
type emitter struct {
	s     *asm
	mux   []label // entry of each multiplexer block
	gates []label // entry of each gate block
	// chunk is the most instructions of one chunk, exits excepted: every
	// jump inside a chunk, to a comparison or an exit, stays short.
	chunk int
}

// tree emits a decision over A (already loaded) for the runs rs. A tree
// larger than a chunk is split at its middle with a far jump to the upper
// half; each chunk is a balanced binary tree of jge comparisons followed
// by its island checks (jeq) and one exit per leaf that it uses.
func (e *emitter) tree(rs runs) {
	if len(rs) > 1 && rs.size() > e.chunk {
		m := len(rs) / 2
		upper, lower := e.s.newLabel(), e.s.newLabel()
		e.s.jumpIf(bpf.JumpGreaterOrEqual, rs[m].lo, labelNext, lower)
		e.s.jumpTo(upper)
		e.s.bind(lower)
		e.tree(rs[:m])
		e.s.bind(upper)
		e.tree(rs[m:])
		return
	}
	ex := &exits{s: e.s, at: map[dest]label{}}
	if len(rs) == 1 {
		ex.get(rs[0].to)
	} else {
		e.node(rs, ex)
	}
	// Island checks first, since they jump on to plain exits.
	order := ex.order
	for _, d := range order {
		if d.n == 0 {
			continue
		}
		e.s.bind(ex.at[d])
		for i := 0; i < d.n; i++ {
			no := labelNext
			if i == d.n-1 {
				no = ex.get(dest{to: d.to})
			}
			e.s.jumpIf(bpf.JumpEqual, d.at[i], ex.get(dest{to: d.exc[i]}), no)
		}
	}
	for _, d := range ex.order {
		if d.n == 0 {
			e.s.bind(ex.at[d])
			e.exit(d.to)
		}
	}
}

// exits hands out one label per dest of a chunk, in order of first use.
type exits struct {
	s     *asm
	at    map[dest]label
	order []dest
}

func (x *exits) get(d dest) label {
	if at, ok := x.at[d]; ok {
		return at
	}
	at := x.s.newLabel()
	x.at[d] = at
	x.order = append(x.order, d)
	return at
}

// node emits the comparisons of rs (two runs or more): the lower half
// follows each comparison directly, the upper half after it.
func (e *emitter) node(rs []run, ex *exits) {
	m := len(rs) / 2
	lower, upper := rs[:m], rs[m:]
	jt, jf := labelNext, labelNext
	if len(upper) == 1 {
		jt = ex.get(upper[0].to)
	} else {
		jt = e.s.newLabel()
	}
	if len(lower) == 1 {
		jf = ex.get(lower[0].to)
	}
	e.s.jumpIf(bpf.JumpGreaterOrEqual, upper[0].lo, jt, jf)
	if len(lower) > 1 {
		e.node(lower, ex)
	}
	if len(upper) > 1 {
		e.s.bind(jt)
		e.node(upper, ex)
	}
}

// exit ends a path: a return, or a far jump into a multiplexer block or
// a gate block.
func (e *emitter) exit(l leaf) {
	switch {
	case l.mux <= muxGate:
		e.s.jumpTo(e.gates[muxGate-l.mux])
	case l.mux < 0:
		e.s.ret(l.ret)
	default:
		e.s.jumpTo(e.mux[l.mux])
	}
}
