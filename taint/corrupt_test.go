package taint

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// lyingGraph is g1 with some reads answering wrong, as a graph read from
// a damaged store would, and optionally a read error of its own.
type lyingGraph struct {
	*g1
	spender map[uint64]uint32
	prev    map[uint64]uint64
	err     error
	wrap    bool
}

func (g *lyingGraph) OutSpender(o uint64) uint32 {
	if s, ok := g.spender[o]; ok {
		return s
	}
	return g.g1.OutSpender(o)
}

func (g *lyingGraph) InputPrevOut(in uint64) uint64 {
	if o, ok := g.prev[in]; ok {
		return o
	}
	return g.g1.InputPrevOut(in)
}

func (g *lyingGraph) Err() error { return g.err }

func (g *lyingGraph) Corrupt(err error) error {
	if g.wrap {
		return fmt.Errorf("store damaged: %w", err)
	}
	return err
}

// TestTraceCorruptGraph: a graph that contradicts itself ends the trace
// with ErrCorrupt (through Graph.Corrupt) saying where, and a graph whose
// own reads failed ends it with that error, in both directions and for
// Reach; nothing panics or loops.
func TestTraceCorruptGraph(t *testing.T) {
	g := newG1(t)
	errStore := errors.New("store: a record out of range")
	tx1out0, tx3out0 := g.Out(g.tx1, 0), g.Out(g.tx3, 0)
	const in3 = 3 // tx3's only input (tx1 has input 0, tx2 inputs 1 and 2)
	cases := []struct {
		name string
		lie  lyingGraph
		dir  Direction
		seed uint64
		want string
		is   error
	}{
		{"spender before its output", lyingGraph{spender: map[uint64]uint32{tx1out0: g.cb1}}, Forward, g.s,
			fmt.Sprintf("taint: inconsistent graph: an output of tx %d is spent by tx %d, which does not come after it", g.tx1, g.cb1), ErrCorrupt},
		{"wrapped by the graph", lyingGraph{spender: map[uint64]uint32{tx1out0: g.cb1}, wrap: true}, Forward, g.s,
			fmt.Sprintf("store damaged: taint: inconsistent graph: an output of tx %d is spent by tx %d, which does not come after it", g.tx1, g.cb1), ErrCorrupt},
		{"input and spender disagree, forward", lyingGraph{prev: map[uint64]uint64{in3: tx1out0}}, Forward, g.s,
			fmt.Sprintf("taint: inconsistent graph: input %d of tx %d spends output %d, whose spender is tx %d", in3, g.tx3, tx1out0, g.tx2), ErrCorrupt},
		{"input and spender disagree, backward", lyingGraph{prev: map[uint64]uint64{in3: tx1out0}}, Backward, tx3out0,
			fmt.Sprintf("taint: inconsistent graph: input %d of tx %d spends output %d, whose spender is tx %d", in3, g.tx3, tx1out0, g.tx2), ErrCorrupt},
		{"creator after its spender, backward", lyingGraph{prev: map[uint64]uint64{in3: tx3out0}, spender: map[uint64]uint32{tx3out0: g.tx3}}, Backward, tx3out0,
			fmt.Sprintf("taint: inconsistent graph: an output of tx %d is spent by tx %d, which does not come after it", g.tx3, g.tx3), ErrCorrupt},
		{"the graph's own error", lyingGraph{err: errStore}, Forward, g.s, errStore.Error(), errStore},
		{"the graph's error first", lyingGraph{err: errStore, spender: map[uint64]uint32{tx1out0: g.cb1}}, Backward, tx3out0, errStore.Error(), errStore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lg := tc.lie
			lg.g1 = g
			p := DefaultParams()
			p.Direction, p.MinSats, p.StopAtService = tc.dir, 0, false
			for _, m := range []Model{Haircut, FIFO, Poison} {
				p.Model = m
				res, err := Trace(context.Background(), &lg, nil, []Seed{{Out: tc.seed}}, p, nil)
				if res != nil || err == nil || err.Error() != tc.want || !errors.Is(err, tc.is) {
					t.Errorf("%s: result %v, error %v\nwant error %s", m, res != nil, err, tc.want)
				}
			}
		})
	}
	if _, err := Reach(context.Background(), &lyingGraph{g1: g, err: errStore}, []Seed{{Out: g.s}}, 0); !errors.Is(err, errStore) {
		t.Errorf("reach: %v, want %v", err, errStore)
	}
}
