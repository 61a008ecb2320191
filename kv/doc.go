// Package kv is the small ordered key-value interface cointrail's persistent
// state lives behind, and its Pebble implementation. Everything above it
// (index, labels, clusters, cases) writes through Batch so that a logical
// change commits atomically or not at all.
package kv
