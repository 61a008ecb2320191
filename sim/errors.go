package sim

import "errors"

var (
	// ErrBadConfig marks a Config (or a node) the simulator cannot work with.
	ErrBadConfig = errors.New("sim: bad config")
	// ErrInternal marks a simulator bug: a transaction or block it built
	// does not hold together.
	ErrInternal = errors.New("sim: internal error")
)
