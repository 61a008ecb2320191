package index_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/sim"
	"github.com/cointrail/cointrail/taint"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkGraphTrace times what the bounds-checked reads (graph.go) sit
// on: a forward haircut trace with no stops, reachability, and tx and
// address views, over the index of a 100k-tx simulated chain.
//
//	go test ./index -run '^$' -bench GraphTrace -benchtime 10x
func BenchmarkGraphTrace(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := sim.WriteDir(ctx, sim.Config{Seed: 5, Txs: 100_000, Fast: true}, filepath.Join(dir, "chain"), nil); err != nil {
		b.Fatal(err)
	}
	ix, err := index.Open(filepath.Join(dir, "data"), regtest(b), index.Options{}, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.IngestBlkDir(ctx, filepath.Join(dir, "chain", "blocks"), index.IngestOptions{}); err != nil {
		b.Fatal(err)
	}
	var seeds []taint.Seed
	for o := uint64(1); o < ix.NumOuts() && len(seeds) < 8; o++ {
		if ix.OutSpender(o) != index.NoTx && ix.OutValue(o) > 0 {
			seeds = append(seeds, taint.Seed{Out: o})
		}
	}
	p := taint.DefaultParams()
	p.MinSats, p.MaxTxs, p.StopAtService = 0, 0, false
	b.Run("trace", func(b *testing.B) {
		var r *taint.Result
		for b.Loop() {
			if r, err = taint.Trace(ctx, &index.Graph{Index: ix}, nil, seeds, p, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(r.Outputs))*float64(b.N)/b.Elapsed().Seconds(), "outputs/s")
	})
	b.Run("reach", func(b *testing.B) {
		for b.Loop() {
			if _, err := taint.Reach(ctx, &index.Graph{Index: ix}, seeds, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tx", func(b *testing.B) {
		n := ix.NumTxs()
		tx := uint32(0)
		for b.Loop() {
			if _, err := ix.Tx(tx); err != nil {
				b.Fatal(err)
			}
			tx = (tx + 7919) % n
		}
	})
	b.Run("address", func(b *testing.B) {
		_, _, _, n := ix.Tip().Counts()
		a := uint32(0)
		for b.Loop() {
			if _, err := ix.Address(a+1, 0, 25); err != nil {
				b.Fatal(err)
			}
			a = (a + 7919) % n
		}
	})
}
