package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cespare/xxhash/v2"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/kv"
)

// Connect appends blocks, in order, in one durable commit. Each block must
// extend the tip left by the one before it. If a block fails, the blocks
// before it are committed, nothing of it or after it is, and its error is
// returned with the number connected.
//
// A commit is ordered for power loss, not only for a process kill (SCHEMA.md,
// "Crash ordering"): the batch first writes only records beyond the tip
// (tails) and keeps its changes to committed records — spent marks on older
// outputs, heads of older addresses — aside; the tails are made durable;
// then those changes are written in place and made durable; then the tip
// commits with a synced write. Whatever subset of unsynced pages a power
// cut keeps, an in-place change beyond the durable tip has its tail record
// on disk, which is what recovery undoes it by.
func (ix *Index) Connect(bs []*Block) (int, error) {
	if err := ix.writable(); err != nil {
		return 0, err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, err := ix.connectLocked(bs)
	if err == nil || n == 0 {
		return n, err
	}
	// Redo the good prefix on its own: the failed block's writes were
	// undone with the rest of the batch, and the prefix connected cleanly.
	if _, perr := ix.connectLocked(bs[:n]); perr != nil {
		return 0, fmt.Errorf("%w: reconnecting %d good blocks: %v (after: %v)", ErrInternal, n, perr, err)
	}
	return n, err
}

// deferred holds a batch's changes to committed records until its tails
// are durable.
type deferred struct {
	nOut  uint64            // outputs committed before the batch
	nAddr uint32            // addresses committed before the batch
	marks map[uint64]uint32 // committed output -> spender tx of this batch
	heads map[uint32]uint64 // committed address -> its newest output of this batch
}

func (d *deferred) reset(t Tip) {
	d.nOut, d.nAddr = t.nOut, t.nAddr
	clear(d.marks)
	clear(d.heads)
}

// apply writes the deferred changes in place, in record order.
func (ix *Index) applyDeferred(d *deferred) {
	outs := make([]uint64, 0, len(d.marks))
	for o := range d.marks {
		outs = append(outs, o)
	}
	slices.Sort(outs)
	for _, o := range outs {
		binary.LittleEndian.PutUint32(ix.outs.rec(o)[12:], d.marks[o])
	}
	as := make([]uint32, 0, len(d.heads))
	for a := range d.heads {
		as = append(as, a)
	}
	slices.Sort(as)
	for _, a := range as {
		binary.LittleEndian.PutUint64(ix.addrs.rec(uint64(a - 1))[8:], d.heads[a])
	}
}

func (ix *Index) connectLocked(bs []*Block) (int, error) {
	batch := ix.Store.NewBatch()
	defer batch.Close()
	t := ix.tip
	d := &ix.pend
	if d.marks == nil {
		d.marks, d.heads = map[uint64]uint32{}, map[uint32]uint64{}
	}
	d.reset(t)
	for i, b := range bs {
		var err error
		if t, err = ix.connectOne(batch, b, t); err != nil {
			return i, ix.abort(err)
		}
		failpoint.Hit("block")
	}
	batch.Set(keyTip, t.encode())
	// Tails durable, then the in-place changes, then the tip.
	if err := ix.syncColumns(); err != nil {
		return 0, ix.abort(err)
	}
	failpoint.Hit("tails")
	ix.applyDeferred(d)
	failpoint.Hit("marks")
	if err := ix.syncColumns(); err != nil {
		return 0, ix.abort(err)
	}
	if err := batch.Commit(true); err != nil {
		return 0, ix.abort(err)
	}
	failpoint.Hit("commit")
	for _, b := range bs {
		ix.times = append(ix.times, b.Time)
	}
	ix.tip = t
	ix.setLengths()
	return len(bs), nil
}

// abort undoes the column writes of an uncommitted batch.
func (ix *Index) abort(err error) error {
	if rerr := ix.recover(); rerr != nil {
		return fmt.Errorf("%w (and recovery failed: %v)", err, rerr)
	}
	return err
}

func (ix *Index) connectOne(batch kv.Batch, b *Block, t Tip) (Tip, error) {
	d := &ix.pend
	var height uint32
	if t.Empty {
		if g := ix.Net.Params.GenesisHash; b.Hash != *g {
			return t, fmt.Errorf("%w: block %s (%s) is not the %s genesis block %s", ErrUnknownParent, b.Hash, b.Origin, ix.Net.Name, g)
		}
	} else {
		if b.Prev != t.Hash {
			return t, fmt.Errorf("%w: block %s (%s) builds on %s, the index tip is %s at height %d", ErrUnknownParent, b.Hash, b.Origin, b.Prev, t.Hash, t.Height)
		}
		height = t.Height + 1
	}
	keyBytes := 0
	for i := range b.Outs {
		keyBytes += 1 + len(b.Outs[i].Key)
	}
	for _, c := range []struct {
		c   *column
		cur uint64
		k   int
	}{{ix.txs, uint64(t.nTx), len(b.Txs)}, {ix.txids, uint64(t.nTx), len(b.Txs)}, {ix.meta, uint64(t.nTx), len(b.Txs)},
		{ix.outs, t.nOut, len(b.Outs)}, {ix.ins, t.nIn, len(b.Ins)}, {ix.addrs, uint64(t.nAddr), len(b.Outs)}, {ix.heap, t.heapLen, keyBytes}} {
		if err := c.c.reserve(c.cur, c.k); err != nil {
			return t, err
		}
	}
	firstTx := t.nTx
	inPos, outPos := 0, 0
	for i := range b.Txs {
		p := &b.Txs[i]
		tx := t.nTx
		var inSum, outSum int64
		firstIn, firstOut := t.nIn, t.nOut
		for j := 0; j < int(p.NIn); j++ {
			op := &b.Ins[inPos+j]
			ptx, ok := ix.findTx(&op.Hash, t.nTx)
			if !ok {
				return t, fmt.Errorf("%w: block %s (%s) tx %s input %d spends unknown tx %s", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, op.Hash)
			}
			first, n := ix.txOutputsWithin(ptx, t)
			if op.Index >= n {
				return t, fmt.Errorf("%w: block %s (%s) tx %s input %d spends %s:%d, which has only %d outputs", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, op.Hash, op.Index, n)
			}
			o := first + uint64(op.Index)
			r := ix.outs.rec(o)
			s := binary.LittleEndian.Uint32(r[12:])
			if o < d.nOut {
				if ps, ok := d.marks[o]; ok {
					s = ps
				}
			}
			if s != NoTx {
				return t, fmt.Errorf("%w: block %s (%s) tx %s input %d spends %s:%d, already spent by %s", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, op.Hash, op.Index, chainhash.Hash(ix.TxHash(s)))
			}
			// The input record first: recovery finds spent marks beyond the
			// tip only through input records (issue 10).
			binary.LittleEndian.PutUint64(ix.ins.rec(t.nIn), o)
			if o < d.nOut {
				d.marks[o] = tx
			} else {
				binary.LittleEndian.PutUint32(r[12:], tx)
			}
			t.nIn++
			inSum += int64(binary.LittleEndian.Uint64(r) & valueMask)
		}
		inPos += int(p.NIn)
		for j := 0; j < int(p.NOut); j++ {
			out := &b.Outs[outPos+j]
			if out.Value < 0 || out.Value > valueMask {
				return t, fmt.Errorf("%w: block %s (%s) tx %s output %d has value %d", ErrCorrupt, b.Hash, b.Origin, p.TxID, j, out.Value)
			}
			id, err := ix.addrID(out.Key, &t)
			if err != nil {
				return t, err
			}
			r := ix.outs.rec(t.nOut)
			binary.LittleEndian.PutUint64(r, uint64(out.Value)|uint64(out.Type)<<60)
			binary.LittleEndian.PutUint32(r[8:], id)
			binary.LittleEndian.PutUint32(r[12:], NoTx)
			prev := NoOut
			var ar []byte
			if id != 0 {
				ar = ix.addrs.rec(uint64(id - 1))
				prev = binary.LittleEndian.Uint64(ar[8:])
				if id <= d.nAddr {
					if ph, ok := d.heads[id]; ok {
						prev = ph
					}
				}
			}
			binary.LittleEndian.PutUint64(r[16:], prev)
			switch {
			case id == 0:
			case id <= d.nAddr:
				d.heads[id] = t.nOut
			default:
				// After the record is whole: recovery trusts a head's record.
				binary.LittleEndian.PutUint64(ar[8:], t.nOut)
			}
			t.nOut++
			outSum += out.Value
		}
		outPos += int(p.NOut)
		var fee int64
		if p.NIn > 0 {
			fee = inSum - outSum
			if fee < 0 {
				return t, fmt.Errorf("%w: block %s (%s) tx %s spends %d sat but pays out %d", ErrCorrupt, b.Hash, b.Origin, p.TxID, inSum, outSum)
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
		if err := ix.insertTx(tx, &p.TxID); err != nil {
			return t, err
		}
	}
	if inPos != len(b.Ins) || outPos != len(b.Outs) {
		return t, fmt.Errorf("%w: prepared block %s has inconsistent input/output counts", ErrInternal, b.Hash)
	}
	info := BlockInfo{Height: height, Hash: b.Hash, Prev: b.Prev, Time: b.Time, Size: b.Size, FirstTx: firstTx, NumTx: uint32(len(b.Txs)), after: t.counters}
	batch.Set(blockKey(height), info.encode())
	batch.Set(blockHashKey(b.Hash), binary.BigEndian.AppendUint32(nil, height))
	t.Empty, t.Height, t.Hash = false, height, b.Hash
	return t, nil
}

// txOutputsWithin is TxOutputs while a batch is being written: the tx's
// successor, if any, is among the first t.nTx.
func (ix *Index) txOutputsWithin(tx uint32, t Tip) (uint64, uint32) {
	first := ix.txFirstOut(tx)
	next := t.nOut
	if tx+1 < t.nTx {
		next = ix.txFirstOut(tx + 1)
	}
	return first, uint32(next - first)
}

func txHash(h *chainhash.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

func addrHash(k []byte) uint64 { return xxhash.Sum64(k) }

// findTx resolves a txid to its tx number among the first n transactions;
// of duplicate txids (BIP 30) the last one wins, as it overwrote the first.
func (ix *Index) findTx(h *chainhash.Hash, n uint32) (uint32, bool) {
	found, ok := uint32(0), false
	ix.txTable.probe(txHash(h), func(id uint32) bool {
		if id < n && bytes.Equal(ix.txids.rec(uint64(id)), h[:]) && (!ok || id > found) {
			found, ok = id, true
		}
		return false
	})
	return found, ok
}

func (ix *Index) insertTx(tx uint32, h *chainhash.Hash) error {
	if ix.txTable.full() {
		if err := ix.txTable.rebuild(0, uint64(tx), func(id uint32) uint64 {
			return txHash((*chainhash.Hash)(ix.txids.rec(uint64(id))))
		}); err != nil {
			return err
		}
	}
	ix.txTable.insert(txHash(h), tx)
	return nil
}

// addrKeyAt returns the stored key of address id (1-based).
func (ix *Index) addrKeyAt(id uint32) []byte {
	off := binary.LittleEndian.Uint64(ix.addrs.rec(uint64(id - 1)))
	l := uint64(ix.heap.data[off])
	return ix.heap.data[off+1 : off+1+l]
}

// findAddr resolves an address key among the first n addresses.
func (ix *Index) findAddr(k []byte, n uint32) (uint32, bool) {
	found := uint32(0)
	ix.addrTable.probe(addrHash(k), func(id uint32) bool {
		if id >= 1 && id <= n && bytes.Equal(ix.addrKeyAt(id), k) {
			found = id
			return true
		}
		return false
	})
	return found, found != 0
}

// addrID returns the id of address key k, assigning the next one if new.
func (ix *Index) addrID(k chain.AddrKey, t *Tip) (uint32, error) {
	if k == "" {
		return 0, nil
	}
	kb := []byte(k) // no copy: the compiler sees it does not escape
	if id, ok := ix.findAddr(kb, t.nAddr); ok {
		return id, nil
	}
	if len(k) > 255 {
		return 0, fmt.Errorf("%w: address key of %d bytes", ErrInternal, len(k))
	}
	t.nAddr++
	id := t.nAddr
	off := t.heapLen
	ix.heap.data[off] = byte(len(k))
	copy(ix.heap.data[off+1:], k)
	t.heapLen += 1 + uint64(len(k))
	ar := ix.addrs.rec(uint64(id - 1))
	binary.LittleEndian.PutUint64(ar, off)
	binary.LittleEndian.PutUint64(ar[8:], NoOut)
	if ix.addrTable.full() {
		if err := ix.addrTable.rebuild(1, uint64(id-1), func(a uint32) uint64 { return addrHash(ix.addrKeyAt(a)) }); err != nil {
			return 0, err
		}
	}
	ix.addrTable.insert(addrHash(kb), id)
	return id, nil
}
