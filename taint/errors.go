package taint

import "errors"

// Error classes. Every error this package returns wraps exactly one of them
// (or the context's error) so callers can tell bad user input from a graph
// that contradicts itself from a trace that hit its bound.
var (
	// ErrBadParams marks a bad argument: unknown model, negative limit,
	// seed out of range, inconsistent window.
	ErrBadParams = errors.New("taint: bad parameters")
	// ErrLimit marks a trace that stopped at Params.MaxTxs. Trace returns it
	// together with a truncated but consistent Result.
	ErrLimit = errors.New("taint: limit reached")
	// ErrCorrupt marks a graph that contradicts itself, e.g. a transaction
	// whose outputs exceed its inputs.
	ErrCorrupt = errors.New("taint: inconsistent graph")
)
