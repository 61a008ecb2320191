package index

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cointrail/cointrail/internal/failpoint"
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
// file that replaces the old one by rename, in an order that survives a
// kill and a power loss at any point (rebuild; SCHEMA.md).
type hashTable struct {
	col  *column // recSize slotSize; n = capacity
	path string
	used uint64 // occupied slots, recounted at open
}

const minTableSlots = 1 << 16

// rebuildSuffix names the file a rebuild fills before it renames it over
// the table.
const rebuildSuffix = ".new"

func openHashTable(path string) (*hashTable, error) {
	// A rebuild killed before its rename leaves its file behind; the table
	// under path is whole either way. Failing to remove it is harmless (the
	// next rebuild truncates it), so the error is not worth an open failing.
	os.Remove(path + rebuildSuffix)
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
	// At most one lap: a table is never more than half full, but a corrupt
	// one may have no empty slot, and a lookup must end (not found) then.
	for n, i := uint64(0), h&mask; n <= mask; n, i = n+1, (i+1)&mask {
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
//
// The old file holds every entry of any tip that may be durable; the new
// one holds every id below first+n. So a whole table stays under path
// through a kill or a power loss at any step if the new file is durable
// before the rename makes it the table (msync, fsync, rename), and the
// rename is durable (the directory fsynced) before a synced commit can
// make a tip durable whose entries only the new file holds. A kill before
// the rename leaves the new file, which open removes. Failpoints
// table-half (half the ids inserted), table-synced, table-renamed and
// table-rebuilt (directory synced) let TestTableRebuildKilled kill it at
// each step.
func (t *hashTable) rebuild(first, n uint64, hash func(id uint32) uint64) error {
	slots := t.col.n * 2
	for (n+1)*2 > slots {
		slots *= 2
	}
	tmp := t.path + rebuildSuffix
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("%w: create %s: %v", ErrCorrupt, tmp, err)
	}
	err = f.Truncate(int64(slots * slotSize))
	f.Close()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: size %s: %v", ErrCorrupt, tmp, err)
	}
	c, err := openColumn(tmp, slotSize, slots, false)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	nt := &hashTable{col: c, path: t.path}
	abandon := func(err error) error {
		nt.close()
		os.Remove(tmp)
		return err
	}
	for id := first; id < first+n; id++ {
		if id == first+n/2 {
			failpoint.Hit("table-half")
		}
		nt.insert(hash(uint32(id)), uint32(id))
	}
	if err := c.sync(); err != nil {
		return abandon(err)
	}
	if err := c.f.Sync(); err != nil {
		return abandon(fmt.Errorf("%w: fsync %s: %v", ErrCorrupt, tmp, err))
	}
	failpoint.Hit("table-synced")
	if err := os.Rename(tmp, t.path); err != nil {
		return abandon(fmt.Errorf("%w: rename %s: %v", ErrCorrupt, tmp, err))
	}
	failpoint.Hit("table-renamed")
	// From here path names the new file, so it is the table in memory too,
	// whatever fails.
	c.name = t.path
	old := *t
	*t = *nt
	if e := syncDir(filepath.Dir(t.path)); e != nil {
		err = fmt.Errorf("%w: %v", ErrCorrupt, e)
	}
	failpoint.Hit("table-rebuilt")
	if e := old.close(); err == nil {
		err = e
	}
	return err
}

func (t *hashTable) close() error {
	err := t.col.mapSize(0)
	if e := t.col.f.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
