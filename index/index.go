package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/kv"
)

// SchemaVersion is the on-disk format version (SCHEMA.md). Bump it on any change.
const SchemaVersion = 3

// NoTx marks an unspent output's spender.
const NoTx = ^uint32(0)

// NoOut ends an address's chain of outputs.
const NoOut = ^uint64(0)

const (
	txRec   = 24
	txidRec = 32
	metaRec = 16
	outRec  = 24
	inRec   = 8
	addrRec = 16
)

// Index is an open index of one network.
type Index struct {
	Net   chain.Network
	Store kv.Store
	dir   string
	log   *slog.Logger

	// mu guards the column mappings: ingest holds it for writing while it
	// appends (growth remaps the files), readers hold it for reading.
	mu                          sync.RWMutex
	txs, txids, meta, outs, ins *column
	addrs, heap                 *column
	txTable, addrTable          *hashTable
	tip                         Tip
	times                       []uint32 // block time by height
	pend                        deferred // the batch being connected
	ro                          bool     // opened read-only (readonly.go)
}

// Options tune an index; the zero value is the default.
type Options struct {
	// StoreFS, if set, holds the store (directory "db" in it) instead of
	// DATA/<network>/db: for tests that cut the power under it
	// (internal/pebblecrash). The columns stay in the data directory.
	StoreFS vfs.FS
	// ReadOnly opens an existing index for queries without writing
	// anything to its directory (readonly.go); the write paths then fail
	// with ErrReadOnly. Without it, Open refuses an index that is not
	// Writable.
	ReadOnly bool
	// AllowCorrupt opens an index that fails the checks at open
	// (opencheck.go) instead of refusing it, for the commands that find and
	// cut off damage: `index verify` and `index rollback`. Queries on it
	// still return ErrCorrupt where they meet a bad record.
	AllowCorrupt bool
}

// Dir returns the directory of network net's index under data dir.
func Dir(dataDir string, net chain.Network) string { return filepath.Join(dataDir, net.Name) }

// Open opens (creating if needed) the index of net under dataDir.
func Open(dataDir string, net chain.Network, opt Options, log *slog.Logger) (*Index, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := Dir(dataDir, net)
	st, err := openStore(dataDir, net, opt)
	if err != nil {
		return nil, err
	}
	ix := &Index{Net: net, Store: st, dir: dir, log: log, ro: opt.ReadOnly}
	if err := ix.checkVersion(); err != nil {
		st.Close()
		return nil, err
	}
	if err := ix.loadTip(); err != nil {
		st.Close()
		return nil, err
	}
	// An interrupted bulk install must finish before the columns open: their
	// recovery would cut the installed files back to the empty tip (BULK.md).
	if opened, err := ix.resumeBulkInstall(); err != nil || !opened {
		if err == nil {
			err = ix.openColumns()
		}
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	if err := ix.loadTimes(); err != nil {
		ix.Close()
		return nil, err
	}
	if err := ix.checkTail(); err != nil {
		if !opt.AllowCorrupt {
			ix.Close()
			return nil, err
		}
		log.Debug("opened a corrupt index for repair", "err", err)
	}
	return ix, nil
}

func (ix *Index) checkVersion() error {
	v, err := ix.Store.Get(keyVersion)
	if errors.Is(err, kv.ErrNotFound) && ix.ro {
		return fmt.Errorf("%w: %s holds no index to open read-only", ErrBadInput, ix.dir)
	}
	if errors.Is(err, kv.ErrNotFound) {
		b := ix.Store.NewBatch()
		defer b.Close()
		val := binary.BigEndian.AppendUint32(nil, SchemaVersion)
		b.Set(keyVersion, append(val, ix.Net.Name...))
		return b.Commit(true)
	}
	if err != nil {
		return err
	}
	if len(v) < 4 {
		return fmt.Errorf("%w: %s: unreadable version record", ErrCorrupt, ix.dir)
	}
	ver, net := binary.BigEndian.Uint32(v), string(v[4:])
	if ver != SchemaVersion {
		return fmt.Errorf("%w: %s holds schema version %d, this cointrail reads version %d; rebuild the index with this version", ErrVersion, ix.dir, ver, SchemaVersion)
	}
	if net != ix.Net.Name {
		return fmt.Errorf("%w: %s holds a %s index, not %s", ErrVersion, ix.dir, net, ix.Net.Name)
	}
	return nil
}

func (ix *Index) loadTip() error {
	v, err := ix.Store.Get(keyTip)
	if errors.Is(err, kv.ErrNotFound) {
		ix.tip = Tip{Empty: true}
		return nil
	}
	if err != nil {
		return err
	}
	t, ok := decodeTip(v)
	if !ok {
		return fmt.Errorf("%w: %s: unreadable tip record", ErrCorrupt, ix.dir)
	}
	ix.tip = t
	return nil
}

func (ix *Index) openColumns() error {
	g := filepath.Join(ix.dir, "graph")
	t := ix.tip
	var err error
	open := func(name string, rec int, n uint64) *column {
		if err != nil {
			return nil
		}
		var c *column
		c, err = openColumn(filepath.Join(g, name), rec, n, ix.ro)
		return c
	}
	openTable := openHashTable
	if ix.ro {
		openTable = openHashTableRO
	}
	ix.txs = open("txs.col", txRec, uint64(t.nTx))
	ix.txids = open("txids.col", txidRec, uint64(t.nTx))
	ix.meta = open("txmeta.col", metaRec, uint64(t.nTx))
	ix.outs = open("outs.col", outRec, t.nOut)
	ix.ins = open("ins.col", inRec, t.nIn)
	ix.addrs = open("addrs.col", addrRec, uint64(t.nAddr))
	ix.heap = open("addrkeys.heap", 1, t.heapLen)
	if err == nil {
		ix.txTable, err = openTable(filepath.Join(g, "txids.table"))
	}
	if err == nil {
		ix.addrTable, err = openTable(filepath.Join(g, "addrs.table"))
	}
	if err == nil && !ix.ro {
		// The files' directory entries durable before a commit counts on them.
		if e := syncDir(g); e != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, e)
		}
	}
	if err != nil {
		ix.closeColumns()
		return err
	}
	return ix.recover()
}

