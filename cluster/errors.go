package cluster

import "errors"

// Error classes. Every error this package returns wraps one of them (or an
// index, labels or kv error, or the context's).
var (
	// ErrBadInput: a malformed argument (unknown heuristic, bad page, an
	// address id or cluster reference that cannot exist).
	ErrBadInput = errors.New("cluster: bad input")
	// ErrNotFound: a well-formed address or cluster the index does not hold.
	ErrNotFound = errors.New("cluster: not found")
	// ErrNotBuilt: no clustering has been built in this store.
	ErrNotBuilt = errors.New("cluster: not built")
	// ErrRebuild: the stored clustering cannot be continued: it was built
	// with other heuristics, by another schema version, or the index was
	// rolled back below the clustered tip. Run Build.
	ErrRebuild = errors.New("cluster: rebuild needed")
	// ErrIncomplete: a Build was interrupted while it wrote its rows (its
	// marker row is still there); nothing is served until Build runs again.
	// It also matches ErrRebuild, so every caller that copes with a
	// clustering needing a rebuild (screening and tracing go on without
	// clusters) copes with this one.
	ErrIncomplete error = incompleteError{}
	// ErrCorrupt: rows under the 'C' prefix, or the graph, violate an invariant.
	ErrCorrupt = errors.New("cluster: corrupt data")
	// ErrInternal: a bug in cointrail.
	ErrInternal = errors.New("cluster: internal error")
)

type incompleteError struct{}

func (incompleteError) Error() string        { return "cluster: clustering incomplete" }
func (incompleteError) Is(target error) bool { return target == ErrRebuild }
