package taint

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cointrail/cointrail/chain"
)

func out(v int64, addr uint32) MemOut { return MemOut{Value: v, Addr: addr, Type: chain.ScriptP2WPKH} }

func mustTx(t testing.TB, g *MemGraph, spends []uint64, outs ...MemOut) uint32 {
	t.Helper()
	tx, err := g.AddTx(spends, outs...)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// g1 is the main hand-built graph (tx numbers in brackets):
//
//	block 0: [0] cb0 → s 100 000 (addr 1), c 50 000 (addr 2)
//	block 1: [1] cb1;  [2] tx1: s → 60 000 (3), 39 000 (4); fee 1000
//	block 2: [3] cb2;  [4] tx2: tx1:0 + c → 100 000 (5, the exchange), 9000 (6); fee 1000
//	                   [5] tx3: tx1:1 → 38 000 (7); fee 1000
//	block 3: [6] cb3;  [7] tx4: tx2:1 → 8500 (8); fee 500
//
// Coinbases claim 50 BTC plus exactly their block's fees.
type g1 struct {
	*MemGraph
	s, c               uint64
	tx1, tx2, tx3, tx4 uint32
	cb1, cb2, cb3      uint32
	attr               MemAttribution
	exchange           Entity
}

func newG1(t testing.TB) *g1 {
	g := &g1{MemGraph: NewMemGraph(), exchange: Entity{Label: "Exchange X", Category: "exchange"}}
	cb0 := g.AddBlock(1000, out(100_000, 1), out(50_000, 2))
	g.s, g.c = g.Out(cb0, 0), g.Out(cb0, 1)
	g.cb1 = g.AddBlock(2000, out(5_000_001_000, 99))
	g.tx1 = mustTx(t, g.MemGraph, []uint64{g.s}, out(60_000, 3), out(39_000, 4))
	g.cb2 = g.AddBlock(3000, out(5_000_002_000, 99))
	g.tx2 = mustTx(t, g.MemGraph, []uint64{g.Out(g.tx1, 0), g.c}, out(100_000, 5), out(9000, 6))
	g.tx3 = mustTx(t, g.MemGraph, []uint64{g.Out(g.tx1, 1)}, out(38_000, 7))
	g.cb3 = g.AddBlock(4000, out(5_000_000_500, 99))
	g.tx4 = mustTx(t, g.MemGraph, []uint64{g.Out(g.tx2, 1)}, out(8500, 8))
	g.attr = MemAttribution{5: g.exchange}
	return g
}

func params(m Model) Params {
	p := DefaultParams()
	p.Model = m
	p.MinSats = 0
	return p
}

// taintOf is what a result says about one output, for comparisons.
type taintOf struct {
	out   uint64
	taint int64
	stop  Stop
	hops  int
}

func summarize(r *Result) []taintOf {
	var s []taintOf
	for _, o := range r.Outputs {
		s = append(s, taintOf{o.Out, o.TaintSat, o.Stop, o.Hops})
	}
	return s
}

// checkConservation asserts traced = unspent + arrived + fee + dust + stopped
// + mined, and that the stop buckets agree with the outputs.
func checkConservation(t *testing.T, r *Result) {
	t.Helper()
	s := r.Summary
	if r.Model != Poison {
		if sum := s.UnspentSat + s.ArrivedSat() + s.FeeSat + s.DustSat + s.StoppedSat + s.MinedSat; sum != s.TracedSat {
			t.Fatalf("%s %s: traced %d, buckets sum %d (%+v)", r.Model, r.Params.Direction, s.TracedSat, sum, s)
		}
	}
	for _, o := range r.Outputs {
		if o.TaintSat <= 0 || o.TaintSat > o.ValueSat {
			t.Fatalf("output %s:%d taint %d value %d", o.TxID, o.Vout, o.TaintSat, o.ValueSat)
		}
	}
}

func TestTraceForwardHaircut(t *testing.T) {
	g := newG1(t)
	p := params(Haircut)
	r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// tx1: everything tainted: 60 000, 39 000, fee 1000.
	// tx2: T 60 000 of V 110 000: 100 000 → 54 545.45, 9000 → 4909.09,
	//      fee 1000 → 545.45; one leftover satoshi, out0 and the fee tie on
	//      the remainder, the lower index (out0) wins: 54 546, 4909, 545.
	// tx3: 38 000, fee 1000.
	// tx4: 4909 of 9000 into 8500 → 4636.28, fee 500 → 272.72: 4636, 273.
	want := []taintOf{
		{g.s, 100_000, StopFollowed, 0},
		{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
		{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
		{g.Out(g.tx2, 0), 54_546, StopArrival, 2},
		{g.Out(g.tx2, 1), 4909, StopFollowed, 2},
		{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
		{g.Out(g.tx4, 0), 4636, StopUnspent, 3},
	}
	if got := summarize(r); !slices.Equal(got, want) {
		t.Errorf("outputs\n got %v\nwant %v", got, want)
	}
	s := r.Summary
	if s.TracedSat != 100_000 || s.UnspentSat != 42_636 || s.FeeSat != 2818 || s.TxsVisited != 4 || s.MaxHop != 3 {
		t.Errorf("summary %+v", s)
	}
	wantArr := []Arrival{{Label: "Exchange X", Category: "exchange", Sat: 54_546, FirstHeight: 2}}
	if !slices.Equal(s.Arrived, wantArr) {
		t.Errorf("arrived %+v, want %+v", s.Arrived, wantArr)
	}
	if s.FirstTime != 1000 || s.LastTime != 4000 {
		t.Errorf("time span %d..%d, want 1000..4000", s.FirstTime, s.LastTime)
	}
	checkConservation(t, r)
	wantEdges := []Edge{
		{FromTx: r.Outputs[0].TxID, ToTx: displayHash(g.TxHash(g.tx1)), Vout: 0, Sat: 100_000},
		{FromTx: displayHash(g.TxHash(g.tx1)), ToTx: displayHash(g.TxHash(g.tx2)), Vout: 0, Sat: 60_000},
		{FromTx: displayHash(g.TxHash(g.tx1)), ToTx: displayHash(g.TxHash(g.tx3)), Vout: 1, Sat: 39_000},
		{FromTx: displayHash(g.TxHash(g.tx2)), ToTx: displayHash(g.TxHash(g.tx4)), Vout: 1, Sat: 4909},
	}
	if !slices.Equal(r.Edges, wantEdges) {
		t.Errorf("edges\n got %+v\nwant %+v", r.Edges, wantEdges)
	}
	ex := r.Outputs[3]
	if ex.Label != "Exchange X" || ex.Category != "exchange" || ex.Address != "addr5" || ex.Spent || ex.Height != 2 || ex.Vout != 0 {
		t.Errorf("arrival output %+v", ex)
	}
}

// The same graph under the segment models; FIFO and LIFO treat tx2 (a
// tainted input then a clean one) in opposite ways.
func TestTraceForwardModels(t *testing.T) {
	g := newG1(t)
	tests := []struct {
		model                      Model
		want                       []taintOf
		arrived, unspent, fee, txs int64
	}{
		{FIFO, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			// tx2 stream T[0,60000) C[60000,110000): out0 [0,100000) takes it all.
			{g.Out(g.tx2, 0), 60_000, StopArrival, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
		}, 60_000, 38_000, 2000, 3},
		{LIFO, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			// tx2 layout: fee [0,1000), out1 [1000,10000), out0 [10000,110000).
			{g.Out(g.tx2, 0), 50_000, StopArrival, 2},
			{g.Out(g.tx2, 1), 9000, StopFollowed, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
			// tx4: fee [0,500), out [500,9000).
			{g.Out(g.tx4, 0), 8500, StopUnspent, 3},
		}, 50_000, 46_500, 3500, 4},
		{TIHO, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			// tx2: fee 1000·60000/110000 → 545; 59 455 to the largest output.
			{g.Out(g.tx2, 0), 59_455, StopArrival, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
		}, 59_455, 38_000, 2545, 3},
		{Poison, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			{g.Out(g.tx2, 0), 100_000, StopArrival, 2},
			{g.Out(g.tx2, 1), 9000, StopFollowed, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
			{g.Out(g.tx4, 0), 8500, StopUnspent, 3},
		}, 100_000, 46_500, 3500, 4},
	}
	for _, tc := range tests {
		t.Run(tc.model.String(), func(t *testing.T) {
			r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, params(tc.model), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(r); !slices.Equal(got, tc.want) {
				t.Errorf("outputs\n got %v\nwant %v", got, tc.want)
			}
			s := r.Summary
			if s.ArrivedSat() != tc.arrived || s.UnspentSat != tc.unspent || s.FeeSat != tc.fee || int64(s.TxsVisited) != tc.txs {
				t.Errorf("arrived %d unspent %d fee %d txs %d, want %d %d %d %d",
					s.ArrivedSat(), s.UnspentSat, s.FeeSat, s.TxsVisited, tc.arrived, tc.unspent, tc.fee, tc.txs)
			}
			checkConservation(t, r)
		})
	}
}

func TestTraceSegmentsCarried(t *testing.T) {
	g := newG1(t)
	// FIFO with only the first 30 000 sat of s tainted: tx1 out0 [0,60000)
	// gets [0,30000), out1 nothing; tx2 out0 gets the same interval.
	r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s, Amount: 30_000}}, params(FIFO), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []taintOf{
		{g.s, 30_000, StopFollowed, 0},
		{g.Out(g.tx1, 0), 30_000, StopFollowed, 1},
		{g.Out(g.tx2, 0), 30_000, StopArrival, 2},
	}
	if got := summarize(r); !slices.Equal(got, want) {
		t.Fatalf("outputs\n got %v\nwant %v", got, want)
	}
	for _, o := range r.Outputs {
		if !slices.Equal(o.Segments, []Seg{{0, 30_000}}) {
			t.Errorf("%s:%d segments %v", o.TxID, o.Vout, o.Segments)
		}
	}
	// LIFO: tx1 lays fee [0,1000), out1 [1000,40000), out0 [40000,100000):
	// the tainted [0,30000) is the fee's 1000 and out1's first 29 000.
	r, err = Trace(context.Background(), g, g.attr, []Seed{{Out: g.s, Amount: 30_000}}, params(LIFO), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Outputs[1]; got.Out != g.Out(g.tx1, 1) || !slices.Equal(got.Segments, []Seg{{0, 29_000}}) {
		t.Errorf("LIFO tx1 output %+v", got)
	}
	if r.Summary.FeeSat != 1000+1000 || r.Summary.UnspentSat != 28_000 {
		t.Errorf("LIFO summary %+v", r.Summary)
	}
	checkConservation(t, r)
}

func TestTraceStops(t *testing.T) {
	g := newG1(t)
	tests := []struct {
		name   string
		change func(*Params)
		attr   Attribution
		want   []taintOf
		// buckets
		stopped, dust, fee int64
	}{
		{"max hops 1", func(p *Params) { p.MaxHops = 1 }, g.attr, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopMaxHops, 1},
			{g.Out(g.tx1, 1), 39_000, StopMaxHops, 1},
		}, 99_000, 0, 1000},
		{"dust", func(p *Params) { p.MinSats = 5000 }, g.attr, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			{g.Out(g.tx2, 0), 54_546, StopArrival, 2},
			{g.Out(g.tx2, 1), 4909, StopDust, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
		}, 0, 4909, 2545},
		{"height window", func(p *Params) { p.ToHeight = 1 }, g.attr, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopWindow, 1},
			{g.Out(g.tx1, 1), 39_000, StopWindow, 1},
		}, 99_000, 0, 1000},
		{"time window", func(p *Params) { p.FromTime = 1500; p.ToTime = 3500 }, g.attr, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			{g.Out(g.tx2, 0), 54_546, StopArrival, 2},
			{g.Out(g.tx2, 1), 4909, StopWindow, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
		}, 4909, 0, 2545},
		{"seed outside from height still followed", func(p *Params) { p.FromHeight = 2 }, g.attr, []taintOf{
			{g.s, 100_000, StopWindow, 0},
		}, 100_000, 0, 0},
		{"through services", func(p *Params) { p.StopAtService = false }, g.attr, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			{g.Out(g.tx2, 0), 54_546, StopUnspent, 2},
			{g.Out(g.tx2, 1), 4909, StopFollowed, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
			{g.Out(g.tx4, 0), 4636, StopUnspent, 3},
		}, 0, 0, 2818},
		{"nil attribution", func(p *Params) {}, nil, []taintOf{
			{g.s, 100_000, StopFollowed, 0},
			{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
			{g.Out(g.tx1, 1), 39_000, StopFollowed, 1},
			{g.Out(g.tx2, 0), 54_546, StopUnspent, 2},
			{g.Out(g.tx2, 1), 4909, StopFollowed, 2},
			{g.Out(g.tx3, 0), 38_000, StopUnspent, 2},
			{g.Out(g.tx4, 0), 4636, StopUnspent, 3},
		}, 0, 0, 2818},
		{"seed at a service", func(p *Params) {}, MemAttribution{1: {Label: "Pool", Category: "mining"}}, []taintOf{
			{g.s, 100_000, StopArrival, 0},
		}, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := params(Haircut)
			tc.change(&p)
			r, err := Trace(context.Background(), g, tc.attr, []Seed{{Out: g.s}}, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(r); !slices.Equal(got, tc.want) {
				t.Errorf("outputs\n got %v\nwant %v", got, tc.want)
			}
			s := r.Summary
			if s.StoppedSat != tc.stopped || s.DustSat != tc.dust || s.FeeSat != tc.fee {
				t.Errorf("stopped %d dust %d fee %d, want %d %d %d", s.StoppedSat, s.DustSat, s.FeeSat, tc.stopped, tc.dust, tc.fee)
			}
			checkConservation(t, r)
		})
	}
	// Without StopAtService the exchange output is still labelled.
	p := params(Haircut)
	p.StopAtService = false
	r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := r.Outputs[3]; o.Label != "Exchange X" || len(r.Summary.Arrived) != 0 {
		t.Errorf("through services: output %+v arrived %+v", o, r.Summary.Arrived)
	}
}

