package kv

import (
	"bytes"
	"slices"
)

// SortedBatch buffers Set operations and hands them to the underlying
// batch in key order at Commit. Bulk ingest writes keys in hash order; an
// LSM memtable (a skiplist) inserts them several times faster in key order,
// because each insert starts next to the previous one. Only Set is
// buffered: Delete and DeleteRange pass straight through, and a key must
// not be both Set and deleted in one SortedBatch.
type SortedBatch struct {
	Batch
	arena []byte
	ops   []sortedOp
}

type sortedOp struct{ k, v uint32 } // offsets into arena: key at k, value at v, value ends at next op's k

// NewSortedBatch wraps b.
func NewSortedBatch(b Batch) *SortedBatch { return &SortedBatch{Batch: b} }

// Set buffers key=value.
func (s *SortedBatch) Set(key, value []byte) {
	k := uint32(len(s.arena))
	s.arena = append(s.arena, key...)
	v := uint32(len(s.arena))
	s.arena = append(s.arena, value...)
	s.ops = append(s.ops, sortedOp{k, v})
}

// Len counts buffered and passed-through operations.
func (s *SortedBatch) Len() int { return s.Batch.Len() + len(s.ops) }

// Commit writes the buffered Sets in key order (the last Set of a key
// wins, as in a plain batch), then commits.
func (s *SortedBatch) Commit(sync bool) error {
	end := func(i int) uint32 {
		if i+1 < len(s.ops) {
			return s.ops[i+1].k
		}
		return uint32(len(s.arena))
	}
	type ref struct {
		key, val []byte
		seq      int
	}
	refs := make([]ref, len(s.ops))
	for i, op := range s.ops {
		refs[i] = ref{s.arena[op.k:op.v], s.arena[op.v:end(i)], i}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	for _, r := range refs {
		s.Batch.Set(r.key, r.val)
	}
	s.arena, s.ops = s.arena[:0], s.ops[:0]
	return s.Batch.Commit(sync)
}
