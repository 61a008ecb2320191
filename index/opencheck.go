package index

import (
	"encoding/binary"
	"fmt"
)

// checkTail is the check Open makes before it serves an index: a constant
// number of checked reads of the last committed records and the tip's block
// record, the ones an interrupted write, a lost page or a truncated copy
// breaks first. Each record pointer read must lie inside its target, and
// the counters of the tip, of its block record and of the columns must
// agree. It cannot prove the index sound — only `index verify` reads
// everything — but an index that fails it is refused with what is wrong and
// what to run, instead of answering queries from garbage.
func (ix *Index) checkTail() error {
	t := ix.tip
	if t.Empty {
		return nil
	}
	b, err := ix.blockAtLocked(t.Height)
	if err != nil {
		return err
	}
	if b.Hash != t.Hash || b.after != t.counters || b.NumTx == 0 {
		return fmt.Errorf("%w: the tip (block %s at height %d; %d txs, %d outputs, %d inputs, %d addresses, %d heap bytes) disagrees with its block record (%s; %d txs from tx %d, %d outputs, %d inputs, %d addresses, %d heap bytes) %s",
			ErrCorrupt, t.Hash, t.Height, t.nTx, t.nOut, t.nIn, t.nAddr, t.heapLen,
			b.Hash, b.after.nTx, b.FirstTx, b.after.nOut, b.after.nIn, b.after.nAddr, b.after.heapLen, repairHint)
	}
	// Both id spaces start at 0 with the genesis coinbase.
	if f := ix.txFirstOut(0); f != 0 {
		return badRecord("txs.col", 0, "first output %d, not 0", f)
	}
	if f := ix.txFirstIn(0); f != 0 {
		return badRecord("txs.col", 0, "first input %d, not 0", f)
	}
	// The tip block's txs: a coinbase first, all at the tip's height, the
	// tx before them at the height below.
	last := t.nTx - 1
	for _, tx := range []uint32{b.FirstTx, last} {
		if _, _, err := ix.txOuts(tx); err != nil {
			return err
		}
		if _, _, err := ix.txIns(tx); err != nil {
			return err
		}
		h, err := ix.txHeight(tx)
		if err != nil {
			return err
		}
		if h != t.Height {
			return badRecord("txs.col", uint64(tx), "height %d, but it is in the tip block at %d", h, t.Height)
		}
	}
	if _, n, _ := ix.txIns(b.FirstTx); n != 0 {
		return badRecord("txs.col", uint64(b.FirstTx), "the first tx of the tip block has %d inputs, not a coinbase's 0", n)
	}
	if b.FirstTx > 0 {
		if h, err := ix.txHeight(b.FirstTx - 1); err != nil {
			return err
		} else if h != t.Height-1 {
			return badRecord("txs.col", uint64(b.FirstTx-1), "height %d, but it is the last tx of block %d", h, t.Height-1)
		}
	}
	// The last output: every pointer in range.
	if o := t.nOut - 1; t.nOut > 0 {
		if _, err := ix.outTx(o); err != nil {
			return err
		}
		if _, err := ix.outSpender(o); err != nil {
			return err
		}
		if _, err := ix.outAddr(o); err != nil {
			return err
		}
		if _, err := ix.outPrevSame(o); err != nil {
			return err
		}
		if _, err := ix.outType(o); err != nil {
			return err
		}
	}
	// The last input spends an output marked spent by the tx holding it:
	// the input record and the spent mark are the pair a crash in the
	// middle of a block separates (issue 10).
	if i := t.nIn - 1; t.nIn > 0 {
		o, err := ix.inPrev(i)
		if err != nil {
			return err
		}
		s, err := ix.outSpender(o)
		if err != nil {
			return err
		}
		if s == NoTx {
			return badRecord("ins.col", i, "spends output %d, which is not marked spent", o)
		}
		first, n, err := ix.txIns(s)
		if err != nil {
			return err
		}
		if i < first || i >= first+uint64(n) {
			return badRecord("ins.col", i, "spends output %d, whose spender tx %d holds inputs %d..%d, not this one", o, s, first, first+uint64(n))
		}
	}
	// The last address: its key ends the heap, and its chain starts at an
	// output paying it (an address exists because an output paid it).
	if id := t.nAddr; id > 0 {
		k, err := ix.addrKey(id)
		if err != nil {
			return err
		}
		if end := binary.LittleEndian.Uint64(ix.addrs.rec(uint64(id-1))) + 1 + uint64(len(k)); end != t.heapLen {
			return badRecord("addrs.col", uint64(id-1), "key ends at heap byte %d, the heap's committed length is %d", end, t.heapLen)
		}
		h, err := ix.addrHead(id)
		if err != nil {
			return err
		}
		if h == NoOut {
			return badRecord("addrs.col", uint64(id-1), "no output pays the address")
		}
		if a, err := ix.outAddr(h); err != nil {
			return err
		} else if a != id {
			return badRecord("outs.col", h, "address %d, but it heads the chain of address %d", a, id)
		}
	}
	return nil
}
