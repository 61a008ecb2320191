// Package cluster groups addresses into entities (clusters of addresses one
// party controls). The multi-input heuristic links every address spent
// together in one transaction (coinbases and CoinJoins, as pattern.Detect
// sees them, are skipped); optional change-address heuristics (address type,
// optimal change, power-of-ten value, fresh change address, address reuse,
// as defined by BlockSci) link a transaction's one identified change output
// to its inputs.
//
// Cluster ids are stable: a cluster's id is the address id of its root, a
// merge keeps the id of the larger cluster (the older on a tie) and records
// the retired id, the survivor and the block, so an id cited in a case file
// always resolves. The union-find lives in memory over the dense address ids
// of the index (36 bytes per address) and is persisted under the store's 'C'
// prefix together with the clustered tip; Update folds new blocks in without
// a rebuild and refuses to run on an index rolled back below that tip.
//
// Reader answers queries from the store alone (ClusterOf, Entity, Merges),
// paged so that superclusters stay cheap; Attribution maps labels onto
// addresses and clusters, propagating the cluster-defining ones. The rules
// and the key schema are documented in docs/clustering.md.
package cluster
