// Package attrib turns the label store (and, where built, address clusters)
// into the per-address attribution that tracing and screening stop at: which
// addresses belong to services where funds can be frozen, and who they are.
package attrib
