package index

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
)

// Reads of the graph columns come in two kinds.
//
// The checked reads (lower case, returning an error) are what queries and
// the tracer use. A record's fields are ids into other columns; on a damaged
// disk, or after a crash that broke an ordering rule, any of them can point
// past the committed length of its target, and following it would read
// beyond the mapping (the panics of issue 10). A checked read compares every
// id it returns with the committed count of its target, and an address
// chain's prev_same with the output itself (the chain must lead strictly back,
// or a corrupt one could loop). A value out of range is ErrCorrupt naming the
// column, the record and the value; an id argument out of range is
// ErrInternal, because the caller should only pass ids that came from the
// tip's counts or from another checked read. Ingest (connect.go) does not use
// them: it reads only records it has itself written or checked.
//
// The exported accessors below (TxOutputs, OutSpender, ...) are the same
// reads for callers that cannot take an error; they return a harmless value
// (0, NoTx, NoOut, "") where a checked read would fail, so they never panic,
// but they cannot say the index is corrupt: code that must (queries, traces)
// reads through the checked reads or Graph. Callers that run concurrently with
// ingest in the same process must hold ReadLock.

const valueMask = 1<<60 - 1

// repairHint ends every corruption error of a checked read: what to run.
const repairHint = "(run 'cointrail index verify'; repair with 'cointrail index rollback N' or rebuild)"

// badRecord is the error for a field of record rec of column col holding a
// value no valid index holds.
func badRecord(col string, rec uint64, format string, args ...any) error {
	return fmt.Errorf("%w: %s record %d: %s %s", ErrCorrupt, col, rec, fmt.Sprintf(format, args...), repairHint)
}

// badRead is the error for reading id beyond the n committed records of
// what: the caller did not get id from a checked read.
func badRead(what string, id, n uint64) error {
	return fmt.Errorf("%w: read of %s %d beyond the %d committed", ErrInternal, what, id, n)
}

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

// txRange is the checked range [first, next) of tx's outputs (field 0 of
// the tx record) or inputs (field 8): first of tx, then first of tx+1 or
// the committed count for the last tx. Ranges may be empty but never run
// backwards or past the count.
func (ix *Index) txRange(tx uint32, field int, n uint64, what string) (uint64, uint32, error) {
	if first, k, ok := ix.txRangeFast(tx, field, n); ok {
		return first, k, nil
	}
	nTx := ix.tip.nTx
	if tx >= nTx {
		return 0, 0, badRead("tx", uint64(tx), uint64(nTx))
	}
	first := binary.LittleEndian.Uint64(ix.txs.rec(uint64(tx))[field:])
	next := n
	if tx+1 < nTx {
		next = binary.LittleEndian.Uint64(ix.txs.rec(uint64(tx) + 1)[field:])
	}
	switch {
	case first > n:
		return 0, 0, badRecord("txs.col", uint64(tx), "first %s %d beyond the %d committed %ss", what, first, n, what)
	case next > n:
		return 0, 0, badRecord("txs.col", uint64(tx)+1, "first %s %d beyond the %d committed %ss", what, next, n, what)
	case next < first:
		return 0, 0, badRecord("txs.col", uint64(tx)+1, "first %s %d below the previous tx's %d", what, next, first)
	}
	return 0, 0, badRecord("txs.col", uint64(tx), "%d %ss", next-first, what)
}

// txRangeFast is txRange without the error: ok is false where txRange fails.
func (ix *Index) txRangeFast(tx uint32, field int, n uint64) (uint64, uint32, bool) {
	nTx := ix.tip.nTx
	if tx >= nTx {
		return 0, 0, false
	}
	i := uint64(tx)*txRec + uint64(field)
	first, next := binary.LittleEndian.Uint64(ix.txs.data[i:]), n
	if tx+1 < nTx {
		next = binary.LittleEndian.Uint64(ix.txs.data[i+txRec:])
	}
	return first, uint32(next - first), first <= next && next <= n && next-first <= math.MaxUint32
}

func (ix *Index) txOuts(tx uint32) (uint64, uint32, error) {
	return ix.txRange(tx, 0, ix.tip.nOut, "output")
}

func (ix *Index) txIns(tx uint32) (uint64, uint32, error) {
	return ix.txRange(tx, 8, ix.tip.nIn, "input")
}

func (ix *Index) inPrev(in uint64) (uint64, error) {
	if in >= ix.tip.nIn {
		return 0, badRead("input", in, ix.tip.nIn)
	}
	o := binary.LittleEndian.Uint64(ix.ins.rec(in))
	if o >= ix.tip.nOut {
		return 0, badRecord("ins.col", in, "spent output %d beyond the %d committed outputs", o, ix.tip.nOut)
	}
	return o, nil
}

