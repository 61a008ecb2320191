package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// A read-only index serves queries from a data directory nothing may be
// written to: a read-only mount, or a copy kept as evidence with its write
// permissions removed. Nothing is created, truncated, locked for writing or
// recovered: the store opens in Pebble's read-only mode, the columns and
// tables are mapped read-only at their length on disk and used up to the
// committed tip. The one thing such an open cannot do is the recovery after
// an ingest was killed mid-batch, because that rewrites committed records;
// it then refuses (ErrReadOnly) instead of serving spent marks and address
// heads of blocks that never committed.

// Writable reports, as nil or an ErrReadOnly error naming the path, whether
// the index of net under dataDir can be written: every directory and file
// of it (or, before it exists, the nearest directory above it) must be
// writable by this process and must have a write permission bit. The second
// rule makes `chmod -R a-w` mean read-only for root too, whom the kernel
// would let write anyway: an investigator who removed the write bits asked
// for the index to be left alone.
func Writable(dataDir string, net chain.Network) error {
	dir := Dir(dataDir, net)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		d := filepath.Dir(dir)
		for {
			if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
				break
			}
			d = filepath.Dir(d)
		}
		return pathWritable(dir, d)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadInput, dir, err)
	}
	var bad error
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we looked (a finished bulk build's files)
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if bad = pathWritable(dir, p); bad != nil {
			return fs.SkipAll
		}
		return nil
	})
	if bad != nil {
		return bad
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadInput, dir, err)
	}
	return nil
}

// pathWritable checks one path of the index in dir.
func pathWritable(dir, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadInput, p, err)
	}
	why := ""
	if err := syscall.Access(p, 2 /* W_OK */); err != nil {
		why = err.Error()
	} else if fi.Mode().Perm()&0o222 == 0 {
		why = "no write permission bits"
	}
	if why == "" {
		return nil
	}
	if p != dir {
		why = p + ": " + why
	}
	return fmt.Errorf("%w: the index in %s is not writable (%s)", ErrReadOnly, dir, why)
}

// openStore opens the index's store: read-only, or after checking that the
// index is Writable, so that a writing command on a read-only data
// directory fails with one line naming it rather than with whichever write
// fails first (Pebble's lock file, a column's truncation).
func openStore(dataDir string, net chain.Network, opt Options) (*kv.Pebble, error) {
	dir := Dir(dataDir, net)
	if opt.ReadOnly {
		if _, err := os.Stat(filepath.Join(dir, "graph")); err != nil {
			return nil, fmt.Errorf("%w: no %s index in %s to open read-only: %v", ErrBadInput, net.Name, dataDir, err)
		}
		return kv.OpenPebbleReadOnly(filepath.Join(dir, "db"))
	}
	if err := Writable(dataDir, net); err != nil {
		return nil, fmt.Errorf("%w; this command writes to it (queries open a read-only index as it is)", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "graph"), 0o755); err != nil {
		return nil, fmt.Errorf("%w: create %s: %v", ErrBadInput, dir, err)
	}
	if opt.StoreFS != nil {
		return kv.OpenPebbleFS("db", opt.StoreFS)
	}
	return kv.OpenPebble(filepath.Join(dir, "db"))
}

// writable fails on a read-only index: the write paths would store into
// read-only mappings.
func (ix *Index) writable() error {
	if ix.ro {
		return fmt.Errorf("%w: the index in %s was opened read-only", ErrReadOnly, ix.dir)
	}
	return nil
}

// ReadOnly reports whether the index was opened read-only.
func (ix *Index) ReadOnly() bool { return ix.ro }

// openHashTableRO maps an existing hash table read-only, with the checks
// of openHashTable; it neither creates nor sizes the file, nor counts the
// used slots (only inserts need them), which would read the whole table.
func openHashTableRO(path string) (*hashTable, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	slots := uint64(fi.Size() / slotSize)
	if slots < minTableSlots || slots&(slots-1) != 0 || fi.Size()%slotSize != 0 {
		return nil, fmt.Errorf("%w: %s: %d bytes is not a table of a power of two slots", ErrCorrupt, path, fi.Size())
	}
	c, err := openColumn(path, slotSize, slots, true)
	if err != nil {
		return nil, err
	}
	return &hashTable{col: c, path: path}, nil // used is for inserts: not counted
}

// needsRecovery is the refusal of a read-only open that finds committed
// records changed by a batch that never committed.
func (ix *Index) needsRecovery() error {
	return fmt.Errorf("%w: the index in %s was left by an interrupted ingest or rollback, and its recovery writes: run `cointrail status` on it once where it is writable (remount it read-write, or copy it)", ErrReadOnly, ix.dir)
}
