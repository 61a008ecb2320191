package chain

import "errors"

// Error classes. Every error this package returns wraps exactly one of them so
// callers can tell bad input from corrupt data from an unreachable node.
var (
	// ErrCorrupt marks bytes that do not decode as what they claim to be.
	ErrCorrupt = errors.New("chain: corrupt data")
	// ErrWrongNetwork marks data or an address of another network.
	ErrWrongNetwork = errors.New("chain: wrong network")
	// ErrBadInput marks a malformed argument given by the user.
	ErrBadInput = errors.New("chain: bad input")
	// ErrPartial marks a blocks directory whose best chain stops before
	// blocks it holds (a gap): the chain up to the gap can still be used
	// when the caller says so (ingest --allow-partial).
	ErrPartial = errors.New("chain: incomplete chain")
	// ErrNode marks a node that is unreachable or refuses us.
	ErrNode = errors.New("chain: node error")
)
