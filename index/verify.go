package index

import (
	"context"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Blocks, Txs, Outputs, Inputs, Addresses uint64
	HistoryRows                             uint64 // outputs on address chains
	UTXOs                                   uint64
	UTXOSat                                 int64 // unspent value with an address
	BalanceSat                              int64 // Σ over addresses of received − sent
}

// Verify checks the index's invariants: every id a record holds points
// inside the committed length of its target (the checked reads of
// graph.go); block records chain together and cover every tx; every input
// resolves to an output marked spent by its tx
// and every spent mark is backed by exactly one input (spent-by is
// symmetric); fees are non-negative and equal inputs − outputs; the hash
// tables find every tx and address; every output with an address lies on
// that address's chain exactly once; and the balances of all addresses sum
// to the value of the unspent outputs that have an address. The first
// violation is returned as an ErrCorrupt error naming it.
func (ix *Index) Verify(ctx context.Context) (VerifyReport, error) {
	defer ix.Scanning()()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var r VerifyReport
	t := ix.tip
	if t.Empty {
		return r, nil
	}
	// Blocks chain from genesis and partition the transactions.
	var nextTx uint32
	var prev BlockInfo
	for h := uint32(0); h <= t.Height; h++ {
		if h%1024 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		b, err := ix.blockAtLocked(h)
		if err != nil {
			return r, err
		}
		if h == 0 && b.Hash != *ix.Net.Params.GenesisHash {
			return r, fmt.Errorf("%w: block 0 is %s, not the %s genesis", ErrCorrupt, b.Hash, ix.Net.Name)
		}
		if h > 0 && b.Prev != prev.Hash {
			return r, fmt.Errorf("%w: block %d does not build on block %d", ErrCorrupt, h, h-1)
		}
		if b.FirstTx != nextTx {
			return r, fmt.Errorf("%w: block %d starts at tx %d, want %d", ErrCorrupt, h, b.FirstTx, nextTx)
		}
		if uint64(b.FirstTx)+uint64(b.NumTx) > uint64(t.nTx) {
			return r, fmt.Errorf("%w: block %d holds txs %d..%d, the tip counts %d", ErrCorrupt, h, b.FirstTx, uint64(b.FirstTx)+uint64(b.NumTx), t.nTx)
		}
		for tx := b.FirstTx; tx < b.FirstTx+b.NumTx; tx++ {
			th, err := ix.txHeight(tx)
			if err != nil {
				return r, err
			}
			if th != h {
				return r, fmt.Errorf("%w: tx %d records height %d, its block is %d", ErrCorrupt, tx, th, h)
			}
		}
		nextTx += b.NumTx
		prev = b
		r.Blocks++
	}
	if nextTx != t.nTx {
		return r, fmt.Errorf("%w: blocks hold %d txs, the tip counts %d", ErrCorrupt, nextTx, t.nTx)
	}
	// Inputs and spent marks.
	spentMarks, withAddr := uint64(0), uint64(0)
	for o := uint64(0); o < t.nOut; o++ {
		s, err := ix.outSpender(o)
		if err != nil {
			return r, err
		}
		a, err := ix.outAddr(o)
		if err != nil {
			return r, err
		}
		v, err := ix.outValue(o)
		if err != nil {
			return r, err
		}
		if _, err := ix.outType(o); err != nil {
			return r, err
		}
		// Outputs off every address chain are never walked below: their
		// prev_same must be empty (and any is checked to lead back).
		if p, err := ix.outPrevSame(o); err != nil {
			return r, err
		} else if a == 0 && p != NoOut {
			return r, fmt.Errorf("%w: output %d has no address but a prev_same output %d", ErrCorrupt, o, p)
		}
		if s != NoTx {
			spentMarks++
		} else if a != 0 {
			r.UTXOs++
			r.UTXOSat += v
		}
		if a != 0 {
			withAddr++
		}
	}
	for tx := uint32(0); tx < t.nTx; tx++ {
		if tx%65536 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		id, err := ix.txHash(tx)
		if err != nil {
			return r, err
		}
		first, n, err := ix.txIns(tx)
		if err != nil {
			return r, err
		}
		var in int64
		for i := first; i < first+uint64(n); i++ {
			o, err := ix.inPrev(i)
			if err != nil {
				return r, err
			}
			if s, err := ix.outSpender(o); err != nil {
				return r, err
			} else if s != tx {
				return r, fmt.Errorf("%w: input %d of tx %s spends output %d, which is marked spent by tx %d", ErrCorrupt, i, TxIDString(id), o, s)
			}
			if c, err := ix.outTx(o); err != nil {
				return r, err
			} else if c >= tx {
				return r, fmt.Errorf("%w: tx %d spends output %d of a later tx", ErrCorrupt, tx, o)
			}
			v, err := ix.outValue(o)
			if err != nil {
				return r, err
			}
			in += v
		}
		firstO, nO, err := ix.txOuts(tx)
		if err != nil {
			return r, err
		}
		var out int64
		for o := firstO; o < firstO+uint64(nO); o++ {
			v, err := ix.outValue(o)
			if err != nil {
				return r, err
			}
			out += v
		}
		fee, _, _, err := ix.txMeta(tx)
		if err != nil {
			return r, err
		}
		if n > 0 && in-out != fee {
			return r, fmt.Errorf("%w: tx %d fee %d, inputs−outputs = %d", ErrCorrupt, tx, fee, in-out)
		}
		h := chainhash.Hash(id)
		if got, ok := ix.findTx(&h, t.nTx); !ok || (got != tx && ix.TxHash(got) != id) {
			return r, fmt.Errorf("%w: the txid table does not find tx %d (%s)", ErrCorrupt, tx, h)
		}
	}
	if spentMarks != t.nIn {
		return r, fmt.Errorf("%w: %d outputs are marked spent but there are %d inputs", ErrCorrupt, spentMarks, t.nIn)
	}
	r.Txs, r.Outputs, r.Inputs, r.Addresses = uint64(t.nTx), t.nOut, t.nIn, uint64(t.nAddr)
	// Addresses: the table finds every key, and walking every address's
	// chain of outputs visits each output with an address exactly once
	// (eachAddrOut checks each pays the address and the chain leads back);
	// the unspent ones give the balances.
	listed := uint64(0)
	for id := uint32(1); id <= t.nAddr; id++ {
		if id%65536 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		k, err := ix.addrKey(id)
		if err != nil {
			return r, err
		}
		if got, err := ix.lookupAddr(k); err != nil {
			return r, err
		} else if got != id {
			return r, fmt.Errorf("%w: the address table does not find address %d", ErrCorrupt, id)
		}
		err = ix.eachAddrOut(id, func(o uint64) error {
			listed++
			s, err := ix.outSpender(o)
			if err != nil {
				return err
			}
			if s == NoTx {
				v, err := ix.outValue(o)
				if err != nil {
					return err
				}
				r.BalanceSat += v
			}
			return nil
		})
		if err != nil {
			return r, err
		}
	}
	r.HistoryRows = listed
	if listed != withAddr {
		return r, fmt.Errorf("%w: address chains hold %d outputs, %d outputs have an address", ErrCorrupt, listed, withAddr)
	}
	if r.BalanceSat != r.UTXOSat {
		return r, fmt.Errorf("%w: address balances sum to %d sat, unspent outputs with an address hold %d", ErrCorrupt, r.BalanceSat, r.UTXOSat)
	}
	return r, nil
}
