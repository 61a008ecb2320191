package index

import (
	"encoding/binary"
	"fmt"
	"os"
)

// hashTable maps keys (txids, address keys) to dense ids with open
// addressing and linear probing over a memory-mapped file of 8-byte slots:
// id+1 (u32, 0 = empty) and a fingerprint (the hash's top 32 bits). Keys are
// not stored: a candidate whose fingerprint matches is checked against the
// column that holds the key — the fingerprint spares nearly every such
// check, each a cache miss — and ids at or beyond the committed count are
// ignored. So entries of a batch that never committed, or of
// blocks rolled back, are harmless leftovers, and nothing is ever deleted.
// The table doubles when half full, rebuilt from the columns into a new
// file that replaces the old one atomically.
type hashTable struct {
	col  *column // recSize 4; n = capacity
	path string
	used uint64 // occupied slots, recounted at open
}

const minTableSlots = 1 << 16

func openHashTable(path string) (*hashTable, error) {
	fi, err := os.Stat(path)
	slots := uint64(minTableSlots)
	if err == nil && fi.Size() >= minTableSlots*slotSize {
		slots = uint64(fi.Size() / slotSize)
	}
	if slots&(slots-1) != 0 {
		return nil, fmt.Errorf("%w: %s: %d slots is not a power of two", ErrCorrupt, path, slots)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrCorrupt, path, err)
	}
	if err := f.Truncate(int64(slots * slotSize)); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: size %s: %v", ErrCorrupt, path, err)
	}
	f.Close()
	c, err := openColumn(path, slotSize, slots, false)
	if err != nil {
		return nil, err
	}
	t := &hashTable{col: c, path: path}
	for i := uint64(0); i < slots; i++ {
		if t.slot(i) != 0 {
			t.used++
		}
	}
	return t, nil
}

const slotSize = 8

func (t *hashTable) slot(i uint64) uint64 { return binary.LittleEndian.Uint64(t.col.data[i*slotSize:]) }

// probe calls match for each candidate id of hash h (those with its
// fingerprint) until it returns true or an empty slot ends the chain.
func (t *hashTable) probe(h uint64, match func(id uint32) bool) {
	mask := t.col.n - 1
	fp := uint32(h >> 32)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slot(i)
		if s == 0 {
			return
		}
		if uint32(s>>32) == fp && match(uint32(s)-1) {
			return
		}
	}
}

// insert adds id under hash h; full must be checked first.
func (t *hashTable) insert(h uint64, id uint32) {
	mask := t.col.n - 1
	for i := h & mask; ; i = (i + 1) & mask {
		if t.slot(i) == 0 {
			binary.LittleEndian.PutUint64(t.col.data[i*slotSize:], uint64(id+1)|h>>32<<32)
			t.used++
			return
		}
	}
}

// full reports whether one more entry would pass half the capacity.
func (t *hashTable) full() bool { return (t.used+1)*2 > t.col.n }

// rebuild replaces the table by one of at least twice the capacity holding
// the ids 0..n-1 (or 1..n, from first) with their hashes.
func (t *hashTable) rebuild(first, n uint64, hash func(id uint32) uint64) error {
	slots := t.col.n * 2
	for (n+1)*2 > slots {
		slots *= 2
	}
	tmp := t.path + ".new"
	os.Remove(tmp)
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := f.Truncate(int64(slots * slotSize)); err != nil {
		f.Close()
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	f.Close()
	c, err := openColumn(tmp, slotSize, slots, false)
	if err != nil {
		return err
	}
	nt := &hashTable{col: c, path: t.path}
	for id := first; id < first+n; id++ {
		nt.insert(hash(uint32(id)), uint32(id))
	}
	if err := os.Rename(tmp, t.path); err != nil {
		c.close()
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	c.name = t.path
	if err := t.col.mapSize(0); err != nil {
		return err
	}
	t.col.f.Close()
	*t = *nt
	return nil
}

func (t *hashTable) close() error {
	err := t.col.mapSize(0)
	if e := t.col.f.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
