package taint

import (
	"context"
	"testing"
)

// TestReachMatchesPoison: reachability reaches exactly the transactions a
// poison trace with no stops visits, and the outputs it lists plus the
// zero-value outputs poison carries no taint on.
func TestReachMatchesPoison(t *testing.T) {
	g := NewMemGraph()
	cb := g.AddBlock(1000, MemOut{Value: 50_000, Addr: 1})
	g.AddBlock(1600)
	must := func(tx uint32, err error) uint32 {
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	a := must(g.AddTx([]uint64{g.Out(cb, 0)}, MemOut{Value: 20_000, Addr: 2}, MemOut{Value: 29_000, Addr: 3}, MemOut{Value: 0}))
	b := must(g.AddTx([]uint64{g.Out(a, 0)}, MemOut{Value: 19_000, Addr: 4}))
	must(g.AddTx([]uint64{g.Out(b, 0), g.Out(a, 1)}, MemOut{Value: 47_000, Addr: 5}, MemOut{Value: 500, Addr: 6}))
	seeds := []Seed{{Out: g.Out(cb, 0)}}
	r, err := Reach(context.Background(), g, seeds, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := ReachResult{Txs: 3, Outputs: 1 + 3 + 1 + 2, UnspentOutputs: 3, UnspentSat: 47_500, MaxHop: 2} // c is 2 hops away through a:1
	if r != want {
		t.Fatalf("Reach = %+v, want %+v", r, want)
	}
	p := DefaultParams()
	p.Model, p.MinSats, p.StopAtService = Poison, 0, false
	res, err := Trace(context.Background(), g, nil, seeds, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.TxsVisited != r.Txs {
		t.Fatalf("poison visited %d txs, Reach %d", res.Summary.TxsVisited, r.Txs)
	}
	if got, _ := Reach(context.Background(), g, seeds, 1); got.Txs != 1 || got.MaxHop != 1 {
		t.Fatalf("max hops 1: %+v", got)
	}
}