func (ix *Index) outRecord(o uint64) ([]byte, error) {
	if o >= ix.tip.nOut {
		return nil, badRead("output", o, ix.tip.nOut)
	}
	return ix.outs.rec(o), nil
}

func (ix *Index) outValue(o uint64) (int64, error) {
	r, err := ix.outRecord(o)
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(r) & valueMask), nil
}

func (ix *Index) outType(o uint64) (uint8, error) {
	r, err := ix.outRecord(o)
	if err != nil {
		return 0, err
	}
	t := uint8(binary.LittleEndian.Uint64(r) >> 60)
	if !chain.ScriptType(t).Valid() {
		return 0, badRecord("outs.col", o, "script type %d unknown", t)
	}
	return t, nil
}

func (ix *Index) outAddr(o uint64) (uint32, error) {
	r, err := ix.outRecord(o)
	if err != nil {
		return 0, err
	}
	a := binary.LittleEndian.Uint32(r[8:])
	if a > ix.tip.nAddr {
		return 0, badRecord("outs.col", o, "address id %d beyond the %d committed addresses", a, ix.tip.nAddr)
	}
	return a, nil
}

func (ix *Index) outSpender(o uint64) (uint32, error) {
	r, err := ix.outRecord(o)
	if err != nil {
		return NoTx, err
	}
	s := binary.LittleEndian.Uint32(r[12:])
	if s != NoTx && s >= ix.tip.nTx {
		return NoTx, badRecord("outs.col", o, "spender tx %d beyond the %d committed txs", s, ix.tip.nTx)
	}
	return s, nil
}

// outPrevSame is checked to lie before o, not just inside the column: every
// walk of an address chain then ends, whatever the records hold.
func (ix *Index) outPrevSame(o uint64) (uint64, error) {
	r, err := ix.outRecord(o)
	if err != nil {
		return NoOut, err
	}
	p := binary.LittleEndian.Uint64(r[16:])
	if p != NoOut && p >= o {
		return NoOut, badRecord("outs.col", o, "prev_same output %d is not before the output (an address chain must lead back)", p)
	}
	return p, nil
}

func (ix *Index) addrHead(id uint32) (uint64, error) {
	if id == 0 || id > ix.tip.nAddr {
		return NoOut, badRead("address", uint64(id), uint64(ix.tip.nAddr))
	}
	h := binary.LittleEndian.Uint64(ix.addrs.rec(uint64(id - 1))[8:])
	if h != NoOut && h >= ix.tip.nOut {
		return NoOut, badRecord("addrs.col", uint64(id-1), "head output %d beyond the %d committed outputs", h, ix.tip.nOut)
	}
	return h, nil
}

// addrKey is the stored key of address id (1-based), inside the committed
// heap. The returned slice aliases the mapping.
func (ix *Index) addrKey(id uint32) ([]byte, error) {
	if id == 0 || id > ix.tip.nAddr {
		return nil, badRead("address", uint64(id), uint64(ix.tip.nAddr))
	}
	n := ix.tip.heapLen
	off := binary.LittleEndian.Uint64(ix.addrs.rec(uint64(id - 1)))
	if off >= n {
		return nil, badRecord("addrs.col", uint64(id-1), "key offset %d beyond the heap's %d committed bytes", off, n)
	}
	l := uint64(ix.heap.data[off])
	if l == 0 || l > n-off-1 {
		return nil, badRecord("addrkeys.heap", off, "a key of %d bytes (address %d) in a heap of %d committed bytes", l, id, n)
	}
	return ix.heap.data[off+1 : off+1+l : off+1+l], nil
}

// outTx finds the creator of o by binary search over the first outputs, and
// checks the tx found holds o: first_out out of order would send the search
// anywhere.
func (ix *Index) outTx(o uint64) (uint32, error) {
	if o >= ix.tip.nOut {
		return 0, badRead("output", o, ix.tip.nOut)
	}
	i := sort.Search(int(ix.tip.nTx), func(i int) bool { return ix.txFirstOut(uint32(i)) > o })
	if i == 0 {
		return 0, badRecord("txs.col", 0, "first output %d, not 0", ix.txFirstOut(0))
	}
	tx := uint32(i - 1)
	first, n, err := ix.txOuts(tx)
	if err != nil {
		return 0, err
	}
	if o >= first+uint64(n) {
		return 0, badRecord("txs.col", uint64(tx), "outputs %d..%d, but the search for output %d ends here: first outputs out of order", first, first+uint64(n), o)
	}
	return tx, nil
}

