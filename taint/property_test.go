package taint

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// randGraph builds a random but valid chain: every block has a coinbase,
// transactions spend 1–4 random unspent outputs into 1–5 outputs with a
// random fee, and some are equal-output CoinJoins.
func randGraph(t testing.TB, r *rand.Rand, blocks, txsPerBlock int) *MemGraph {
	g := NewMemGraph()
	var pool []uint64
	take := func() uint64 {
		i := r.IntN(len(pool))
		o := pool[i]
		pool[i] = pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		return o
	}
	for b := range blocks {
		cbOuts := []MemOut{out(1000+r.Int64N(1e8), uint32(1+r.IntN(50)))}
		if r.IntN(3) == 0 {
			cbOuts = append(cbOuts, out(r.Int64N(1e6), uint32(1+r.IntN(50))))
		}
		cb := g.AddBlock(int64(1000*b), cbOuts...)
		var fresh []uint64
		for j := range cbOuts {
			fresh = append(fresh, g.Out(cb, uint32(j)))
		}
		for range txsPerBlock {
			if len(pool) == 0 {
				break
			}
			var spends []uint64
			var v int64
			for n := 1 + r.IntN(4); n > 0 && len(pool) > 0; n-- {
				o := take()
				spends = append(spends, o)
				v += g.OutValue(o)
			}
			fee := r.Int64N(v/10 + 1)
			left := v - fee
			var outs []MemOut
			if len(spends) >= 3 && r.IntN(4) == 0 && left >= 3*5000 {
				d := left / 4
				for range 3 {
					outs = append(outs, out(d, uint32(1+r.IntN(1000))))
				}
				left -= 3 * d
			}
			for n := r.IntN(5); n > 0; n-- {
				x := r.Int64N(left + 1)
				outs = append(outs, out(x, uint32(1+r.IntN(50))))
				left -= x
			}
			outs = append(outs, out(left, uint32(1+r.IntN(50))))
			tx := mustTx(t, g, spends, outs...)
			for j := range outs {
				pool = append(pool, g.Out(tx, uint32(j)))
			}
		}
		pool = append(pool, fresh...)
	}
	return g
}

// Property: on random graphs and random parameters every model but poison
// conserves taint end to end, each followed output hands exactly its taint
// on along one edge, limits are respected, and the JSON is reproducible.
func TestTraceConservationRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	attr := MemAttribution{1: {Label: "A", Category: "exchange"}, 2: {Label: "B", Category: "exchange"}, 3: {Label: "A", Category: "exchange"}}
	for iter := range 60 {
		g := randGraph(t, r, 8+r.IntN(8), 1+r.IntN(12))
		numOuts := g.Out(g.NumTxs()-1, 0) + uint64(g.txOutN[g.NumTxs()-1])
		var seeds []Seed
		for n := 1 + r.IntN(3); n > 0; n-- {
			o := r.Uint64N(numOuts)
			if g.OutValue(o) == 0 || containsSeed(seeds, o) {
				continue
			}
			s := Seed{Out: o}
			if r.IntN(2) == 0 {
				s.Amount = 1 + r.Int64N(g.OutValue(o))
			}
			seeds = append(seeds, s)
		}
		if len(seeds) == 0 {
			continue
		}
		p := DefaultParams()
		p.MinSats = []int64{0, 0, 1000, 100_000}[r.IntN(4)]
		p.MaxHops = r.IntN(4)
		p.MaxTxs = []int{0, 0, 5, 20}[r.IntN(4)]
		p.StopAtCoinJoin = r.IntN(2) == 0
		p.StopAtService = r.IntN(3) != 0
		if r.IntN(2) == 0 {
			p.Direction = Backward
		} else {
			p.FeesToCoinbase = r.IntN(2) == 0
		}
		if r.IntN(4) == 0 {
			p.FromHeight, p.ToHeight = uint32(r.IntN(4)), uint32(4+r.IntN(8))
		}
		if r.IntN(4) == 0 {
			p.ToTime = int64(1000 * (3 + r.IntN(10)))
		}
		for _, m := range AllModels {
			p.Model = m
			res, err := Trace(context.Background(), g, attr, seeds, p, nil)
			if err != nil && !errors.Is(err, ErrLimit) {
				t.Fatalf("iter %d %s: %v", iter, m, err)
			}
			if (err != nil) != res.Summary.Truncated {
				t.Fatalf("iter %d %s: err %v truncated %v", iter, m, err, res.Summary.Truncated)
			}
			checkConservation(t, res)
			if p.MaxTxs > 0 && res.Summary.TxsVisited > p.MaxTxs {
				t.Fatalf("iter %d %s: visited %d > %d", iter, m, res.Summary.TxsVisited, p.MaxTxs)
			}
			if p.MaxHops > 0 && res.Summary.MaxHop > p.MaxHops {
				t.Fatalf("iter %d %s: hop %d > %d", iter, m, res.Summary.MaxHop, p.MaxHops)
			}
			if p.Direction == Forward {
				checkEdges(t, res)
			}
			a, err := res.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyJSON(a); err != nil {
				t.Fatal(err)
			}
			reversed := make([]Seed, len(seeds))
			for i, s := range seeds {
				reversed[len(seeds)-1-i] = s
			}
			again, _ := Trace(context.Background(), g, attr, reversed, p, nil)
			b, _ := again.JSON()
			if string(a) != string(b) {
				t.Fatalf("iter %d %s: JSON differs between runs", iter, m)
			}
		}
	}
}

func containsSeed(s []Seed, o uint64) bool {
	for _, x := range s {
		if x.Out == o {
			return true
		}
	}
	return false
}

// checkEdges: forward, a followed output's taint leaves along exactly one
// edge carrying all of it.
func checkEdges(t *testing.T, r *Result) {
	t.Helper()
	type k struct {
		tx   Hash
		vout uint32
	}
	sent := map[k]int64{}
	n := map[k]int{}
	for _, e := range r.Edges {
		if !e.Fee {
			sent[k{e.FromTx, e.Vout}] += e.Sat
			n[k{e.FromTx, e.Vout}]++
		}
	}
	followed := 0
	for _, o := range r.Outputs {
		key := k{o.TxID, o.Vout}
		if o.Stop == StopFollowed {
			followed++
			if n[key] != 1 || sent[key] != o.TaintSat {
				t.Fatalf("output %s:%d taint %d left along %d edges carrying %d", o.TxID, o.Vout, o.TaintSat, n[key], sent[key])
			}
		} else if n[key] != 0 {
			t.Fatalf("stopped output %s:%d (%s) has an edge", o.TxID, o.Vout, o.Stop)
		}
	}
	if followed != len(n) {
		t.Fatalf("%d followed outputs, %d edge sources", followed, len(n))
	}
}
