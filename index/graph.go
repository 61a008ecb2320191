package index

import (
	"encoding/binary"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// The accessors below read the column mappings directly; they are the
// tracer's graph (taint.Graph). Callers that run concurrently with ingest in
// the same process must hold ReadLock; ids must be below the tip's counts.

const valueMask = 1<<60 - 1

// ReadLock/ReadUnlock bracket graph reads that may race with ingest.
func (ix *Index) ReadLock()   { ix.mu.RLock() }
func (ix *Index) ReadUnlock() { ix.mu.RUnlock() }

// NumTxs is the number of indexed transactions.
func (ix *Index) NumTxs() uint32 { return ix.tip.nTx }

// NumOuts is the number of indexed outputs.
func (ix *Index) NumOuts() uint64 { return ix.tip.nOut }

func (ix *Index) txFirstOut(tx uint32) uint64 {
	return binary.LittleEndian.Uint64(ix.txs.rec(uint64(tx)))
}
func (ix *Index) txFirstIn(tx uint32) uint64 {
	return binary.LittleEndian.Uint64(ix.txs.rec(uint64(tx))[8:])
}

// TxOutputs returns the id of tx's first output and how many it has.
func (ix *Index) TxOutputs(tx uint32) (uint64, uint32) {
	first := ix.txFirstOut(tx)
	end := ix.txs.n
	var next uint64
	if uint64(tx)+1 < end {
		next = ix.txFirstOut(tx + 1)
	} else {
		next = ix.outs.n
	}
	return first, uint32(next - first)
}

// TxInputs returns the id of tx's first input and how many it has (0 for a coinbase).
func (ix *Index) TxInputs(tx uint32) (uint64, uint32) {
	first := ix.txFirstIn(tx)
	var next uint64
	if uint64(tx)+1 < ix.txs.n {
		next = ix.txFirstIn(tx + 1)
	} else {
		next = ix.ins.n
	}
	return first, uint32(next - first)
}

// InputPrevOut is the output an input spends.
func (ix *Index) InputPrevOut(in uint64) uint64 { return binary.LittleEndian.Uint64(ix.ins.rec(in)) }

// OutValue is an output's value in satoshis.
func (ix *Index) OutValue(o uint64) int64 {
	return int64(binary.LittleEndian.Uint64(ix.outs.rec(o)) & valueMask)
}

// OutType is an output's script type (chain.ScriptType).
func (ix *Index) OutType(o uint64) uint8 {
	return uint8(binary.LittleEndian.Uint64(ix.outs.rec(o)) >> 60)
}

// OutAddr is an output's address id (0: none).
func (ix *Index) OutAddr(o uint64) uint32 { return binary.LittleEndian.Uint32(ix.outs.rec(o)[8:]) }

// OutSpender is the tx that spends an output, or NoTx.
func (ix *Index) OutSpender(o uint64) uint32 { return binary.LittleEndian.Uint32(ix.outs.rec(o)[12:]) }

// OutPrevSame is the previous output paying the same address (NoOut if none).
func (ix *Index) OutPrevSame(o uint64) uint64 { return binary.LittleEndian.Uint64(ix.outs.rec(o)[16:]) }

// AddrHead is the last output paying address id (NoOut if none).
func (ix *Index) AddrHead(id uint32) uint64 {
	return binary.LittleEndian.Uint64(ix.addrs.rec(uint64(id - 1))[8:])
}

// OutTx is the tx that created an output.
func (ix *Index) OutTx(o uint64) uint32 {
	n := int(ix.txs.n)
	i := sort.Search(n, func(i int) bool { return ix.txFirstOut(uint32(i)) > o })
	return uint32(i - 1)
}

// TxHeight is the height of the block holding tx.
func (ix *Index) TxHeight(tx uint32) uint32 {
	return binary.LittleEndian.Uint32(ix.txs.rec(uint64(tx))[16:])
}

// TxVsize is tx's virtual size.
func (ix *Index) TxVsize(tx uint32) uint32 {
	return binary.LittleEndian.Uint32(ix.txs.rec(uint64(tx))[20:])
}

// TxHash is tx's txid.
func (ix *Index) TxHash(tx uint32) [32]byte {
	var h [32]byte
	copy(h[:], ix.txids.rec(uint64(tx)))
	return h
}

// TxFee is the fee tx paid (0 for a coinbase).
func (ix *Index) TxFee(tx uint32) int64 {
	return int64(binary.LittleEndian.Uint64(ix.meta.rec(uint64(tx))))
}

// TxLockTime and TxVersion come from the tx's meta record.
func (ix *Index) TxLockTime(tx uint32) uint32 {
	return binary.LittleEndian.Uint32(ix.meta.rec(uint64(tx))[8:])
}
func (ix *Index) TxVersion(tx uint32) int32 {
	return int32(binary.LittleEndian.Uint32(ix.meta.rec(uint64(tx))[12:]))
}

// BlockTime is the header time of the block at height h (0 if unknown).
func (ix *Index) BlockTime(h uint32) int64 { return int64(ix.blockTime(h)) }

// AddrString renders address id a in the index's network ("" for 0).
func (ix *Index) AddrString(a uint32) string {
	k, err := ix.AddrKeyOf(a)
	if err != nil {
		return ""
	}
	return k.Encode(ix.Net)
}

// TipHeightHash returns the tip for trace results.
func (ix *Index) TipHeightHash() (uint32, [32]byte) { return ix.tip.Height, ix.tip.Hash }

// TxIDString renders a txid in display (reversed) order.
func TxIDString(h [32]byte) string { return chainhash.Hash(h).String() }