// syncDir makes the entries of directory dir durable; callers wrap the
// error with their sentinel.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %v", dir, err)
	}
	return nil
}

// Scanning tells the kernel the columns are about to be read front to back
// (verify, digest, a cluster build) and returns the call that restores
// random access, the default.
func (ix *Index) Scanning() (done func()) {
	set := func(seq bool) {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		for _, c := range ix.columns() {
			if c != nil {
				c.advise(seq)
			}
		}
	}
	set(true)
	return func() { set(false) }
}

func (ix *Index) columns() []*column {
	return []*column{ix.txs, ix.txids, ix.meta, ix.outs, ix.ins, ix.addrs, ix.heap}
}

// recover undoes what column records beyond the committed tip did to
// committed ones — spent marks and address heads — and truncates every
// column to its committed length (SCHEMA.md). It runs at open, after a
// failed batch and after a rollback. Read-only it only checks that there is
// nothing to undo: the records beyond the tip are left on disk, unused.
func (ix *Index) recover() error {
	t := ix.tip
	fixed := 0
	for i, end := t.nIn, uint64(len(ix.ins.data)/inRec); i < end; i++ {
		o := binary.LittleEndian.Uint64(ix.ins.rec(i))
		if o >= t.nOut {
			continue
		}
		r := ix.outs.rec(o)
		if s := binary.LittleEndian.Uint32(r[12:]); s != NoTx && s >= t.nTx {
			if ix.ro {
				return ix.needsRecovery()
			}
			binary.LittleEndian.PutUint32(r[12:], NoTx)
			fixed++
		}
	}
	for o := uint64(len(ix.outs.data)/outRec) - 1; o+1 > t.nOut; o-- {
		r := ix.outs.rec(o)
		a := binary.LittleEndian.Uint32(r[8:])
		if a == 0 || a > t.nAddr {
			continue
		}
		if ar := ix.addrs.rec(uint64(a - 1)); binary.LittleEndian.Uint64(ar[8:]) == o {
			if ix.ro {
				return ix.needsRecovery()
			}
			copy(ar[8:], r[16:24]) // the head goes back to the previous output
			fixed++
		}
	}
	if fixed > 0 {
		ix.log.Info("recovered records beyond the committed tip", "fixed", fixed, "tip", t.Height)
		// The undone marks and heads durable before the tails that found
		// them are cut off or overwritten by the next batch: after that,
		// nothing could find them again.
		failpoint.Hit("undo")
		if err := ix.syncColumns(); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		c *column
		n uint64
	}{{ix.txs, uint64(t.nTx)}, {ix.txids, uint64(t.nTx)}, {ix.meta, uint64(t.nTx)}, {ix.outs, t.nOut}, {ix.ins, t.nIn},
		{ix.addrs, uint64(t.nAddr)}, {ix.heap, t.heapLen}} {
		if uint64(len(c.c.data)) != c.n*uint64(c.c.recSize) && !ix.ro {
			if err := c.c.truncate(c.n); err != nil {
				return err
			}
		}
		c.c.n = c.n
	}
	failpoint.Hit("recovered")
	return nil
}

// setLengths sets the columns' logical lengths from the tip.
func (ix *Index) setLengths() {
	t := ix.tip
	ix.txs.n, ix.txids.n, ix.meta.n = uint64(t.nTx), uint64(t.nTx), uint64(t.nTx)
	ix.outs.n, ix.ins.n, ix.addrs.n, ix.heap.n = t.nOut, t.nIn, uint64(t.nAddr), t.heapLen
}

func (ix *Index) closeColumns() error {
	var first error
	for _, c := range ix.columns() {
		if c != nil {
			if err := c.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	for _, t := range []*hashTable{ix.txTable, ix.addrTable} {
		if t != nil {
			if err := t.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Sync makes everything committed so far durable: columns first, then the
// store, so a durable tip never points past durable column data.
func (ix *Index) Sync() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.syncColumns(); err != nil {
		return err
	}
	return ix.Store.Flush()
}

func (ix *Index) syncColumns() error {
	for _, c := range append(ix.columns(), ix.txTable.col, ix.addrTable.col) {
		if err := c.sync(); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the index.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	err := ix.closeColumns()
	if e := ix.Store.Close(); e != nil && err == nil {
		err = e
	}
	return err
}

// Tip returns the current tip.
func (ix *Index) Tip() Tip {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.tip
}

// Counts returns the number of transactions, outputs, inputs and addresses.
func (t Tip) Counts() (txs uint32, outs, ins uint64, addrs uint32) {
	return t.nTx, t.nOut, t.nIn, t.nAddr
}

// DiskSize is the bytes the index occupies on disk: the store, the
// committed columns and the hash tables.
func (ix *Index) DiskSize() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := ix.Store.DiskSize()
	for _, c := range ix.columns() {
		n += int64(c.n) * int64(c.recSize)
	}
	return n + int64(len(ix.txTable.col.data)+len(ix.addrTable.col.data))
}
