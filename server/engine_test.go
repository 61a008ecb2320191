package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/taint"
)

// TestIncrementalEqualsFullTrace is the engine's invariant: a case kept up
// block by block (and through rollbacks) holds exactly what a full
// taint.Trace of its seeds at the same tip reports — the same unspent
// tainted outputs with the same taint and segments, the same arrivals and
// the same totals — for every model and stop rule.
func TestIncrementalEqualsFullTrace(t *testing.T) {
	for i, m := range taint.AllModels {
		for _, rules := range []struct {
			maxHops int
			cj      bool
			minSats int64
		}{{0, false, 1000}, {6, true, 5000}} {
			t.Run(fmt.Sprintf("%s/hops=%d/cj=%v", m, rules.maxHops, rules.cj), func(t *testing.T) {
				ix, err := index.Open(t.TempDir(), mustNet(t), index.Options{}, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer ix.Close()
				s := newSynth(t, ix, uint64(100+i), 40)
				for range 15 {
					s.connect(s.block(25))
				}
				// Address 0 of the pool is an exchange.
				importLabels(t, ix, s.addrs[0].Encode(ix.Net)+",Exchange A,exchange,test,ownership")
				e, err := newEngine(ix, DefaultConfig().Limits, 8, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.reconcile(context.Background()); err != nil {
					t.Fatal(err)
				}
				// Seeds: outputs of blocks 3, 10 and 14 (spent by now or
				// soon) and one still unspent.
				var seedOuts []uint64
				for _, h := range []uint32{3, 10, 14} {
					b, _ := ix.BlockAt(h)
					f, _ := ix.TxOutputs(b.FirstTx + 1)
					seedOuts = append(seedOuts, f)
				}
				var seeds []string
				for _, o := range append(seedOuts, ix.NumOuts()-1) {
					tx := ix.OutTx(o)
					first, _ := ix.TxOutputs(tx)
					seeds = append(seeds, fmt.Sprintf("%s:%d", index.TxIDString(ix.TxHash(tx)), o-first))
				}
				ms := rules.minSats
				spec := CaseSpec{Name: "c", Seeds: seeds, Model: m.String(), MaxHops: rules.maxHops, StopAtCoinJoin: rules.cj, MinSats: &ms}
				cv, err := e.createCase(context.Background(), spec)
				if err != nil {
					t.Fatal(err)
				}
				compareWithTrace(t, e, cv.ID)
				step := func(n int) {
					for range n {
						s.connect(s.block(25))
						if err := e.processBlock(ix.Tip().Height); err != nil {
							t.Fatal(err)
						}
					}
					compareWithTrace(t, e, cv.ID)
				}
				step(10)
				step(10)
				// A reorg of 4 blocks, then a longer new branch.
				s.rollback(int64(ix.Tip().Height) - 4)
				if err := e.reconcile(context.Background()); err != nil {
					t.Fatal(err)
				}
				compareWithTrace(t, e, cv.ID)
				step(6)
				if cs := e.cases[cv.ID]; cs.sum.TxsVisited < 3 || cs.def.Error != "" {
					t.Fatalf("the case moved through %d transactions only (%s): the test proves little", cs.sum.TxsVisited, cs.def.Error)
				} else {
					t.Logf("%d transactions visited, %d unspent tainted outputs, %d sat arrived", cs.sum.TxsVisited, len(cs.live), cs.sum.ArrivedSat)
				}
			})
		}
	}
}

// compareWithTrace checks case id against a full trace at the index tip.
func compareWithTrace(t *testing.T, e *engine, id uint32) {
	t.Helper()
	c := e.cases[id]
	var seeds []taint.Seed
	for _, sd := range c.def.Seeds {
		outs, err := e.ix.ResolveSeed(sd, index.SeedWindow{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			seeds = append(seeds, taint.Seed{Out: o.Out, Amount: o.Amount})
		}
	}
	res, err := taint.Trace(context.Background(), &index.Graph{Index: e.ix}, e.book, seeds, c.def.params(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := c.def.model()
	want := map[uint64]string{}
	wantArr := map[uint64]string{}
	for _, o := range res.Outputs {
		switch o.Stop {
		case taint.StopUnspent:
			want[o.Out] = fmt.Sprint(o.TaintSat, normSegs(m, o.TaintSat, o.Segments), o.Hops)
		case taint.StopArrival:
			wantArr[o.Out] = fmt.Sprint(o.TaintSat, o.Label)
		}
	}
	got := map[uint64]string{}
	for o, lo := range c.live {
		got[o] = fmt.Sprint(lo.taint, lo.segs, lo.hops)
	}
	if !maps.Equal(got, want) {
		keys := slices.Sorted(maps.Keys(want))
		t.Fatalf("at height %d: case holds %d unspent tainted outputs, the trace %d\ncase  %v\ntrace %v (%v)", e.ix.Tip().Height, len(got), len(want), got, want, keys)
	}
	gotArr := map[uint64]string{}
	if err := scanPrefix(e.st, keyU32(kArrival, id), func(k, v []byte) error {
		a, err := decodeArrival(v)
		if err != nil {
			return err
		}
		gotArr[uint64(k[6])<<56|uint64(k[7])<<48|uint64(k[8])<<40|uint64(k[9])<<32|uint64(k[10])<<24|uint64(k[11])<<16|uint64(k[12])<<8|uint64(k[13])] = fmt.Sprint(a.taint, a.label)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(gotArr, wantArr) {
		t.Fatalf("arrivals: case %v, trace %v", gotArr, wantArr)
	}
	s, cs := res.Summary, c.sum
	type buckets struct {
		Traced, Unspent, Arrived, Fee, Dust, Stopped, InCJ int64
		Txs, CJs, Cons, Fans, MaxHop                       int
	}
	w := buckets{s.TracedSat, s.UnspentSat, s.ArrivedSat(), s.FeeSat, s.DustSat, s.StoppedSat, s.InCoinJoinSat, s.TxsVisited, s.CoinJoins, s.Consolidations, s.FanOuts, s.MaxHop}
	g := buckets{cs.TracedSat, cs.UnspentSat, cs.ArrivedSat, cs.FeeSat, cs.DustSat, cs.StoppedSat, cs.InCoinJoinSat, cs.TxsVisited, cs.CoinJoins, cs.Consolidations, cs.FanOuts, cs.MaxHop}
	if g != w {
		t.Fatalf("at height %d: case totals %+v\n                trace totals %+v", e.ix.Tip().Height, g, w)
	}
	if !slices.Equal(cs.Arrived, s.Arrived) && !(len(cs.Arrived) == 0 && len(s.Arrived) == 0) {
		t.Fatalf("arrived: case %+v, trace %+v", cs.Arrived, s.Arrived)
	}
}
