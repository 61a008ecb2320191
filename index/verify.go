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

// Verify checks the index's invariants: block records chain together and
// cover every tx; every input resolves to an output marked spent by its tx
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
		if h > 0 {
			p, _ := ix.blockAtLocked(h - 1)
			if b.Prev != p.Hash {
				return r, fmt.Errorf("%w: block %d does not build on block %d", ErrCorrupt, h, h-1)
			}
		}
		if b.FirstTx != nextTx {
			return r, fmt.Errorf("%w: block %d starts at tx %d, want %d", ErrCorrupt, h, b.FirstTx, nextTx)
		}
		for tx := b.FirstTx; tx < b.FirstTx+b.NumTx; tx++ {
			if ix.TxHeight(tx) != h {
				return r, fmt.Errorf("%w: tx %d records height %d, its block is %d", ErrCorrupt, tx, ix.TxHeight(tx), h)
			}
		}
		nextTx += b.NumTx
		r.Blocks++
	}
	if nextTx != t.nTx {
		return r, fmt.Errorf("%w: blocks hold %d txs, the tip counts %d", ErrCorrupt, nextTx, t.nTx)
	}
	// Inputs and spent marks.
	spentMarks := uint64(0)
	for o := uint64(0); o < t.nOut; o++ {
		if s := ix.OutSpender(o); s != NoTx {
			if s >= t.nTx {
				return r, fmt.Errorf("%w: output %d is marked spent by tx %d beyond the tip", ErrCorrupt, o, s)
			}
			spentMarks++
		} else if a := ix.OutAddr(o); a != 0 {
			r.UTXOs++
			r.UTXOSat += ix.OutValue(o)
		}
		if a := ix.OutAddr(o); a > t.nAddr {
			return r, fmt.Errorf("%w: output %d has address id %d beyond %d", ErrCorrupt, o, a, t.nAddr)
		}
	}
	for tx := uint32(0); tx < t.nTx; tx++ {
		if tx%65536 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		first, n := ix.TxInputs(tx)
		var in int64
		for i := first; i < first+uint64(n); i++ {
			o := ix.InputPrevOut(i)
			if o >= t.nOut {
				return r, fmt.Errorf("%w: input %d of tx %d spends output %d beyond the tip", ErrCorrupt, i, tx, o)
			}
			if s := ix.OutSpender(o); s != tx {
				return r, fmt.Errorf("%w: input %d of tx %s spends output %d, which is marked spent by tx %d", ErrCorrupt, i, TxIDString(ix.TxHash(tx)), o, s)
			}
			if ix.OutTx(o) >= tx {
				return r, fmt.Errorf("%w: tx %d spends output %d of a later tx", ErrCorrupt, tx, o)
			}
			in += ix.OutValue(o)
		}
		firstO, nO := ix.TxOutputs(tx)
		var out int64
		for o := firstO; o < firstO+uint64(nO); o++ {
			out += ix.OutValue(o)
		}
		if n > 0 && in-out != ix.TxFee(tx) {
			return r, fmt.Errorf("%w: tx %d fee %d, inputs−outputs = %d", ErrCorrupt, tx, ix.TxFee(tx), in-out)
		}
		h := chainhash.Hash(ix.TxHash(tx))
		if got, ok := ix.findTx(&h, t.nTx); !ok || (got != tx && ix.TxHash(got) != ix.TxHash(tx)) {
			return r, fmt.Errorf("%w: the txid table does not find tx %d (%s)", ErrCorrupt, tx, h)
		}
	}
	if spentMarks != t.nIn {
		return r, fmt.Errorf("%w: %d outputs are marked spent but there are %d inputs", ErrCorrupt, spentMarks, t.nIn)
	}
	r.Txs, r.Outputs, r.Inputs, r.Addresses = uint64(t.nTx), t.nOut, t.nIn, uint64(t.nAddr)
	// Addresses: the table finds every key, and walking every address's
	// chain of outputs visits each output with an address exactly once;
	// the unspent ones give the balances.
	listed := uint64(0)
	for id := uint32(1); id <= t.nAddr; id++ {
		if id%65536 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		k := ix.addrKeyAt(id)
		if got, ok := ix.findAddr(k, t.nAddr); !ok || got != id {
			return r, fmt.Errorf("%w: the address table does not find address %d", ErrCorrupt, id)
		}
		last := NoOut
		for o := ix.AddrHead(id); o != NoOut; o = ix.OutPrevSame(o) {
			if o >= t.nOut || (last != NoOut && o >= last) || ix.OutAddr(o) != id {
				return r, fmt.Errorf("%w: the output chain of address %d is broken at output %d", ErrCorrupt, id, o)
			}
			last = o
			listed++
			if ix.OutSpender(o) == NoTx {
				r.BalanceSat += ix.OutValue(o)
			}
		}
	}
	withAddr := uint64(0)
	for o := uint64(0); o < t.nOut; o++ {
		if ix.OutAddr(o) != 0 {
			withAddr++
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
