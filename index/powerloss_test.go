package index_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/internal/pebblecrash"
	"github.com/cointrail/cointrail/internal/testchain"
)

// commitPoints are the moments of a commit at which a cut is simulated:
// mid-batch, tails durable, in-place changes written but not synced, and
// just after the synced commit.
var commitPoints = map[string]bool{"block": true, "tails": true, "marks": true, "commit": true,
	"table-half": true, "table-synced": true, "table-renamed": true, "table-rebuilt": true}

// TestPowerLoss cuts the power at seeded random moments of a block-by-block
// ingest of a spend-heavy chain (40k txs, most inputs spending older
// outputs, several hash-table doublings): the store keeps only what it
// synced (Pebble's strict FS), each mapped file keeps its last msynced
// bytes plus a random subset of the pages written since (PowerSim). The
// reopened index must recover to a committed tip, verify clean, and, once
// ingest finishes, equal an uninterrupted build. COINTRAIL_POWER_CUTS sets
// the number of cuts (default 24).
func TestPowerLoss(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	opt := index.IngestOptions{Mode: index.ModeBlocks, BatchBytes: 48 << 10}

	// The reference build counts the points a cut can land on.
	points := 0
	var rebuilds []int // the points inside hash-table doublings
	failpoint.SetHook(func(name string) {
		if commitPoints[name] {
			points++
			if strings.HasPrefix(name, "table-") {
				rebuilds = append(rebuilds, points)
			}
		}
	})
	want := build(t, net, t.TempDir(), blocks, opt)
	failpoint.SetHook(nil)
	if points < 100 || len(rebuilds) < 8 {
		t.Fatalf("only %d commit points, %d in table doublings: the chain does not exercise the commit protocol", points, len(rebuilds))
	}

	cuts := 24
	if s := os.Getenv("COINTRAIL_POWER_CUTS"); s != "" {
		cuts, _ = strconv.Atoi(s)
	}
	rng := rand.New(rand.NewPCG(2024, 5))
	recovered := 0
	for i := range cuts {
		at := 1 + rng.IntN(points)
		if i%3 == 0 { // a third of the cuts during a table doubling
			at = rebuilds[rng.IntN(len(rebuilds))]
		}
		seed := rng.Uint64()
		data := t.TempDir()
		fs := pebblecrash.New()
		ps := index.StartPowerSim()
		ix, err := index.Open(data, net, index.Options{StoreFS: fs}, testchain.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		var img map[string][]byte
		var cutAt string
		n := 0
		prng := rand.New(rand.NewPCG(seed, 1))
		failpoint.SetHook(func(name string) {
			if !commitPoints[name] {
				return
			}
			if n++; n == at {
				fs.Crash()
				img = ps.Image(ix, prng)
				cutAt = name
			}
		})
		_, ierr := ix.IngestBlkDir(context.Background(), blocks, opt)
		failpoint.SetHook(nil)
		ps.Stop()
		if ierr != nil {
			t.Fatalf("cut %d: ingest: %v", i, ierr)
		}
		if img == nil {
			t.Fatalf("cut %d: point %d never reached", i, at)
		}
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		fs.Restore()
		if err := index.WriteImage(img); err != nil {
			t.Fatal(err)
		}
		ix, err = index.Open(data, net, index.Options{StoreFS: fs}, testchain.Log(t))
		if err != nil {
			t.Fatalf("cut %d at point %d (%s, page seed %d): reopen: %v", i, at, cutAt, seed, err)
		}
		tip := ix.Tip()
		if _, err := ix.Verify(context.Background()); err != nil {
			ix.Close()
			t.Fatalf("cut %d at point %d (%s, page seed %d), recovered tip %d: verify: %v", i, at, cutAt, seed, tip.Height, err)
		}
		if !tip.Empty {
			recovered++
		}
		if _, err := ix.IngestBlkDir(context.Background(), blocks, opt); err != nil {
			t.Fatalf("cut %d: resumed ingest: %v", i, err)
		}
		got := digestOf(t, ix)
		ix.Close()
		if got != want {
			t.Fatalf("cut %d at point %d (%s, page seed %d): digest %s after resuming, uninterrupted %s", i, at, cutAt, seed, got.digest, want.digest)
		}
	}
	if cuts > 0 && recovered == 0 {
		t.Fatal("every cut left an empty index: the test proved nothing about recovery")
	}
	t.Logf("%d cuts over %d commit points (%d in table doublings); %d recovered a non-empty tip", cuts, points, len(rebuilds), recovered)
}

// TestPowerLossRollback cuts the power during rollbacks of a whole
// spend-heavy index: after the shorter tip's synced commit, with the undo
// of marks and heads written but not synced, and with the tails cut off
// after it. The
// reopened index must be at the rollback's height (or, if the cut came
// before the commit was durable, at the old tip), verify clean, and ingest
// back to the uninterrupted build.
func TestPowerLossRollback(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	opt := index.IngestOptions{Mode: index.ModeBlocks}
	ref := t.TempDir()
	want := build(t, net, ref, blocks, opt)
	top := int64(want.tip.Height)
	rng := rand.New(rand.NewPCG(31, 7))
	for i := range 9 {
		h := rng.Int64N(top)
		point := []string{"rollback", "undo", "recovered"}[i%3]
		seed := rng.Uint64()
		data := t.TempDir()
		fs := pebblecrash.New()
		ix, err := index.Open(data, net, index.Options{StoreFS: fs}, testchain.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ix.IngestBlkDir(context.Background(), blocks, opt); err != nil {
			t.Fatal(err)
		}
		ps := index.StartPowerSim()
		if err := ix.Sync(); err != nil { // the durable state the simulation starts from
			t.Fatal(err)
		}
		var img map[string][]byte
		prng := rand.New(rand.NewPCG(seed, 2))
		failpoint.SetHook(func(name string) {
			if name == point && img == nil {
				fs.Crash()
				img = ps.Image(ix, prng)
			}
		})
		err = ix.Rollback(h)
		failpoint.SetHook(nil)
		ps.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if img == nil {
			t.Fatalf("rollback to %d: point %s never reached", h, point)
		}
		ix.Close()
		fs.Restore()
		if err := index.WriteImage(img); err != nil {
			t.Fatal(err)
		}
		ix, err = index.Open(data, net, index.Options{StoreFS: fs}, testchain.Log(t))
		if err != nil {
			t.Fatalf("rollback to %d cut at %s (page seed %d): reopen: %v", h, point, seed, err)
		}
		if got := int64(ix.Tip().Height); got != h {
			t.Errorf("rollback to %d cut at %s: tip %d after the cut", h, point, got)
		}
		if _, err := ix.Verify(context.Background()); err != nil {
			t.Fatalf("rollback to %d cut at %s (page seed %d): verify: %v", h, point, seed, err)
		}
		if _, err := ix.IngestBlkDir(context.Background(), blocks, opt); err != nil {
			t.Fatal(err)
		}
		got := digestOf(t, ix)
		ix.Close()
		if got != want {
			t.Fatalf("rollback to %d cut at %s: digest %s after re-ingest, want %s", h, point, got.digest, want.digest)
		}
	}
}
