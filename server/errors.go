package server

import "errors"

// Error classes of the server. Every error it returns wraps one of them (or
// an error of the index, taint or labels package, which the API maps the
// same way).
var (
	// ErrBadInput: a malformed request, flag or config value.
	ErrBadInput = errors.New("server: bad input")
	// ErrNotFound: a case, alert, key or job that does not exist.
	ErrNotFound = errors.New("server: not found")
	// ErrUnauthorized: no API key or an unknown one.
	ErrUnauthorized = errors.New("server: unauthorized")
	// ErrForbidden: the key's role does not allow the request.
	ErrForbidden = errors.New("server: forbidden")
	// ErrLimit: a request beyond a configured cap (trace size, page, jobs).
	ErrLimit = errors.New("server: limit exceeded")
	// ErrReorgTooDeep: the node's chain forked deeper than the reorg limit;
	// following stops rather than guess.
	ErrReorgTooDeep = errors.New("server: reorg deeper than the limit")
	// ErrCorrupt: stored server state violates an invariant.
	ErrCorrupt = errors.New("server: corrupt state")
	// ErrInternal: a bug in cointrail.
	ErrInternal = errors.New("server: internal error")
)
