// Package pebblecrash simulates a power cut under a Pebble store for tests.
//
// FS is Pebble's strict in-memory file system (vfs.NewStrictMem), which
// keeps apart what was written and what was synced, with a counter of
// syncs: CrashAtSync(n) makes the n-th sync and every later one do
// nothing, as if the power went at that instant while the program goes
// on. After the store is closed, Restore drops everything not synced (file
// contents and directory entries alike) and the store can be reopened to
// see what a machine would find after the cut. Running a scenario once to
// count its syncs and then once per sync, crashing there, enumerates every
// point at which a power cut can land between two durable states.
package pebblecrash

import (
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/vfs"
)

// FS is a vfs.FS whose power can be cut at a chosen sync.
type FS struct {
	*vfs.MemFS

	mu      sync.Mutex
	syncs   int64 // file and directory syncs seen
	crashAt int64 // 0: never
	crashed bool
}

// Dir is a directory of every new FS, there durably (the root synced):
// open the store in it. (The root of a strict MemFS is synced by no one
// else, so a store in a directory made without syncing the root vanishes
// whole at the first Restore.)
const Dir = "db"

// New returns an FS with the power on and an empty Dir.
func New() *FS {
	m := vfs.NewStrictMem()
	if err := m.MkdirAll(Dir, 0o755); err != nil {
		panic(err) // cannot fail in memory
	}
	root, err := m.OpenDir("/")
	if err != nil {
		panic(err)
	}
	_ = root.Sync()
	_ = root.Close()
	return &FS{MemFS: m}
}

// Syncs is the number of syncs so far (counting those after a crash).
func (f *FS) Syncs() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

// CrashAtSync cuts the power at the n-th sync (counted from New or the
// last Restore); 0 disarms it.
func (f *FS) CrashAtSync(n int64) {
	f.mu.Lock()
	f.crashAt = n
	f.mu.Unlock()
}

// Crash cuts the power now.
func (f *FS) Crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashLocked()
}

func (f *FS) crashLocked() {
	if !f.crashed {
		f.crashed = true
		f.MemFS.SetIgnoreSyncs(true)
	}
}

// Crashed reports whether the power was cut.
func (f *FS) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Restore drops every write not synced before the cut (if there was one)
// and turns the power back on. Close the store first.
func (f *FS) Restore() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		f.MemFS.ResetToSyncedState()
		f.MemFS.SetIgnoreSyncs(false)
	}
	f.crashed, f.crashAt, f.syncs = false, 0, 0
}

// beforeSync counts a sync and cuts the power when it is the chosen one.
func (f *FS) beforeSync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	if f.crashAt > 0 && f.syncs >= f.crashAt {
		f.crashLocked()
	}
}

func (f *FS) wrap(file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &syncFile{File: file, fs: f}, nil
}

func (f *FS) Create(name string) (vfs.File, error) { return f.wrap(f.MemFS.Create(name)) }
func (f *FS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return f.wrap(f.MemFS.Open(name, opts...))
}
func (f *FS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return f.wrap(f.MemFS.OpenReadWrite(name, opts...))
}
func (f *FS) OpenDir(name string) (vfs.File, error) { return f.wrap(f.MemFS.OpenDir(name)) }
func (f *FS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	return f.wrap(f.MemFS.ReuseForWrite(oldname, newname))
}

// syncFile counts the syncs of one file.
type syncFile struct {
	vfs.File
	fs *FS
}

func (s *syncFile) Sync() error     { s.fs.beforeSync(); return s.File.Sync() }
func (s *syncFile) SyncData() error { s.fs.beforeSync(); return s.File.SyncData() }

// Load copies the files of the directory src on disk into Dir, synced: the
// starting state of a scenario (a store built on disk, closed). Syncs made
// by Load are not counted.
func (f *FS) Load(src string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		w, err := f.MemFS.Create(f.MemFS.PathJoin(Dir, e.Name()))
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if err := w.Sync(); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	d, err := f.MemFS.OpenDir(Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Save writes the files of Dir, as they are now (after Restore: as found
// after the power cut), to the directory dst on disk, replacing what dst
// held, so that the ordinary store can open them.
func (f *FS) Save(dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	names, err := f.MemFS.List(Dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		r, err := f.MemFS.Open(f.MemFS.PathJoin(Dir, n))
		if err != nil {
			return err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
