package screen

import "errors"

// Error classes. Every error this package returns wraps one of them (or an
// index, cluster, labels, taint or kv error, or the context's).
var (
	// ErrBadInput: a malformed target, option or policy.
	ErrBadInput = errors.New("screen: bad input")
	// ErrNotFound: a well-formed transaction the index does not hold.
	ErrNotFound = errors.New("screen: not found")
	// ErrInternal: a bug in cointrail.
	ErrInternal = errors.New("screen: internal error")
)
