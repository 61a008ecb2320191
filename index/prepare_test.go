package index

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
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
	witness := 0
	defer func() {
		if witness == 0 {
			t.Error("no segwit block among the real blocks")
		}
	}()
	for i, raw := range benchBlocks(t) {
		b, err := Prepare(raw, "test")
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		u, _ := prepare(raw, "test", false)
		if b.Size != uint32(len(raw)) || b.Trailing != 0 || u.Hash != b.Hash || len(u.Txs) != len(b.Txs) {
			t.Fatalf("block %d: size %d trailing %d", i, b.Size, b.Trailing)
		}
		// The ids hashed from the raw bytes are btcd's.
		mb := decodeMsg(t, raw)
		ids, wids := hashTxs(raw, mb, mustLocs(t, raw), true)
		for j, tx := range mb.Transactions {
			if ids[j] != tx.TxHash() || b.Txs[j].TxID != ids[j] {
				t.Fatalf("block %d tx %d: txid %s, btcd says %s", i, j, ids[j], tx.TxHash())
			}
			if wids != nil && wids[j] != tx.WitnessHash() {
				t.Fatalf("block %d tx %d: wtxid %s, btcd says %s", i, j, wids[j], tx.WitnessHash())
			}
			if wids != nil {
				witness++
			}
		}
	}
}

func mustLocs(t testing.TB, raw []byte) []wire.TxLoc {
	var mb wire.MsgBlock
	locs, err := mb.DeserializeTxLoc(bytes.NewBuffer(raw))
	if err != nil {
		t.Fatal(err)
	}
	return locs
}