func TestTraceMaxTxs(t *testing.T) {
	g := newG1(t)
	p := params(Haircut)
	p.MaxTxs = 2
	r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, nil)
	if !errors.Is(err, ErrLimit) || err.Error() != "taint: limit reached: visited max_txs=2 transactions" {
		t.Fatalf("err %v", err)
	}
	// tx1 and tx2 visited; tx3 and tx4 were waiting.
	want := []taintOf{
		{g.s, 100_000, StopFollowed, 0},
		{g.Out(g.tx1, 0), 60_000, StopFollowed, 1},
		{g.Out(g.tx1, 1), 39_000, StopLimit, 1},
		{g.Out(g.tx2, 0), 54_546, StopArrival, 2},
		{g.Out(g.tx2, 1), 4909, StopLimit, 2},
	}
	if got := summarize(r); !slices.Equal(got, want) {
		t.Errorf("outputs\n got %v\nwant %v", got, want)
	}
	if s := r.Summary; !s.Truncated || s.TxsVisited != 2 || s.StoppedSat != 43_909 || s.FeeSat != 1545 {
		t.Errorf("summary %+v", s)
	}
	checkConservation(t, r)
}

func TestTraceFeesToCoinbase(t *testing.T) {
	g := newG1(t)
	p := params(Haircut)
	p.FeesToCoinbase = true
	r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each coinbase claims exactly its block's fees, so it carries exactly
	// the tainted fees: block 1: 1000; block 2: 545 + 1000; block 3: 273.
	for _, c := range []struct {
		cb    uint32
		taint int64
		hops  int
	}{{g.cb1, 1000, 1}, {g.cb2, 1545, 2}, {g.cb3, 273, 3}} {
		i := slices.IndexFunc(r.Outputs, func(o TaintedOutput) bool { return o.Out == g.Out(c.cb, 0) })
		if i < 0 || r.Outputs[i].TaintSat != c.taint || r.Outputs[i].Stop != StopUnspent || r.Outputs[i].Hops != c.hops {
			t.Errorf("coinbase %d: %+v", c.cb, r.Outputs)
		}
	}
	if s := r.Summary; s.FeeSat != 0 || s.UnspentSat != 42_636+2818 || s.TxsVisited != 7 {
		t.Errorf("summary %+v", s)
	}
	var fees []Edge
	for _, e := range r.Edges {
		if e.Fee {
			fees = append(fees, e)
		}
	}
	if len(fees) != 4 || fees[0].ToTx != displayHash(g.TxHash(g.cb1)) || fees[0].Sat != 1000 {
		t.Errorf("fee edges %+v", fees)
	}
	checkConservation(t, r)

	// A coinbase that claims less than the tainted fees destroys the rest.
	m := NewMemGraph()
	cb := m.AddBlock(0, out(10_000, 1))
	m.AddBlock(1, out(400, 9)) // claims 400 of the 1000 fee below
	mustTx(t, m, []uint64{m.Out(cb, 0)}, out(9000, 2))
	r, err = Trace(context.Background(), m, nil, []Seed{{Out: m.Out(cb, 0)}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Summary; s.FeeSat != 600 || s.UnspentSat != 9400 {
		t.Errorf("under-claimed coinbase: %+v", s)
	}
	checkConservation(t, r)
}

func TestTraceCoinJoin(t *testing.T) {
	g := NewMemGraph()
	cb := g.AddBlock(0, out(60_000, 1), out(70_000, 2))
	g.AddBlock(1, out(1, 9))
	cj := mustTx(t, g, []uint64{g.Out(cb, 0), g.Out(cb, 1)}, out(50_000, 3), out(50_000, 4), out(29_000, 5))
	g.AddBlock(2, out(1, 9))
	tx := mustTx(t, g, []uint64{g.Out(cj, 0)}, out(49_000, 6))
	// Haircut, T 60 000 of V 130 000: 23 076.92, 23 076.92, 13 384.62, fee
	// 461.54; the three leftover satoshis go to the three outputs.
	// Then tx: 23 077 of 50 000 into 49 000 → 22 615.46, fee 461.54 → 462.
	tests := []struct {
		stop bool
		want []taintOf
	}{
		{false, []taintOf{
			{g.Out(cb, 0), 60_000, StopFollowed, 0},
			{g.Out(cj, 0), 23_077, StopFollowed, 1},
			{g.Out(cj, 1), 23_077, StopUnspent, 1},
			{g.Out(cj, 2), 13_385, StopUnspent, 1},
			{g.Out(tx, 0), 22_615, StopUnspent, 2},
		}},
		{true, []taintOf{
			{g.Out(cb, 0), 60_000, StopFollowed, 0},
			{g.Out(cj, 0), 23_077, StopCoinJoin, 1},
			{g.Out(cj, 1), 23_077, StopUnspent, 1},
			{g.Out(cj, 2), 13_385, StopUnspent, 1},
		}},
	}
	for _, tc := range tests {
		p := params(Haircut)
		p.StopAtCoinJoin = tc.stop
		r, err := Trace(context.Background(), g, nil, []Seed{{Out: g.Out(cb, 0)}}, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := summarize(r); !slices.Equal(got, tc.want) {
			t.Errorf("stop %v outputs\n got %v\nwant %v", tc.stop, got, tc.want)
		}
		if s := r.Summary; s.CoinJoins != 1 || s.InCoinJoinSat != 60_000 {
			t.Errorf("stop %v: coinjoins %d in %d", tc.stop, s.CoinJoins, s.InCoinJoinSat)
		}
		checkConservation(t, r)
	}
}

func TestTraceBackward(t *testing.T) {
	g := newG1(t)
	tests := []struct {
		name  string
		model Model
		attr  Attribution
		want  []taintOf
		mined int64
		src   int64
	}{
		// tx4: 8500 from tx2:1. tx2: 8500 over inputs 60 000 and 50 000 →
		// 4636.36 and 3863.64: 4636 and 3864. c is a coinbase output (mined);
		// tx1 passes 4636 to s, also mined.
		{"haircut", Haircut, nil, []taintOf{
			{g.s, 4636, StopMined, 3},
			{g.c, 3864, StopMined, 2},
			{g.Out(g.tx1, 0), 4636, StopFollowed, 2},
			{g.Out(g.tx2, 1), 8500, StopFollowed, 1},
			{g.Out(g.tx4, 0), 8500, StopFollowed, 0},
		}, 8500, 0},
		{"haircut with a labelled source", Haircut, MemAttribution{2: {Label: "Pool", Category: "mining"}}, []taintOf{
			{g.s, 4636, StopMined, 3},
			{g.c, 3864, StopArrival, 2},
			{g.Out(g.tx1, 0), 4636, StopFollowed, 2},
			{g.Out(g.tx2, 1), 8500, StopFollowed, 1},
			{g.Out(g.tx4, 0), 8500, StopFollowed, 0},
		}, 4636, 3864},
		// FIFO: tx2:1 sits at [100000,108500) of tx2's stream, all inside
		// input 1 ([60000,110000)) = c.
		{"fifo", FIFO, nil, []taintOf{
			{g.c, 8500, StopMined, 2},
			{g.Out(g.tx2, 1), 8500, StopFollowed, 1},
			{g.Out(g.tx4, 0), 8500, StopFollowed, 0},
		}, 8500, 0},
		// LIFO: out1 at [1000,10000) of tx2's stream, inside input 0.
		{"lifo", LIFO, nil, []taintOf{
			{g.s, 8500, StopMined, 3},
			{g.Out(g.tx1, 0), 8500, StopFollowed, 2},
			{g.Out(g.tx2, 1), 8500, StopFollowed, 1},
			{g.Out(g.tx4, 0), 8500, StopFollowed, 0},
		}, 8500, 0},
		{"tiho", TIHO, nil, []taintOf{
			{g.s, 8500, StopMined, 3},
			{g.Out(g.tx1, 0), 8500, StopFollowed, 2},
			{g.Out(g.tx2, 1), 8500, StopFollowed, 1},
			{g.Out(g.tx4, 0), 8500, StopFollowed, 0},
		}, 8500, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := params(tc.model)
			p.Direction = Backward
			r, err := Trace(context.Background(), g, tc.attr, []Seed{{Out: g.Out(g.tx4, 0)}}, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(r); !slices.Equal(got, tc.want) {
				t.Errorf("outputs\n got %v\nwant %v", got, tc.want)
			}
			if s := r.Summary; s.MinedSat != tc.mined || s.ArrivedSat() != tc.src || s.FeeSat != 0 || s.UnspentSat != 0 {
				t.Errorf("summary %+v", s)
			}
			checkConservation(t, r)
		})
	}
	// Backward edges point the way the value moved.
	p := params(FIFO)
	p.Direction = Backward
	r, err := Trace(context.Background(), g, nil, []Seed{{Out: g.Out(g.tx4, 0)}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Edge{
		{FromTx: displayHash(g.TxHash(0)), ToTx: displayHash(g.TxHash(g.tx2)), Vout: 1, Sat: 8500},
		{FromTx: displayHash(g.TxHash(g.tx2)), ToTx: displayHash(g.TxHash(g.tx4)), Vout: 1, Sat: 8500},
	}
	if !slices.Equal(r.Edges, want) {
		t.Errorf("edges %+v, want %+v", r.Edges, want)
	}
}

// A seed downstream of another seed: the overlap is counted once.
func TestTraceOverlappingSeeds(t *testing.T) {
	g := newG1(t)
	one, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, params(Haircut), nil)
	if err != nil {
		t.Fatal(err)
	}
	two, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.Out(g.tx1, 0), Amount: 10_000}, {Out: g.s}}, params(Haircut), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Same taint everywhere; only the hop counts differ (tx1:0 is a seed).
	strip := func(r *Result) (s []taintOf) {
		for _, o := range summarize(r) {
			o.hops = 0
			s = append(s, o)
		}
		return s
	}
	if !slices.Equal(strip(one), strip(two)) || one.Summary.TracedSat != two.Summary.TracedSat {
		t.Errorf("overlapping seed changed the trace:\n%v\n%v", summarize(one), summarize(two))
	}
	checkConservation(t, two)
	// FIFO: [0,10000) of tx1:0 is already tainted by s, [50000,60000) is not.
	two, err = Trace(context.Background(), g, g.attr, []Seed{{Out: g.s, Amount: 50_000}, {Out: g.Out(g.tx1, 0), Amount: 10_000}}, params(FIFO), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := two.Summary; s.TracedSat != 50_000 {
		t.Errorf("FIFO overlap: traced %d, want 50000", s.TracedSat)
	}
	checkConservation(t, two)
}

func TestTracePeelChains(t *testing.T) {
	g := NewMemGraph()
	cb := g.AddBlock(0, out(1_000_000, 1))
	g.AddBlock(1, out(1, 9))
	p1 := mustTx(t, g, []uint64{g.Out(cb, 0)}, out(100_000, 10), out(899_000, 11))
	p2 := mustTx(t, g, []uint64{g.Out(p1, 1)}, out(850_000, 12), out(48_000, 13))
	p3 := mustTx(t, g, []uint64{g.Out(p2, 0)}, out(20_000, 14), out(829_000, 15))
	p4 := mustTx(t, g, []uint64{g.Out(p3, 1)}, out(9000, 16), out(819_000, 17))
	// Spends the smaller output: a new (one-step) chain, not reported.
	mustTx(t, g, []uint64{g.Out(p4, 0)}, out(4000, 18), out(4500, 19))
	// A fan-out and a consolidation of three of its outputs.
	f := mustTx(t, g, []uint64{g.Out(p4, 1)}, out(100_000, 20), out(100_000, 21), out(100_000, 22), out(100_000, 23), out(418_000, 24))
	mustTx(t, g, []uint64{g.Out(f, 0), g.Out(f, 1), g.Out(f, 2)}, out(299_000, 25))

	r, err := Trace(context.Background(), g, nil, []Seed{{Out: g.Out(cb, 0)}}, params(Haircut), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []PeelChain{{FirstTxID: displayHash(g.TxHash(p1)), LastTxID: displayHash(g.TxHash(p4)), Length: 4,
		PeeledSat: 100_000 + 48_000 + 20_000 + 9000}}
	s := r.Summary
	if !slices.Equal(s.PeelChains, want) || s.FanOuts != 1 || s.Consolidations != 1 || s.CoinJoins != 0 {
		t.Errorf("peel chains %+v fan-outs %d consolidations %d", s.PeelChains, s.FanOuts, s.Consolidations)
	}
	// Backward from the consolidation finds the same chain.
	p := params(Haircut)
	p.Direction = Backward
	r, err = Trace(context.Background(), g, nil, []Seed{{Out: g.Out(g.NumTxs()-1, 0)}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Summary; !slices.Equal(s.PeelChains, want) || s.MinedSat != 299_000 {
		t.Errorf("backward peel chains %+v mined %d", s.PeelChains, s.MinedSat)
	}
}

func TestTraceErrors(t *testing.T) {
	g := newG1(t)
	s1 := displayHash(g.TxHash(g.tx1)).String()
	tests := []struct {
		name   string
		seeds  []Seed
		change func(*Params)
		want   string
	}{
		{"no model", []Seed{{Out: g.s}}, func(p *Params) { p.Model = 0 }, "taint: bad parameters: unknown model model(0) (valid: poison, haircut, fifo, lifo, tiho)"},
		{"direction", []Seed{{Out: g.s}}, func(p *Params) { p.Direction = 7 }, "taint: bad parameters: unknown direction direction(7) (valid: forward, backward)"},
		{"max hops", []Seed{{Out: g.s}}, func(p *Params) { p.MaxHops = -1 }, "taint: bad parameters: max_hops -1 is negative"},
		{"min sats", []Seed{{Out: g.s}}, func(p *Params) { p.MinSats = -5 }, "taint: bad parameters: min_sats -5 is negative"},
		{"max txs", []Seed{{Out: g.s}}, func(p *Params) { p.MaxTxs = -2 }, "taint: bad parameters: max_txs -2 is negative"},
		{"heights", []Seed{{Out: g.s}}, func(p *Params) { p.FromHeight, p.ToHeight = 5, 4 }, "taint: bad parameters: from_height 5 is above to_height 4"},
		{"times", []Seed{{Out: g.s}}, func(p *Params) { p.FromTime, p.ToTime = 5, 4 }, "taint: bad parameters: from_time 5 is after to_time 4"},
		{"negative time", []Seed{{Out: g.s}}, func(p *Params) { p.FromTime = -1 }, "taint: bad parameters: negative time window [-1, 0]"},
		{"fees backward", []Seed{{Out: g.s}}, func(p *Params) { p.FeesToCoinbase, p.Direction = true, Backward }, "taint: bad parameters: fees_to_coinbase applies to forward traces only"},
		{"no seeds", nil, func(*Params) {}, "taint: bad parameters: no seeds"},
		{"seed range", []Seed{{Out: 99}}, func(*Params) {}, "taint: bad parameters: seed output 99 out of range (the graph has 11 outputs)"},
		{"seed twice", []Seed{{Out: g.Out(g.tx1, 1)}, {Out: g.Out(g.tx1, 1), Amount: 5}}, func(*Params) {}, "taint: bad parameters: seed " + s1 + ":1 given twice"},
		{"seed amount", []Seed{{Out: g.Out(g.tx1, 1), Amount: 39_001}}, func(*Params) {}, "taint: bad parameters: seed " + s1 + ":1 amount 39001 outside [0, 39000]"},
		{"seed negative", []Seed{{Out: g.Out(g.tx1, 1), Amount: -1}}, func(*Params) {}, "taint: bad parameters: seed " + s1 + ":1 amount -1 outside [0, 39000]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := params(Haircut)
			tc.change(&p)
			r, err := Trace(context.Background(), g, g.attr, tc.seeds, p, nil)
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrBadParams) || r != nil {
				t.Fatalf("err %v\nwant %s", err, tc.want)
			}
		})
	}
	// A zero-value seed.
	m := NewMemGraph()
	cb := m.AddBlock(0, out(0, 1))
	_, err := Trace(context.Background(), m, nil, []Seed{{Out: m.Out(cb, 0)}}, params(FIFO), nil)
	if want := "taint: bad parameters: seed " + displayHash(m.TxHash(cb)).String() + ":0 carries no value"; err == nil || err.Error() != want {
		t.Errorf("err %v, want %s", err, want)
	}
}

func TestTraceCanceled(t *testing.T) {
	g := newG1(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := Trace(ctx, g, g.attr, []Seed{{Out: g.s}}, params(Haircut), nil)
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Fatalf("err %v", err)
	}
}

func TestTraceProgress(t *testing.T) {
	g := newG1(t)
	p := params(Haircut)
	var calls []int
	p.Progress = func(n int) { calls = append(calls, n) }
	if _, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []int{4}) {
		t.Errorf("progress calls %v, want [4]", calls)
	}
}

func TestTraceModels(t *testing.T) {
	g := newG1(t)
	p := params(0)
	p.MaxTxs = 3
	rs, err := TraceModels(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, []Model{FIFO, Haircut}, nil)
	// FIFO visits 3 transactions and finishes; haircut needs 4.
	if !errors.Is(err, ErrLimit) || err.Error() != "model haircut: taint: limit reached: visited max_txs=3 transactions" {
		t.Fatalf("err %v", err)
	}
	if len(rs) != 2 || rs[0].Model != FIFO || rs[1].Model != Haircut || rs[0].Summary.Truncated || !rs[1].Summary.Truncated {
		t.Fatalf("results %v", rs)
	}
	for _, r := range rs {
		single, _ := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, r.Params, nil)
		a, _ := single.JSON()
		b, _ := r.JSON()
		if string(a) != string(b) {
			t.Errorf("%s: TraceModels differs from Trace", r.Model)
		}
	}
	for _, bad := range []struct {
		models []Model
		want   string
	}{
		{nil, "taint: bad parameters: no model given (valid: poison, haircut, fifo, lifo, tiho)"},
		{[]Model{FIFO, FIFO}, "taint: bad parameters: model fifo given twice"},
		{[]Model{FIFO, 9}, "taint: bad parameters: unknown model model(9) (valid: poison, haircut, fifo, lifo, tiho)"},
	} {
		if _, err := TraceModels(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, bad.models, nil); err == nil || err.Error() != bad.want {
			t.Errorf("models %v: err %v, want %s", bad.models, err, bad.want)
		}
	}
}

func TestMemGraphErrors(t *testing.T) {
	g := NewMemGraph()
	if _, err := g.AddTx([]uint64{0}, out(1, 1)); err == nil || err.Error() != "taint: bad parameters: memgraph: AddTx before AddBlock" {
		t.Errorf("err %v", err)
	}
	cb := g.AddBlock(0, out(100, 1))
	tests := []struct {
		spends []uint64
		outs   []MemOut
		want   string
	}{
		{[]uint64{g.Out(cb, 0)}, []MemOut{out(1, 1)}, "taint: bad parameters: memgraph: input 0 spends coinbase output 0 in its own block"},
		{nil, []MemOut{out(1, 1)}, "taint: bad parameters: memgraph: only AddBlock makes a transaction without inputs"},
	}
	for _, tc := range tests {
		if _, err := g.AddTx(tc.spends, tc.outs...); err == nil || err.Error() != tc.want {
			t.Errorf("err %v, want %s", err, tc.want)
		}
	}
	g.AddBlock(1, out(1, 9))
	tx := mustTx(t, g, []uint64{g.Out(cb, 0)}, out(60, 2), out(30, 3))
	tests = []struct {
		spends []uint64
		outs   []MemOut
		want   string
	}{
		{[]uint64{g.Out(cb, 0)}, nil, "taint: bad parameters: memgraph: input 0 spends output 0 already spent by tx 2"},
		{[]uint64{77}, nil, "taint: bad parameters: memgraph: input 0 spends unknown output 77"},
		{[]uint64{g.Out(tx, 0), g.Out(tx, 0)}, nil, "taint: bad parameters: memgraph: input 1 spends output 2 twice"},
		{[]uint64{g.Out(tx, 0)}, []MemOut{out(61, 4)}, "taint: bad parameters: memgraph: outputs 61 exceed inputs 60"},
		{[]uint64{g.Out(tx, 0)}, []MemOut{out(-1, 4)}, "taint: bad parameters: memgraph: output 0 value -1"},
	}
	for _, tc := range tests {
		if _, err := g.AddTx(tc.spends, tc.outs...); err == nil || err.Error() != tc.want {
			t.Errorf("err %v, want %s", err, tc.want)
		}
	}
	if n := g.NumTxs(); n != 3 {
		t.Errorf("failed AddTx changed the graph: %d txs", n)
	}
}

// TestBackwardPassesSeedEntity: looking back from an exchange's deposit,
// the exchange's own addresses (the seed's and any other with its entity)
// do not stop the trace; another entity does. StopAtSeedEntity (screening
// a transaction, whose seeds are its payers) stops at the seed itself.
func TestBackwardPassesSeedEntity(t *testing.T) {
	g := newG1(t)
	mixer := Entity{Label: "Mixer M", Category: "mixing_service"}
	attr := MemAttribution{5: g.exchange, 3: g.exchange, 2: mixer}
	p := params(Haircut)
	p.Direction = Backward
	p.MaxHops = 1
	seed := []Seed{{Out: g.Out(g.tx2, 0)}}
	r, err := Trace(context.Background(), g, attr, seed, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []taintOf{
		{g.c, 45_455, StopArrival, 1}, // pro rata: 100,000 × 50,000 / 110,000
		{g.Out(g.tx1, 0), 54_545, StopMaxHops, 1},
		{g.Out(g.tx2, 0), 100_000, StopFollowed, 0},
	}
	if got := summarize(r); !slices.Equal(got, want) {
		t.Errorf("backward from the exchange's deposit\n got %v\nwant %v", got, want)
	}
	if a := r.Summary.Arrived; len(a) != 1 || a[0].Label != mixer.Label {
		t.Errorf("arrived %+v, want only the mixer", a)
	}
	checkConservation(t, r)

	p.StopAtSeedEntity = true
	r, err = Trace(context.Background(), g, attr, seed, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := summarize(r); !slices.Equal(got, []taintOf{{g.Out(g.tx2, 0), 100_000, StopArrival, 0}}) {
		t.Errorf("with StopAtSeedEntity: %v", got)
	}
}
