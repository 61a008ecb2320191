package kv

import "errors"

var (
	// ErrNotFound is returned by Get for a missing key.
	ErrNotFound = errors.New("kv: not found")
	// ErrStore wraps failures of the underlying engine (I/O, corruption it detects).
	ErrStore = errors.New("kv: store error")
)

// Store is an ordered byte-keyed map with atomic batches.
type Store interface {
	// Get returns a copy of the value stored under key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// NewBatch starts an atomic write.
	NewBatch() Batch
	// NewIter iterates keys in [lower, upper); a nil bound is open.
	NewIter(lower, upper []byte) (Iter, error)
	// DiskSize is the bytes the store occupies on disk.
	DiskSize() int64
	// Flush persists everything committed so far (used after NoSync bulk writes).
	Flush() error
	Close() error
}

// Batch collects writes that commit together.
type Batch interface {
	Set(key, value []byte)
	Delete(key []byte)
	// DeleteRange deletes every key in [lower, upper).
	DeleteRange(lower, upper []byte)
	// Len is the number of operations queued.
	Len() int
	// Commit applies the batch atomically; sync forces it to stable storage.
	Commit(sync bool) error
	// Close releases the batch; it must not be used afterwards.
	Close()
}

// Iter walks keys in order. Key and Value are valid until the next move.
type Iter interface {
	First() bool
	Last() bool
	Next() bool
	Prev() bool
	SeekGE(key []byte) bool
	SeekLT(key []byte) bool
	Valid() bool
	Key() []byte
	Value() []byte
	Error() error
	Close() error
}

// PrefixEnd returns the smallest key greater than every key with prefix p
// (nil when there is none), for use as an iterator's upper bound.
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
