package taint

import (
	"context"
	"testing"
)

// fanOutGraph is a synthetic chain of n transactions: a binary tree of
// 1-in 2-out transactions grown breadth first from one root output, every
// eighth also spending a clean coinbase output so the taint mixes. Blocks
// hold 1000 transactions.
func fanOutGraph(tb testing.TB, n int) (*MemGraph, uint64) {
	g := NewMemGraph()
	cb := g.AddBlock(0, out(1<<40, 1))
	root := g.Out(cb, 0)
	queue := []uint64{root}
	var clean []uint64
	addr := uint32(2)
	for made, h := 0, int64(1); made < n; h++ {
		cleanOuts := make([]MemOut, 125)
		for i := range cleanOuts {
			cleanOuts[i] = out(1_000_000, 1)
		}
		cb := g.AddBlock(600*h, cleanOuts...)
		for k := 0; k < 1000 && made < n; k++ {
			o := queue[0]
			queue = queue[1:]
			spends := []uint64{o}
			v := g.OutValue(o)
			if k%8 == 0 && len(clean) > 0 {
				spends = append(spends, clean[len(clean)-1])
				v += g.OutValue(clean[len(clean)-1])
				clean = clean[:len(clean)-1]
			}
			half := (v - 100) / 2
			tx := mustTx(tb, g, spends, out(half, addr), out(v-100-half, addr+1))
			addr += 2
			queue = append(queue, g.Out(tx, 0), g.Out(tx, 1))
			made++
		}
		for i := range cleanOuts {
			clean = append(clean, g.Out(cb, uint32(i)))
		}
	}
	return g, root
}

// BenchmarkTraceFanOut traces the whole tree; run it briefly:
//
//	go test ./taint -run '^$' -bench TraceFanOut -benchtime 1x
func BenchmarkTraceFanOut(b *testing.B) {
	g, root := fanOutGraph(b, 1_000_000)
	for _, m := range []Model{Haircut, FIFO} {
		b.Run(m.String(), func(b *testing.B) {
			p := DefaultParams()
			p.Model, p.MinSats, p.MaxTxs = m, 0, 0
			var r *Result
			var err error
			for b.Loop() {
				r, err = Trace(context.Background(), g, nil, []Seed{{Out: root}}, p, nil)
				if err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(len(r.Outputs))/sec, "outputs/s")
			b.ReportMetric(float64(r.Summary.TxsVisited)/sec, "txs/s")
		})
	}
}
