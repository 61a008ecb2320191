package index

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"syscall"

	"github.com/cointrail/cointrail/internal/failpoint"
)

// outputs is phase 4: one sweep over the outputs column, range by range,
// fills in what the forward pass could not know yet — the spender (from the
// range's spend bucket), the address id and prev_same (from every
// partition's occurrence stream, each read front to back). Each range is
// rewritten whole from immutable inputs, so a killed sweep resumes at the
// first range not recorded as done.
func (b *bulkBuilder) outputs(ctx context.Context) error {
	st := &b.st
	shift := st.SpendShift
	f, err := os.OpenFile(b.path("outs.col"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	defer f.Close()
	gids := make([][]byte, st.Parts)
	seqs := make([]*recReader, st.Parts)
	pending := make([][]byte, st.Parts) // each stream's record not yet applied
	defer func() {
		for p := range gids {
			if gids[p] != nil {
				syscall.Munmap(gids[p])
			}
			if seqs[p] != nil {
				seqs[p].close()
			}
		}
	}()
	for p := 0; p < st.Parts; p++ {
		if gids[p], err = mapFile(b.path(fmt.Sprintf("gid.%05d", p)), int64(st.PartAddrs[p])*4); err != nil {
			return err
		}
		if seqs[p], err = openRecReaderSize(b.path(fmt.Sprintf("aseq.%05d", p)), 20, 64<<10); err != nil {
			return err
		}
		if pending[p], err = seqs[p].next(); err != nil {
			return err
		}
	}
	chunk := make([]byte, min(uint64(1)<<shift, st.NOut)*outRec)
	for start := uint64(0); start < st.NOut; start += 1 << shift {
		end := min(start+1<<shift, st.NOut)
		if err := ctx.Err(); err != nil {
			return err
		}
		c := chunk[:(end-start)*outRec]
		done := start < st.OutsDone
		if !done {
			if _, err := f.ReadAt(c, int64(start)*outRec); err != nil {
				return fmt.Errorf("%w: read outs.col at output %d: %v", ErrBuild, start, err)
			}
			// A sweep killed after writing this range but before recording it
			// left the range filled in: blank it again, so the redo is the same
			// computation from the forward pass's records.
			for off := 0; off < len(c); off += outRec {
				binary.LittleEndian.PutUint32(c[off+8:], 0)
				binary.LittleEndian.PutUint32(c[off+12:], NoTx)
				binary.LittleEndian.PutUint64(c[off+16:], NoOut)
			}
			if err := b.applySpends(c, start, int(start>>shift)); err != nil {
				return err
			}
		}
		for p := range seqs {
			for r := pending[p]; r != nil; r = pending[p] {
				o := binary.LittleEndian.Uint64(r)
				if o >= end {
					break
				}
				if !done {
					local := binary.LittleEndian.Uint32(r[8:])
					if o < start || uint64(local)*4+4 > uint64(len(gids[p])) {
						return fmt.Errorf("%w: partition %d occurrence of output %d (local address %d) out of order", ErrInternal, p, o, local)
					}
					rec := c[(o-start)*outRec:]
					copy(rec[8:12], gids[p][local*4:local*4+4])
					copy(rec[16:24], r[12:20])
				}
				if pending[p], err = seqs[p].next(); err != nil {
					return err
				}
			}
		}
		if done {
			continue
		}
		if _, err := f.WriteAt(c, int64(start)*outRec); err != nil {
			return fmt.Errorf("%w: write outs.col at output %d: %v", ErrBuild, start, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("%w: fsync outs.col: %v", ErrBuild, err)
		}
		failpoint.Hit("bulk-range-written")
		st.OutsDone = end
		if err := b.save(); err != nil {
			return err
		}
		failpoint.Hit("bulk-range")
		b.phase(phaseOuts, int64(end), int64(st.NOut))
	}
	return nil
}

// applySpends marks the outputs of range c (starting at output start) with
// their spenders from spend bucket k.
func (b *bulkBuilder) applySpends(c []byte, start uint64, k int) error {
	d, err := readBucket(b.path(fmt.Sprintf("spend.%05d", k)))
	if err != nil {
		return err
	}
	for off := 0; off+12 <= len(d); off += 12 {
		o := binary.LittleEndian.Uint64(d[off:])
		if o < start || (o-start)*outRec >= uint64(len(c)) {
			return fmt.Errorf("%w: spend of output %d in bucket %d", ErrInternal, o, k)
		}
		rec := c[(o-start)*outRec:]
		if binary.LittleEndian.Uint32(rec[12:]) != NoTx {
			return fmt.Errorf("%w: output %d spent twice in the bulk build", ErrInternal, o)
		}
		copy(rec[12:16], d[off+8:off+12])
	}
	return nil
}

// mapFile maps a file of exactly size bytes read-only (nil for an empty one).
func mapFile(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	if fi.Size() != size {
		return nil, fmt.Errorf("%w: %s holds %d bytes, expected %d", ErrBuild, path, fi.Size(), size)
	}
	if size == 0 {
		return nil, nil
	}
	d, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap %s: %v", ErrBuild, path, err)
	}
	return d, nil
}

// tables is phase 5: the txid and address hash tables, each written front
// to back from its entries sorted by slot range.
func (b *bulkBuilder) tables(ctx context.Context) error {
	st := &b.st
	// One table at a time, each range's dirty pages written back before the
	// next (under a cgroup cap, dirty mapped pages are what runs out first).
	if err := b.txTable(ctx); err != nil {
		return err
	}
	na := uint64(st.NAddr)
	return b.writeTable(ctx, "addrs.table", "atab", tableSlots(na), tableBuckets(na, b.opt.MemoryBytes), 1)
}

// txTable spills (hash, tx) by slot range from the txids column and builds
// the txid table from it.
func (b *bulkBuilder) txTable(ctx context.Context) error {
	st := &b.st
	n := uint64(st.NTx)
	slots := tableSlots(n)
	tb := tableBuckets(n, b.opt.MemoryBytes)
	shift := log2(slots) - log2(uint64(tb))
	sp, err := newSpill(b.dir, "ttab", tb, 64<<10)
	if err != nil {
		return err
	}
	r, err := openRecReader(b.path("txids.col"), txidRec)
	if err != nil {
		return err
	}
	var te [12]byte
	for id := uint32(0); ; id++ {
		rec, err := r.next()
		if err != nil {
			r.close()
			return err
		}
		if rec == nil {
			break
		}
		h := binary.LittleEndian.Uint64(rec[:8])
		binary.LittleEndian.PutUint64(te[:], h)
		binary.LittleEndian.PutUint32(te[8:], id)
		if err := sp.add(int((h&(slots-1))>>shift), te[:]); err != nil {
			r.close()
			return err
		}
	}
	r.close()
	if err := sp.finish(); err != nil {
		return err
	}
	return b.writeTable(ctx, "txids.table", "ttab", slots, tb, 0)
}

// writeTable builds table name from spill buckets prefix.00000.. in slot
// order. Inserting each range's entries sorted by start slot with ordinary
// linear probing sweeps the mapping front to back (an entry pushed past its
// range lands in the next one, which is still empty; wrap-around works as
// for any insert), so pages are touched in order.
func (b *bulkBuilder) writeTable(ctx context.Context, name, prefix string, slots uint64, buckets, _ int) error {
	path := b.path(name)
	os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	err = f.Truncate(int64(slots * slotSize))
	f.Close()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	c, err := openColumn(path, slotSize, slots, false)
	if err != nil {
		return err
	}
	t := &hashTable{col: c, path: path}
	mask := slots - 1
	type entry struct {
		slot uint64
		h    uint64
		id   uint32
	}
	var es []entry
	for k := 0; k < buckets; k++ {
		if err := ctx.Err(); err != nil {
			c.close()
			return err
		}
		d, err := readBucket(b.path(fmt.Sprintf("%s.%05d", prefix, k)))
		if err != nil {
			c.close()
			return err
		}
		if cap(es) < len(d)/12 {
			es = make([]entry, 0, len(d)/12)
		}
		es = es[:0]
		for off := 0; off+12 <= len(d); off += 12 {
			h := binary.LittleEndian.Uint64(d[off:])
			es = append(es, entry{h & mask, h, binary.LittleEndian.Uint32(d[off+8:])})
		}
		slices.SortFunc(es, func(a, b entry) int {
			if c := cmp.Compare(a.slot, b.slot); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		for _, e := range es {
			t.insert(e.h, e.id)
		}
		if err := c.sync(); err != nil {
			c.close()
			return err
		}
	}
	err = c.sync()
	if e := c.f.Sync(); err == nil && e != nil {
		err = fmt.Errorf("%w: fsync %s: %v", ErrBuild, path, e)
	}
	if e := t.close(); err == nil {
		err = e
	}
	return err
}
