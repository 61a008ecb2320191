package index

import "errors"

// Error classes of the index. Every error returned wraps one of them.
var (
	// ErrCorrupt: stored bytes or block data violate an invariant (truncated
	// column files, a block spending a missing output, a double spend).
	ErrCorrupt = errors.New("index: corrupt data")
	// ErrBadInput: the user asked for something malformed or absent.
	ErrBadInput = errors.New("index: bad input")
	// ErrNotFound: a well-formed txid/address/block the index does not hold.
	ErrNotFound = errors.New("index: not found")
	// ErrVersion: the data directory was written by another schema version or for another network.
	ErrVersion = errors.New("index: incompatible index")
	// ErrUnknownParent: a block does not extend the current tip.
	ErrUnknownParent = errors.New("index: block does not extend the tip")
	// ErrReadOnly: the index cannot be written — its directory or files are
	// not writable, or it was opened read-only — and a command needed to.
	ErrReadOnly = errors.New("index: read-only")
	// ErrInternal: a bug in cointrail, never the user's or the data's fault.
	ErrInternal = errors.New("index: internal error")
)
