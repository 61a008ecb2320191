// Package index turns Bitcoin blocks into cointrail's embedded index: dense
// integer ids in chain order, memory-mapped column files for the transaction
// graph (so a trace hop is a couple of array reads) and Pebble rows for
// everything looked up by hash or address. The layout is documented and
// versioned in SCHEMA.md beside this file.
package index
