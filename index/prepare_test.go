package index

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
)

// benchBlocks are the real mainnet blocks of the shared data from 2012 on
// (the large ones, most of them SegWit-era): what validation costs is
// hashing, and these are where it is most.
func benchBlocks(b testing.TB) [][]byte {
	b.Helper()
	names, err := filepath.Glob(shareddata.Path(b, "btc", "mainnet", "*"))
	if err != nil {
		b.Fatal(err)
	}
	net, _ := chain.NetworkByName("mainnet")
	var out [][]byte
	for _, p := range names {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "blk") || strings.HasPrefix(base, "raw-tx") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		d, err := chain.Decode(data, net)
		if err != nil {
			b.Fatal(err)
		}
		for _, mb := range d.Blocks {
			out = append(out, serialize(b, mb))
		}
	}
	return out
}

// BenchmarkPrepare compares Prepare with its validation (proof of work,
// coinbase, merkle root and mutation, witness commitment) and without.
func BenchmarkPrepare(b *testing.B) {
	blocks := benchBlocks(b)
	var size int64
	for _, raw := range blocks {
		size += int64(len(raw))
	}
	for _, mode := range []struct {
		name     string
		validate bool
	}{{"validate", true}, {"novalidate", false}} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, raw := range blocks {
					if _, err := prepare(raw, "bench", mode.validate); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestPrepareRealBlocks: every real block passes, with its serialization
// size, and the unvalidated path gives the same block.
func TestPrepareRealBlocks(t *testing.T) {
	for i, raw := range benchBlocks(t) {
		b, err := Prepare(raw, "test")
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		u, _ := prepare(raw, "test", false)
		if b.Size != uint32(len(raw)) || b.Trailing != 0 || u.Hash != b.Hash || len(u.Txs) != len(b.Txs) {
			t.Fatalf("block %d: size %d trailing %d", i, b.Size, b.Trailing)
		}
	}
}
