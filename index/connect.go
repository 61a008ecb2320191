package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// histEntry accumulates one address's movement within one transaction.
type histEntry struct {
	addr       uint32
	recv, sent int64
}

// Connect appends blocks, in order, in one atomic commit. Each block must
// extend the tip left by the one before it. If a block fails, the blocks
// before it are committed, nothing of it or after it is, and its error is
// returned with the number connected.
func (ix *Index) Connect(bs []*Block, sync bool) (int, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, err := ix.connectLocked(bs, sync)
	if err == nil || n == 0 {
		return n, err
	}
	// Redo the good prefix on its own: a Pebble batch cannot drop the failed
	// block's rows, and the prefix connected cleanly a moment ago.
	if _, perr := ix.connectLocked(bs[:n], sync); perr != nil {
		return 0, fmt.Errorf("%w: reconnecting %d good blocks: %v (after: %v)", ErrInternal, n, perr, err)
	}
	return n, err
}

func (ix *Index) connectLocked(bs []*Block, sync bool) (int, error) {
	batch := ix.Store.NewBatch()
	defer batch.Close()
	t := ix.tip
	var hist []histEntry
	for i, b := range bs {
		var err error
		if t, hist, err = ix.connectOne(batch, b, t, hist); err != nil {
			return i, ix.abort(err)
		}
		hit("block")
	}
	batch.Set(keyTip, t.encode())
	if err := batch.Commit(sync); err != nil {
		return 0, ix.abort(err)
	}
	hit("commit")
	for _, b := range bs {
		ix.times = append(ix.times, b.Time)
	}
	ix.tip = t
	if len(ix.txCache) > ix.txCacheLimit || len(ix.addrCache) > ix.addrCacheLimit {
		ix.resetCaches()
	}
	return len(bs), nil
}

// abort undoes the column writes of an uncommitted batch.
func (ix *Index) abort(err error) error {
	ix.resetCaches()
	if rerr := ix.recover(); rerr != nil {
		return fmt.Errorf("%w (and recovery failed: %v)", err, rerr)
	}
	return err
}

func (ix *Index) connectOne(batch kv.Batch, b *Block, t Tip, hist []histEntry) (Tip, []histEntry, error) {
	var height uint32
	if t.Empty {
		if g := ix.Net.Params.GenesisHash; b.Hash != *g {
			return t, hist, fmt.Errorf("%w: block %s (%s) is not the %s genesis block %s", ErrUnknownParent, b.Hash, b.Origin, ix.Net.Name, g)
		}
	} else {
		if b.Prev != t.Hash {
			return t, hist, fmt.Errorf("%w: block %s (%s) builds on %s, the index tip is %s at height %d", ErrUnknownParent, b.Hash, b.Origin, b.Prev, t.Hash, t.Height)
		}
		height = t.Height + 1
	}
	for _, c := range []struct {
		c *column
		k int
	}{{ix.txs, len(b.Txs)}, {ix.txids, len(b.Txs)}, {ix.meta, len(b.Txs)}, {ix.outs, len(b.Outs)}, {ix.ins, len(b.Ins)}} {
		if err := c.c.reserve(c.k); err != nil {
			return t, hist, err
		}
	}
	firstTx := t.nTx
	inPos, outPos := 0, 0
	for i := range b.Txs {
		p := &b.Txs[i]
		tx := t.nTx
		hist = hist[:0]
		var inSum, outSum int64
		firstIn, firstOut := t.nIn, t.nOut
		for j := 0; j < int(p.NIn); j++ {
			op := &b.Ins[inPos+j]
			ptx, ok, err := ix.findTx(&op.Hash, t.nTx)
			if err != nil {
				return t, hist, err
			}
			if !ok {
				return t, hist, fmt.Errorf("%w: block %s (%s) tx %s input %d spends unknown tx %s", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, op.Hash)
			}
			first, n := ix.TxOutputs(ptx)
			if op.Index >= n {
				return t, hist, fmt.Errorf("%w: block %s (%s) tx %s input %d spends %s:%d, which has only %d outputs", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, op.Hash, op.Index, n)
			}
			o := first + uint64(op.Index)
			r := ix.outs.rec(o)
			if s := binary.LittleEndian.Uint32(r[12:]); s != NoTx {
				return t, hist, fmt.Errorf("%w: block %s (%s) tx %s input %d spends %s:%d, already spent by %s", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, op.Hash, op.Index, chainhash.Hash(ix.TxHash(s)))
			}
			binary.LittleEndian.PutUint32(r[12:], tx)
			binary.LittleEndian.PutUint64(ix.ins.rec(t.nIn), o)
			t.nIn++
			ix.ins.n = t.nIn
			v := int64(binary.LittleEndian.Uint64(r) & valueMask)
			inSum += v
			hist = addHist(hist, binary.LittleEndian.Uint32(r[8:]), 0, v)
		}
		inPos += int(p.NIn)
		for j := 0; j < int(p.NOut); j++ {
			out := &b.Outs[outPos+j]
			if out.Value < 0 || out.Value > valueMask {
				return t, hist, fmt.Errorf("%w: block %s (%s) tx %s output %d has value %d", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, out.Value)
			}
			id, err := ix.addrID(batch, out.Key, &t)
			if err != nil {
				return t, hist, err
			}
			r := ix.outs.rec(t.nOut)
			binary.LittleEndian.PutUint64(r, uint64(out.Value)|uint64(out.Type)<<60)
			binary.LittleEndian.PutUint32(r[8:], id)
			binary.LittleEndian.PutUint32(r[12:], NoTx)
			t.nOut++
			ix.outs.n = t.nOut
			outSum += out.Value
			hist = addHist(hist, id, out.Value, 0)
		}
		outPos += int(p.NOut)
		var fee int64
		if p.NIn > 0 {
			fee = inSum - outSum
			if fee < 0 {
				return t, hist, fmt.Errorf("%w: block %s (%s) tx %s spends %d sat but pays out %d", ErrCorrupt, b.Hash, b.Origin, p.TxID, inSum, outSum)
			}
		}
		r := ix.txs.rec(uint64(tx))
		binary.LittleEndian.PutUint64(r, firstOut)
		binary.LittleEndian.PutUint64(r[8:], firstIn)
		binary.LittleEndian.PutUint32(r[16:], height)
		binary.LittleEndian.PutUint32(r[20:], p.Vsize)
		copy(ix.txids.rec(uint64(tx)), p.TxID[:])
		m := ix.meta.rec(uint64(tx))
		binary.LittleEndian.PutUint64(m, uint64(fee))
		binary.LittleEndian.PutUint32(m[8:], p.LockTime)
		binary.LittleEndian.PutUint32(m[12:], uint32(p.Version))
		t.nTx++
		ix.txs.n, ix.txids.n, ix.meta.n = uint64(t.nTx), uint64(t.nTx), uint64(t.nTx)
		ix.txCache[binary.LittleEndian.Uint64(p.TxID[:8])] = tx
		batch.Set(txKey(&p.TxID, tx), nil)
		var v [2 * binary.MaxVarintLen64]byte
		for _, h := range hist {
			if h.addr == 0 {
				continue
			}
			n := binary.PutUvarint(v[:], uint64(h.recv))
			n += binary.PutUvarint(v[n:], uint64(h.sent))
			batch.Set(histKey(h.addr, tx), v[:n])
		}
	}
	if inPos != len(b.Ins) || outPos != len(b.Outs) {
		return t, hist, fmt.Errorf("%w: prepared block %s has inconsistent input/output counts", ErrInternal, b.Hash)
	}
	info := BlockInfo{Height: height, Hash: b.Hash, Prev: b.Prev, Time: b.Time, Size: b.Size, FirstTx: firstTx, NumTx: uint32(len(b.Txs)), after: t.counters}
	batch.Set(blockKey(height), info.encode())
	batch.Set(blockHashKey(b.Hash), binary.BigEndian.AppendUint32(nil, height))
	t.Empty, t.Height, t.Hash = false, height, b.Hash
	return t, hist, nil
}