func (ix *Index) txHeight(tx uint32) (uint32, error) {
	if tx >= ix.tip.nTx {
		return 0, badRead("tx", uint64(tx), uint64(ix.tip.nTx))
	}
	h := binary.LittleEndian.Uint32(ix.txs.rec(uint64(tx))[16:])
	if h > ix.tip.Height {
		return 0, badRecord("txs.col", uint64(tx), "height %d above the tip at %d", h, ix.tip.Height)
	}
	return h, nil
}

func (ix *Index) txHash(tx uint32) ([32]byte, error) {
	var h [32]byte
	if tx >= ix.tip.nTx {
		return h, badRead("tx", uint64(tx), uint64(ix.tip.nTx))
	}
	copy(h[:], ix.txids.rec(uint64(tx)))
	return h, nil
}

// txMeta is tx's fee, locktime and version; a fee outside [0, 2^60) is
// corrupt (no output, so no fee, holds more).
func (ix *Index) txMeta(tx uint32) (fee int64, lockTime uint32, version int32, err error) {
	if tx >= ix.tip.nTx {
		return 0, 0, 0, badRead("tx", uint64(tx), uint64(ix.tip.nTx))
	}
	m := ix.meta.rec(uint64(tx))
	fee = int64(binary.LittleEndian.Uint64(m))
	if fee < 0 || fee > valueMask {
		return 0, 0, 0, badRecord("txmeta.col", uint64(tx), "fee %d", fee)
	}
	return fee, binary.LittleEndian.Uint32(m[8:]), int32(binary.LittleEndian.Uint32(m[12:])), nil
}

// TxOutputs returns the id of tx's first output and how many it has.
func (ix *Index) TxOutputs(tx uint32) (uint64, uint32) {
	first, n, _ := ix.txOuts(tx)
	return first, n
}

// TxInputs returns the id of tx's first input and how many it has (0 for a coinbase).
func (ix *Index) TxInputs(tx uint32) (uint64, uint32) {
	first, n, _ := ix.txIns(tx)
	return first, n
}

// InputPrevOut is the output an input spends.
func (ix *Index) InputPrevOut(in uint64) uint64 { o, _ := ix.inPrev(in); return o }

// OutValue is an output's value in satoshis.
func (ix *Index) OutValue(o uint64) int64 { v, _ := ix.outValue(o); return v }

// OutType is an output's script type (chain.ScriptType).
func (ix *Index) OutType(o uint64) uint8 { t, _ := ix.outType(o); return t }

// OutAddr is an output's address id (0: none).
func (ix *Index) OutAddr(o uint64) uint32 { a, _ := ix.outAddr(o); return a }

// OutSpender is the tx that spends an output, or NoTx.
func (ix *Index) OutSpender(o uint64) uint32 { s, _ := ix.outSpender(o); return s }

// OutPrevSame is the previous output paying the same address (NoOut if none).
func (ix *Index) OutPrevSame(o uint64) uint64 { p, _ := ix.outPrevSame(o); return p }

// AddrHead is the last output paying address id (NoOut if none).
func (ix *Index) AddrHead(id uint32) uint64 { h, _ := ix.addrHead(id); return h }

// OutTx is the tx that created an output.
func (ix *Index) OutTx(o uint64) uint32 { tx, _ := ix.outTx(o); return tx }

// TxHeight is the height of the block holding tx.
func (ix *Index) TxHeight(tx uint32) uint32 { h, _ := ix.txHeight(tx); return h }

// TxVsize is tx's virtual size.
func (ix *Index) TxVsize(tx uint32) uint32 {
	if tx >= ix.tip.nTx {
		return 0
	}
	return binary.LittleEndian.Uint32(ix.txs.rec(uint64(tx))[20:])
}

// TxHash is tx's txid.
func (ix *Index) TxHash(tx uint32) [32]byte { h, _ := ix.txHash(tx); return h }

// TxFee is the fee tx paid (0 for a coinbase).
func (ix *Index) TxFee(tx uint32) int64 { f, _, _, _ := ix.txMeta(tx); return f }

// TxLockTime and TxVersion come from the tx's meta record.
func (ix *Index) TxLockTime(tx uint32) uint32 { _, l, _, _ := ix.txMeta(tx); return l }
func (ix *Index) TxVersion(tx uint32) int32   { _, _, v, _ := ix.txMeta(tx); return v }

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

