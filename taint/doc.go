// Package taint follows value through the transaction graph: given seed
// outputs (stolen funds) it says where they went (forward) or where they came
// from (backward) under one of five taint models (poison, haircut, FIFO, LIFO,
// TIHO), all exact in integer satoshis and, except poison, conserving taint:
// what enters a transaction leaves it through its outputs and its fee.
//
// Split and Unsplit are the models applied to one transaction; Trace walks the
// graph with them, stopping at labelled services, unspent outputs, dust and
// the limits in Params, and returns a deterministic Result whose canonical
// JSON carries its own SHA-256. The rules and their test vectors are written
// up in docs/taint-models.md.
//
// The package reads the graph only through the Graph interface; MemGraph is
// an in-memory implementation for tests and benchmarks.
package taint