func addHist(h []histEntry, addr uint32, recv, sent int64) []histEntry {
	for i := range h {
		if h[i].addr == addr {
			h[i].recv += recv
			h[i].sent += sent
			return h
		}
	}
	return append(h, histEntry{addr, recv, sent})
}

// findTx resolves a txid to its tx number among the first n transactions.
// The cache holds every transaction of the uncommitted batch; committed ones
// may also be found through the store's `t` rows.
func (ix *Index) findTx(h *chainhash.Hash, n uint32) (uint32, bool, error) {
	if tx, ok := ix.txCache[binary.LittleEndian.Uint64(h[:8])]; ok && tx < n && bytes.Equal(ix.txids.rec(uint64(tx)), h[:]) {
		return tx, true, nil
	}
	// The uncommitted transactions are few; a prefix collision in the cache
	// may have hidden one of them.
	for tx := ix.tip.nTx; tx < n; tx++ {
		if bytes.Equal(ix.txids.rec(uint64(tx)), h[:]) {
			return tx, true, nil
		}
	}
	return ix.lookupTxStore(h, ix.tip.nTx)
}

// lookupTxStore finds the last committed tx below n with txid h.
func (ix *Index) lookupTxStore(h *chainhash.Hash, n uint32) (uint32, bool, error) {
	pfx := append([]byte{pfxTx}, h[:8]...)
	it, err := ix.Store.NewIter(pfx, kv.PrefixEnd(pfx))
	if err != nil {
		return 0, false, err
	}
	defer it.Close()
	found, ok := uint32(0), false
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 13 {
			return 0, false, fmt.Errorf("%w: malformed tx key %x", ErrCorrupt, k)
		}
		tx := binary.BigEndian.Uint32(k[9:])
		if tx < n && bytes.Equal(ix.txids.rec(uint64(tx)), h[:]) {
			found, ok = tx, true // keep the last: a duplicate txid (BIP30) overwrote the earlier one
		}
	}
	return found, ok, it.Error()
}

// addrID returns the id of address key k, assigning the next one if new.
func (ix *Index) addrID(batch kv.Batch, k chain.AddrKey, t *Tip) (uint32, error) {
	if k == "" {
		return 0, nil
	}
	if id, ok := ix.addrCache[k]; ok {
		return id, nil
	}
	v, err := ix.Store.Get(addrKey(k))
	switch {
	case err == nil:
		if len(v) != 4 {
			return 0, fmt.Errorf("%w: malformed address row for %x", ErrCorrupt, []byte(k))
		}
		id := binary.BigEndian.Uint32(v)
		ix.addrCache[k] = id
		return id, nil
	case !errors.Is(err, kv.ErrNotFound):
		return 0, err
	}
	t.nAddr++
	id := t.nAddr
	batch.Set(addrKey(k), binary.BigEndian.AppendUint32(nil, id))
	batch.Set(addrIDKey(id), []byte(k))
	ix.addrCache[k] = id
	return id, nil
}
