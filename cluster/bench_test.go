package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/sim"
)

// BenchmarkCluster clusters a simulator chain of CLUSTER_BENCH_TXS
// background transactions (default 20,000; the chain is generated once per
// run, outside the timer) with the multi-input heuristic and every change
// heuristic but address reuse. "process" is the union-find pass alone
// (Build's phase 1), "build" adds the aggregates pass and writing every row
// to Pebble. Reports inputs/s and the bytes the union-find maps per address.
//
//	CLUSTER_BENCH_TXS=1000000 go test -run '^$' -bench BenchmarkCluster -benchtime 1x ./cluster
func BenchmarkCluster(b *testing.B) {
	n := 20_000
	if s := os.Getenv("CLUSTER_BENCH_TXS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	start := time.Now()
	if _, err := sim.WriteDir(context.Background(), sim.Config{Seed: 7, Txs: n, Fast: true}, dir, nil); err != nil {
		b.Fatal(err)
	}
	net, _ := chain.NetworkByName("regtest")
	ix, err := index.Open(b.TempDir(), net, index.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.IngestBlkDir(context.Background(), filepath.Join(dir, "blocks"), index.IngestOptions{}); err != nil {
		b.Fatal(err)
	}
	_, outs, ins, addrs := ix.Tip().Counts()
	b.Logf("chain: %d txs, %d inputs, %d outputs, %d addresses (generated and indexed in %v)", ix.NumTxs(), ins, outs, addrs, time.Since(start))
	opts := Options{Change: allHeuristics &^ AddressReuse}
	b.Run("process", func(b *testing.B) {
		for b.Loop() {
			c := newClusterer(ix, opts, nil)
			c.opts, _ = opts.normalized()
			c.cf = newChangeFinder(c.opts)
			var err error
			if c.f, err = newForest(ix.Path()); err != nil {
				b.Fatal(err)
			}
			if c.build, err = newBuildState(ix.Path()); err != nil {
				b.Fatal(err)
			}
			if err := c.f.reserve(addrs); err != nil {
				b.Fatal(err)
			}
			for tx := range ix.NumTxs() {
				if err := c.processTx(tx, ix.TxHeight(tx)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.f.memBytes())/float64(c.f.n()), "B/addr")
			c.build.close()
			c.Close()
		}
		b.ReportMetric(float64(ins)*float64(b.N)/b.Elapsed().Seconds(), "inputs/s")
	})
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			if _, err := Build(context.Background(), ix, opts, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(ins)*float64(b.N)/b.Elapsed().Seconds(), "inputs/s")
	})
}
