package kv

import (
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// OpenPebbleFS opens (creating if needed) the Pebble store in dir of the
// file system fs, with the options of OpenPebble. It exists for the
// power-loss tests: over a strict in-memory file system
// (internal/pebblecrash) they drop every write not synced and reopen, as
// after a power cut.
func OpenPebbleFS(dir string, fs vfs.FS) (*Pebble, error) {
	opts := &pebble.Options{
		FS:                          fs,
		MemTableSize:                64 << 20,
		MaxConcurrentCompactions:    func() int { return 2 },
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		Levels:                      make([]pebble.LevelOptions, 7),
		MaxOpenFiles:                1000,
		Logger:                      quietLogger{},
		MemTableStopWritesThreshold: 4,
	}
	for i := range opts.Levels {
		opts.Levels[i].TargetFileSize = 32 << 20
		opts.Levels[i].BlockSize = 16 << 10
		opts.Levels[i].Compression = pebble.SnappyCompression
	}
	opts.Cache = pebble.NewCache(16 << 20)
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrStore, dir, err)
	}
	return &Pebble{db: db, dir: dir}, nil
}