// Graph is the index as the tracer's graph (taint.Graph), over the checked
// reads. The reads a trace makes per output (OutValue, OutSpender,
// InputPrevOut, ...) test the same conditions as the checked reads inline
// and call them only to build the error: a pure graph walk is those reads
// and little else, and the call would cost it a third. taint.Graph's reads return no error — a trace makes millions of
// them a second — so a read that meets a corrupt record answers with a
// harmless in-range value (0, NoTx, "") and keeps the error; Err returns the
// first, and the tracer stops with it. Make one per trace, &Graph{Index: ix};
// it is not safe for concurrent use.
type Graph struct {
	*Index
	err error
}

func (g *Graph) keep(err error) {
	if g.err == nil {
		g.err = err
	}
}

// Err is the first corruption (or misuse) a read of g found, nil if none.
func (g *Graph) Err() error { return g.err }

// Corrupt wraps an inconsistency the tracer found in the graph (an output
// whose spender does not spend it) as corruption of the index, with what to
// run: on a sound index it cannot happen.
func (g *Graph) Corrupt(err error) error {
	return fmt.Errorf("%w: %w %s", ErrCorrupt, err, repairHint)
}

// Tip returns the tip height and hash.
func (g *Graph) Tip() (uint32, [32]byte) { return g.Index.tip.Height, g.Index.tip.Hash }

// TxOutputs implements taint.Graph.
func (g *Graph) TxOutputs(tx uint32) (uint64, uint32) {
	if first, n, ok := g.txRangeFast(tx, 0, g.tip.nOut); ok {
		return first, n
	}
	_, _, err := g.txOuts(tx)
	g.keep(err)
	return 0, 0
}

// TxInputs implements taint.Graph.
func (g *Graph) TxInputs(tx uint32) (uint64, uint32) {
	if first, n, ok := g.txRangeFast(tx, 8, g.tip.nIn); ok {
		return first, n
	}
	_, _, err := g.txIns(tx)
	g.keep(err)
	return 0, 0
}

// InputPrevOut implements taint.Graph.
func (g *Graph) InputPrevOut(in uint64) uint64 {
	if in < g.tip.nIn {
		if o := binary.LittleEndian.Uint64(g.ins.data[in*inRec:]); o < g.tip.nOut {
			return o
		}
	}
	_, err := g.inPrev(in)
	g.keep(err)
	return 0
}

// OutValue implements taint.Graph.
func (g *Graph) OutValue(o uint64) int64 {
	if o < g.tip.nOut {
		return int64(binary.LittleEndian.Uint64(g.outs.data[o*outRec:]) & valueMask)
	}
	_, err := g.outValue(o)
	g.keep(err)
	return 0
}

// OutAddr implements taint.Graph.
func (g *Graph) OutAddr(o uint64) uint32 {
	if o < g.tip.nOut {
		if a := binary.LittleEndian.Uint32(g.outs.data[o*outRec+8:]); a <= g.tip.nAddr {
			return a
		}
	}
	_, err := g.outAddr(o)
	g.keep(err)
	return 0
}

// OutType implements taint.Graph.
func (g *Graph) OutType(o uint64) uint8 {
	if o < g.tip.nOut {
		if t := uint8(binary.LittleEndian.Uint64(g.outs.data[o*outRec:]) >> 60); chain.ScriptType(t).Valid() {
			return t
		}
	}
	_, err := g.outType(o)
	g.keep(err)
	return 0
}

// OutSpender implements taint.Graph.
func (g *Graph) OutSpender(o uint64) uint32 {
	if o < g.tip.nOut {
		if s := binary.LittleEndian.Uint32(g.outs.data[o*outRec+12:]); s == NoTx || s < g.tip.nTx {
			return s
		}
	}
	_, err := g.outSpender(o)
	g.keep(err)
	return NoTx
}

// OutTx implements taint.Graph.
func (g *Graph) OutTx(o uint64) uint32 {
	tx, err := g.outTx(o)
	if err != nil {
		g.keep(err)
	}
	return tx
}

// TxHeight implements taint.Graph.
func (g *Graph) TxHeight(tx uint32) uint32 {
	h, err := g.txHeight(tx)
	if err != nil {
		g.keep(err)
	}
	return h
}

// TxHash implements taint.Graph.
func (g *Graph) TxHash(tx uint32) [32]byte {
	h, err := g.txHash(tx)
	if err != nil {
		g.keep(err)
	}
	return h
}

// AddrString implements taint.Graph.
func (g *Graph) AddrString(a uint32) string {
	k, err := g.AddrKeyOf(a)
	if err != nil {
		g.keep(err)
		return ""
	}
	return k.Encode(g.Net)
}
