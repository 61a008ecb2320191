package cluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/sim"
)

var simConfig = testchain.DMMConfig

func TestMain(m *testing.M) {
	code := m.Run()
	testchain.Cleanup()
	os.Exit(code)
}

// simIndex ingests the simulator chain (its first stop blocks; 0 = all)
// into a fresh regtest index.
func simIndex(t testing.TB, stop int) (*index.Index, string, *sim.Truth) {
	t.Helper()
	ix, dir, truth := testchain.DMMIndex(t, stop, false)
	return ix, filepath.Join(dir, "blocks"), truth
}

// TestSimIncremental repeats the incremental-equals-build property on the
// simulator chain, which has CoinJoins and every change heuristic firing.
func TestSimIncremental(t *testing.T) {
	defer func(n int) { commitOps = n }(commitOps)
	ctx := context.Background()
	opts := Options{Change: ClientChange | OptimalChange}
	ix, blocks, _ := simIndex(t, 300)
	commitOps = 1000
	st0, err := Build(ctx, ix, opts, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	st1, err := Update(ctx, ix, opts, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if st0.ChangeMerges+st1.ChangeMerges == 0 || st0.CoinJoins+st1.CoinJoins == 0 {
		t.Fatalf("the sim chain exercises nothing: %+v %+v", st0, st1)
	}
	incremental := dumpRows(t, ix)
	checkAgainst(t, ix, reference(t, ix, opts))
	commitOps = 1 << 20
	if _, err := Build(ctx, ix, opts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if full := dumpRows(t, ix); !slices.Equal(full, incremental) {
		t.Fatalf("incremental differs from build: %s", firstDiff(incremental, full))
	}
}
