package labels

import "errors"

// Error classes. Every error this package returns wraps one of them (or a
// kv error for a failing store).
var (
	// ErrBadInput marks a malformed label file or argument; the message names
	// the file and line.
	ErrBadInput = errors.New("labels: bad input")
	// ErrCorrupt marks stored bytes under the 'L' prefix that do not decode.
	ErrCorrupt = errors.New("labels: corrupt data")
)
