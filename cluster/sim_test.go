package cluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/sim"
)

// simConfig is the chain the accuracy report and the sim tests use: the
// dmm-2024 scenario at its default size. Fast only skips the elliptic-curve
// work; the transaction graph is the same.
var simConfig = sim.Config{Scenario: "dmm-2024", Seed: 1, Fast: true}

var simFixture struct {
	once  sync.Once
	dir   string
	truth *sim.Truth
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if simFixture.dir != "" {
		os.RemoveAll(simFixture.dir)
	}
	os.Exit(code)
}

// simChain generates the simulator chain once per test binary and returns
// its directory (blocks/, labels.yaml, truth.json) and truth.
func simChain(t testing.TB) (string, *sim.Truth) {
	t.Helper()
	f := &simFixture
	f.once.Do(func() {
		if f.dir, f.err = os.MkdirTemp("", "cluster-sim-"); f.err != nil {
			return
		}
		var res *sim.Result
		if res, f.err = sim.WriteDir(context.Background(), simConfig, f.dir, nil); f.err == nil {
			f.truth = res.Truth
		}
	})
	if f.err != nil {
		t.Fatal(f.err)
	}
	return f.dir, f.truth
}

// simIndex ingests the simulator chain into a fresh regtest index.
func simIndex(t testing.TB, stop int) (*index.Index, string, *sim.Truth) {
	t.Helper()
	dir, truth := simChain(t)
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(t.TempDir(), net, index.Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	blocks := filepath.Join(dir, "blocks")
	if _, err := ix.IngestBlkDir(context.Background(), blocks, index.IngestOptions{StopAfter: stop}); err != nil {
		t.Fatal(err)
	}
	return ix, blocks, truth
}

// TestSimIncremental repeats the incremental-equals-build property on the
// simulator chain, which has CoinJoins and every change heuristic firing.
func TestSimIncremental(t *testing.T) {
	defer func(n int) { commitOps = n }(commitOps)
	ctx := context.Background()
	opts := Options{Change: ClientChange | OptimalChange}
	ix, blocks, _ := simIndex(t, 300)
	commitOps = 1000
	st0, err := Build(ctx, ix, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	st1, err := Update(ctx, ix, opts, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if st0.ChangeMerges+st1.ChangeMerges == 0 || st0.CoinJoins+st1.CoinJoins == 0 {
		t.Fatalf("the sim chain exercises nothing: %+v %+v", st0, st1)
	}
	incremental := dumpRows(t, ix)
	checkAgainst(t, ix, reference(t, ix, opts))
	commitOps = 1 << 20
	if _, err := Build(ctx, ix, opts, testLog(t)); err != nil {
		t.Fatal(err)
	}
	if full := dumpRows(t, ix); !slices.Equal(full, incremental) {
		t.Fatalf("incremental differs from build: %s", firstDiff(incremental, full))
	}
}
