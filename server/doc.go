// Package server is `cointrail serve`: it follows a node live (Bitcoin Core
// over ZMQ with RPC fallback, btcd by polling its RPC), keeps the index at
// the node's best chain across reorgs, propagates the taint of every case
// incrementally block by block, raises alerts when tainted value moves,
// reaches a labelled service or a watched address, delivers them to
// webhooks (signed, retried, at least once), an SSE stream and the log, and
// serves the index, traces, screening, labels, cases and alerts over an
// authenticated HTTP JSON API (docs/api/openapi.yaml).
//
// Everything the server persists lives under the 'S' prefix of the index's
// store (docs/server.md gives the versioned key schema). A block's case
// updates, its alerts, their pending deliveries, its undo record and the
// follower's position commit in one batch right after the index commits the
// block, so a crash loses no alert: a restart replays the blocks the index
// holds beyond the follower's position and resumes pending deliveries.
package server
