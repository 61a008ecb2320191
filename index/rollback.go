package index

import (
	"encoding/binary"
	"fmt"

	"github.com/cointrail/cointrail/internal/failpoint"
)

// Rollback disconnects blocks from the tip until the tip is at height h
// (h = -1 empties the index). The shorter tip commits first; the column
// records beyond it are then undone (spent marks, address heads) and cut
// off by the same recovery that runs after a crash, so an interrupted
// rollback finishes on the next open.
func (ix *Index) Rollback(h int64) error {
	if err := ix.writable(); err != nil {
		return err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	t := ix.tip
	if t.Empty || h >= int64(t.Height) {
		return nil
	}
	if h < -1 {
		return fmt.Errorf("%w: rollback to height %d", ErrBadInput, h)
	}
	batch := ix.Store.NewBatch()
	defer batch.Close()
	var prev BlockInfo
	if h >= 0 {
		var err error
		if prev, err = ix.blockAtLocked(uint32(h)); err != nil {
			return err
		}
	}
	for height := int64(t.Height); height > h; height-- {
		b, err := ix.blockAtLocked(uint32(height))
		if err != nil {
			return err
		}
		batch.Delete(blockKey(uint32(height)))
		batch.Delete(blockHashKey(b.Hash))
	}
	var nt Tip
	if h < 0 {
		nt = Tip{Empty: true}
		batch.Delete(keyTip)
	} else {
		nt = Tip{Height: prev.Height, Hash: prev.Hash, counters: prev.after}
		batch.Set(keyTip, nt.encode())
	}
	// Synced: the recovery below undoes records the old tip still covers.
	if err := batch.Commit(true); err != nil {
		return err
	}
	failpoint.Hit("rollback")
	ix.tip = nt
	ix.times = ix.times[:h+1]
	if err := ix.recover(); err != nil {
		return err
	}
	ix.log.Info("rolled back", "from", t.Height, "to", h)
	return nil
}

func (ix *Index) loadTimes() error {
	ix.times = ix.times[:0]
	if ix.tip.Empty {
		return nil
	}
	it, err := ix.Store.NewIter([]byte{pfxBlock}, []byte{pfxBlock + 1})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		h := binary.BigEndian.Uint32(it.Key()[1:])
		b, ok := decodeBlockInfo(h, it.Value())
		if !ok || int(h) != len(ix.times) {
			return fmt.Errorf("%w: block record at height %d", ErrCorrupt, h)
		}
		ix.times = append(ix.times, b.Time)
	}
	if len(ix.times) != int(ix.tip.Height)+1 {
		return fmt.Errorf("%w: %d block records for a tip at height %d", ErrCorrupt, len(ix.times), ix.tip.Height)
	}
	return it.Error()
}
