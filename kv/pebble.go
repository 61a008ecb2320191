package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// Pebble is the Store backed by a Pebble LSM in one directory.
type Pebble struct {
	db  *pebble.DB
	dir string
}

// OpenPebble opens (creating if needed) the Pebble store in dir.
func OpenPebble(dir string) (*Pebble, error) {
	return openPebble(dir, pebbleOptions())
}

// OpenPebbleReadOnly opens the existing store in dir for reading only, so
// that a data directory on a read-only mount, or one an investigator made
// read-only to keep it as evidence, can be queried: Pebble's ReadOnly mode
// replays the WAL into memory and never flushes, compacts or writes an
// OPTIONS or MANIFEST file, and the directory lock is taken as a shared lock
// on the existing LOCK file opened for reading (readLockFS) instead of
// Pebble's, which creates the file for writing. Readers exclude a writer
// and a writer excludes readers, as with Pebble's own lock; every write
// fails with ErrStore.
func OpenPebbleReadOnly(dir string) (*Pebble, error) {
	opts := pebbleOptions()
	opts.ReadOnly = true
	opts.FS = readLockFS{vfs.Default}
	return openPebble(dir, opts)
}

func pebbleOptions() *pebble.Options {
	opts := &pebble.Options{
		MemTableSize:                64 << 20,
		MaxConcurrentCompactions:    func() int { return 2 },
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		Levels:                      make([]pebble.LevelOptions, 7),
		MaxOpenFiles:                1000,
		Logger:                      quietLogger{},
		DisableWAL:                  false,
		MemTableStopWritesThreshold: 4,
	}
	for i := range opts.Levels {
		opts.Levels[i].TargetFileSize = 32 << 20
		opts.Levels[i].BlockSize = 16 << 10
		opts.Levels[i].Compression = pebble.SnappyCompression
	}
	return opts
}

func openPebble(dir string, opts *pebble.Options) (*Pebble, error) {
	opts.Cache = pebble.NewCache(256 << 20)
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrStore, dir, err)
	}
	return &Pebble{db: db, dir: dir}, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(70)
}

func (p *Pebble) Get(key []byte) ([]byte, error) {
	v, c, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: get: %v", ErrStore, err)
	}
	out := append([]byte(nil), v...)
	c.Close()
	return out, nil
}

func (p *Pebble) NewBatch() Batch { return &pebbleBatch{b: p.db.NewBatch()} }

func (p *Pebble) NewIter(lower, upper []byte) (Iter, error) {
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("%w: iter: %v", ErrStore, err)
	}
	return pebbleIter{it}, nil
}

func (p *Pebble) Flush() error {
	if err := p.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("%w: sync: %v", ErrStore, err)
	}
	return nil
}

func (p *Pebble) DiskSize() int64 {
	var n int64
	filepath.WalkDir(p.dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func (p *Pebble) Close() error {
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("%w: close: %v", ErrStore, err)
	}
	return nil
}

type pebbleBatch struct{ b *pebble.Batch }

func (b *pebbleBatch) Set(k, v []byte)           { _ = b.b.Set(k, v, nil) }
func (b *pebbleBatch) Delete(k []byte)           { _ = b.b.Delete(k, nil) }
func (b *pebbleBatch) DeleteRange(lo, hi []byte) { _ = b.b.DeleteRange(lo, hi, nil) }
func (b *pebbleBatch) Len() int                  { return int(b.b.Count()) }
func (b *pebbleBatch) Close()                    { _ = b.b.Close() }
func (b *pebbleBatch) Commit(sync bool) error {
	o := pebble.NoSync
	if sync {
		o = pebble.Sync
	}
	if err := b.b.Commit(o); err != nil {
		return fmt.Errorf("%w: commit: %v", ErrStore, err)
	}
	return nil
}

type pebbleIter struct{ *pebble.Iterator }

func (i pebbleIter) SeekGE(k []byte) bool { return i.Iterator.SeekGE(k) }
func (i pebbleIter) SeekLT(k []byte) bool { return i.Iterator.SeekLT(k) }
func (i pebbleIter) Value() []byte        { return i.Iterator.Value() }
