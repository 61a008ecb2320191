package kv

import (
	"fmt"
	"io"
	"os"

	"github.com/cockroachdb/pebble/vfs"
	"golang.org/x/sys/unix"
)

// readLockFS is the file system of a read-only store: Pebble's, except for
// the directory lock. Pebble locks by creating LOCK for writing, which a
// read-only mount refuses (and which would write to an evidence copy);
// readLockFS opens the existing LOCK for reading and takes a shared lock
// on it: on Linux an open-file-description lock, which conflicts with the
// record lock a writing Pebble holds on the same file even within one
// process and, unlike a record lock, is not dropped when another
// descriptor of the file is closed — so a reader and a writer exclude each
// other whichever comes first (readlock_linux.go, readlock_other.go).
type readLockFS struct{ vfs.FS }

func (readLockFS) Lock(name string) (io.Closer, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open the lock file for reading: %w", err)
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), setLockCmd, &lk); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return f, nil // closing the file releases the lock
}
