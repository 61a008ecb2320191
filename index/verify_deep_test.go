package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
)

// TestVerifyDeep: the real chain's stored txids match every header; one
// byte changed in txids.col is found and named by block.
func TestVerifyDeep(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blocks := shareddata.BlocksDir(t, "blk00000-heights-0-4312.dat")
	ix, err := Open(dir, mainnet(t), Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	src, closeSrc, err := BlkDirHeaders(blocks, ix.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSrc()
	r, err := ix.VerifyDeep(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if r.Blocks != 4313 || r.Txs != 4371 {
		t.Fatalf("deep report %+v, want 4313 blocks, 4371 txs", r)
	}
	b, err := ix.BlockAt(170)
	if err != nil {
		t.Fatal(err)
	}
	ids := []chainhash.Hash{ix.TxHash(b.FirstTx), ix.TxHash(b.FirstTx + 1)}
	if b.NumTx != 2 {
		t.Fatalf("block 170 has %d txs", b.NumTx)
	}
	hdr, err := src(ctx, 170, b.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// Change the stored txid of block 170's second transaction.
	path := filepath.Join(Dir(dir, mainnet(t)), "graph", "txids.col")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(b.FirstTx+1) * 32
	var one [1]byte
	if _, err := f.ReadAt(one[:], off); err != nil {
		t.Fatal(err)
	}
	one[0] ^= 0x80
	if _, err := f.WriteAt(one[:], off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ids[1][0] ^= 0x80
	root, _ := chain.MerkleRoot(ids)

	ix, err = Open(dir, mainnet(t), Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	_, err = ix.VerifyDeep(ctx, src)
	want := fmt.Sprintf("index: corrupt data: block 170 %s: merkle root: the stored txids hash to %s, the header says %s", b.Hash, root, hdr.MerkleRoot)
	if err == nil || err.Error() != want || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("VerifyDeep error\n got %v\nwant %s", err, want)
	}
}
