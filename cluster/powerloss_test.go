package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/pebblecrash"
	"github.com/cointrail/cointrail/internal/testchain"
)

// TestBuildPowerLoss cuts the power at seeded sync points of a cluster
// build that replaces a complete clustering (of the first 300 blocks) on
// the real store over Pebble's strict in-memory FS. After the cut and a
// reopen the clustering is the old one (same digest), the new one whole, or
// refused by every reader as incomplete — never a partial one served as
// complete — and the next build gives the uninterrupted build's digest.
func TestBuildPowerLoss(t *testing.T) {
	ctx := context.Background()
	opts := crashOpts
	fs := pebblecrash.New()
	_, ix, before := powerCutIndex(t, fs, opts)
	d0 := digestOf(t, ix)
	if _, err := Build(ctx, ix, opts, nil); err != nil {
		t.Fatal(err)
	}
	after := fs.Syncs()
	d1 := digestOf(t, ix)
	ix.Close()
	if after-before < 3 {
		t.Fatalf("the build synced %d times: nothing to cut between", after-before)
	}

	rng := rand.New(rand.NewPCG(5, 5))
	seen := map[string]int{}
	for range 10 {
		at := before + 1 + rng.Int64N(after-before)
		ix := cutDuring(t, opts, at, func(ix *index.Index) error { _, err := Build(ctx, ix, opts, nil); return err })
		_, rerr := Open(ix)
		switch d, err := Digest(ctx, ix); {
		case errors.Is(rerr, ErrIncomplete) && errors.Is(err, ErrIncomplete):
			seen["incomplete"]++
		case rerr == nil && err == nil && d == d0:
			seen["old"]++
		case rerr == nil && err == nil && d == d1:
			seen["new"]++
		default:
			ix.Close()
			t.Fatalf("cut at sync %d: reader %v, digest %x (%v); want the old %x, the new %x or incomplete", at, rerr, d, err, d0, d1)
		}
		if _, err := Build(ctx, ix, opts, nil); err != nil {
			t.Fatal(err)
		}
		if d := digestOf(t, ix); d != d1 {
			t.Fatalf("cut at sync %d: rebuilt digest %x, want %x", at, d, d1)
		}
		ix.Close()
	}
	t.Logf("syncs %d..%d; states after the cuts: %v", before, after, seen)
}

// TestUpdatePowerLoss cuts the power at seeded sync points of an update
// from block 300 to the index tip: the reopened clustering is complete as
// of some block between the two (its reader and digest work), and the next
// update ends at the digest of one build.
func TestUpdatePowerLoss(t *testing.T) {
	ctx := context.Background()
	opts := crashOpts
	defer func(n int) { commitOps = n }(commitOps)
	commitOps = 20 // several commits
	fs := pebblecrash.New()
	_, ix, before := powerCutIndex(t, fs, opts)
	if _, err := Update(ctx, ix, opts, nil); err != nil {
		t.Fatal(err)
	}
	after := fs.Syncs()
	tip := ix.Tip().Height
	if _, err := Build(ctx, ix, opts, nil); err != nil {
		t.Fatal(err)
	}
	want := digestOf(t, ix)
	ix.Close()
	if after-before < 3 {
		t.Fatalf("the update synced %d times: nothing to cut between", after-before)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for range 10 {
		at := before + 1 + rng.Int64N(after-before)
		ix := cutDuring(t, opts, at, func(ix *index.Index) error { _, err := Update(ctx, ix, opts, nil); return err })
		s, err := Status(ix)
		if err != nil || s.Tip.Height < 299 || s.Tip.Height > int64(tip) {
			ix.Close()
			t.Fatalf("cut at sync %d: status %+v, %v (index tip %d)", at, s, err, tip)
		}
		if _, err := Digest(ctx, ix); err != nil {
			ix.Close()
			t.Fatalf("cut at sync %d: digest: %v", at, err)
		}
		if _, err := Update(ctx, ix, opts, nil); err != nil {
			t.Fatal(err)
		}
		if d := digestOf(t, ix); d != want {
			t.Fatalf("cut at sync %d: digest %x after the next update, a build gives %x", at, d, want)
		}
		ix.Close()
	}
}

// powerCutIndex builds, on a store over fs, an index with a complete
// clustering of the simulated heist's first 300 blocks and then every
// block; it returns the data dir, the index and the syncs so far.
func powerCutIndex(t *testing.T, fs *pebblecrash.FS, opts Options) (string, *index.Index, int64) {
	t.Helper()
	ctx := context.Background()
	dir, _ := testchain.DMM(t)
	blocks := filepath.Join(dir, "blocks")
	data := t.TempDir()
	ix, err := index.Open(data, regtestNet(t), index.Options{StoreFS: fs}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{StopAfter: 300}); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, ix, opts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	return data, ix, fs.Syncs()
}

func regtestNet(t *testing.T) chain.Network {
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// cutDuring runs op on a fresh powerCutIndex with the power cut at sync at,
// and returns the index reopened from what the cut left.
func cutDuring(t *testing.T, opts Options, at int64, op func(*index.Index) error) *index.Index {
	t.Helper()
	fs := pebblecrash.New()
	data, ix, _ := powerCutIndex(t, fs, opts)
	fs.CrashAtSync(at)
	if err := op(ix); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	fs.Restore()
	ix, err := index.Open(data, regtestNet(t), index.Options{StoreFS: fs}, testchain.Log(t))
	if err != nil {
		t.Fatalf("cut at sync %d: reopen: %v", at, err)
	}
	return ix
}
