package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
)

// HeaderSource returns the header of the block with the given hash at
// height h, from wherever the chain can be read again (a blocks dir, a
// node).
type HeaderSource func(ctx context.Context, h uint32, hash chainhash.Hash) (*wire.BlockHeader, error)

// DeepReport is what VerifyDeep checked.
type DeepReport struct {
	Blocks, Txs uint64
}

// VerifyDeep re-checks every indexed block against its header: the header
// read from src must hash to the stored block hash and meet its own proof
// of work, and the merkle root of the txids stored for the block (in
// txids.col, FirstTx..FirstTx+NumTx) must equal the header's. The index
// keeps block hashes, not headers, so the headers come from src; what this
// proves is that the stored transactions are exactly the ones the chain
// committed to, whoever wrote the files. The first mismatch is an
// ErrCorrupt error naming the height.
func (ix *Index) VerifyDeep(ctx context.Context, src HeaderSource) (DeepReport, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var r DeepReport
	if ix.tip.Empty {
		return r, nil
	}
	var ids []chainhash.Hash
	for h := uint32(0); h <= ix.tip.Height; h++ {
		if h%1024 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		b, err := ix.blockAtLocked(h)
		if err != nil {
			return r, err
		}
		if uint64(b.FirstTx)+uint64(b.NumTx) > uint64(ix.tip.nTx) || b.NumTx == 0 {
			return r, fmt.Errorf("%w: block %d claims txs %d..+%d, the index holds %d", ErrCorrupt, h, b.FirstTx, b.NumTx, ix.tip.nTx)
		}
		hdr, err := src(ctx, h, b.Hash)
		if err != nil {
			return r, err
		}
		if got := hdr.BlockHash(); got != b.Hash {
			return r, fmt.Errorf("%w: block %d: the source's header hashes to %s, the index has %s", ErrCorrupt, h, got, b.Hash)
		}
		if err := chain.CheckProofOfWork(b.Hash, hdr.Bits); err != nil {
			return r, fmt.Errorf("%w: block %d %s: %w", ErrCorrupt, h, b.Hash, err)
		}
		ids = ids[:0]
		for tx := b.FirstTx; tx < b.FirstTx+b.NumTx; tx++ {
			ids = append(ids, chainhash.Hash(ix.TxHash(tx)))
		}
		root, mutated := chain.MerkleRoot(ids)
		if root != hdr.MerkleRoot {
			return r, fmt.Errorf("%w: block %d %s: merkle root: the stored txids hash to %s, the header says %s", ErrCorrupt, h, b.Hash, root, hdr.MerkleRoot)
		}
		if mutated {
			return r, fmt.Errorf("%w: block %d %s: merkle mutation: the stored txids repeat a transaction", ErrCorrupt, h, b.Hash)
		}
		r.Blocks++
		r.Txs += uint64(b.NumTx)
	}
	return r, nil
}

// BlkDirHeaders reads headers from the best chain of a blocks dir (up to
// a gap, if it has one). close releases the files.
func BlkDirHeaders(dir string, net chain.Network) (src HeaderSource, close func() error, err error) {
	d, err := chain.OpenBlkDir(dir, net, nil)
	if err != nil {
		return nil, nil, err
	}
	best, err := d.BestChain()
	if err != nil && !errors.Is(err, chain.ErrPartial) {
		d.Close()
		return nil, nil, err
	}
	return func(_ context.Context, h uint32, hash chainhash.Hash) (*wire.BlockHeader, error) {
		if int(h) >= len(best) || best[h].Hash != hash {
			return nil, fmt.Errorf("%w: block %d %s is not on the best chain of %s", ErrBadInput, h, hash, dir)
		}
		raw, err := d.ReadHeader(best[h])
		if err != nil {
			return nil, err
		}
		var hdr wire.BlockHeader
		if err := hdr.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, best[h], err)
		}
		return &hdr, nil
	}, d.Close, nil
}

// RPCHeaders reads headers from a node.
func RPCHeaders(c *chain.RPCClient) HeaderSource {
	return func(ctx context.Context, _ uint32, hash chainhash.Hash) (*wire.BlockHeader, error) {
		return c.BlockHeader(ctx, hash)
	}
}
