package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/kv"
)

// Digest returns the SHA-256 of the stored clustering's logical content, so
// two clusterings can be compared (a build against an update, two
// machines, a copy kept as evidence) and tampering shows. It covers, in
// this order and as fixed-size little-endian fields:
//
//	"cointrail clusters v1\n"
//	change heuristics u8, power-of-ten digits u8
//	tip: height u32, hash [32], n_tx u32, n_addr u32, merges u64
//	"addresses": for every address id 1..n_addr its cluster id u32
//	"members":   per member row, cluster u32, address u32 (cluster, address order)
//	"clusters":  per cluster of two or more, id u32 + the aggregates record (id order)
//	"merges":    per merge record, retired u32 + the record (retired order)
//	"joined":    per reverse merge row, survivor u32, retired u32
//
// It does not cover the supercluster size (a reporting threshold) and
// does not depend on how the clustering was made: one Build or a Build
// and any sequence of Updates to the same tip give the same digest. It
// fails like Open (ErrNotBuilt, ErrIncomplete, ErrRebuild) and with
// ErrCorrupt on a row of the wrong shape. Cost: one sequential read of
// every row under the prefix plus 4 bytes hashed per address.
func Digest(ctx context.Context, ix *index.Index) ([32]byte, error) {
	st, err := readState(ix)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	var buf []byte
	put32 := func(v uint32) { buf = binary.LittleEndian.AppendUint32(buf, v) }
	flush := func() {
		if len(buf) >= 1<<16 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, "cointrail clusters v1\n"...)
	buf = append(buf, byte(st.opts.Change), byte(st.opts.PowerOfTenDigits))
	buf = append(buf, st.tip.encode()...)

	// scan calls fn for every row of one kind, in key order.
	scan := func(kind byte, keyLen int, fn func(k, v []byte) error) error {
		lo := key1(kind)
		it, err := ix.Store.NewIter(lo, kv.PrefixEnd(lo))
		if err != nil {
			return err
		}
		defer it.Close()
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			if n++; n%(1<<16) == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(it.Key()) != keyLen {
				return fmt.Errorf("%w: row key %x", ErrCorrupt, it.Key())
			}
			if err := fn(it.Key(), it.Value()); err != nil {
				return err
			}
			flush()
		}
		return it.Error()
	}

	buf = append(buf, "addresses"...)
	next := uint32(1) // the next address id to hash
	if err := scan(kAddr, 6, func(k, v []byte) error {
		a := binary.BigEndian.Uint32(k[2:])
		if len(v) != 4 || a < next || a > st.tip.NAddr {
			return fmt.Errorf("%w: address row %x=%x with %d addresses clustered", ErrCorrupt, k, v, st.tip.NAddr)
		}
		for ; next < a; next++ {
			put32(next)
			flush()
		}
		buf = append(buf, v...)
		next++
		return nil
	}); err != nil {
		return [32]byte{}, err
	}
	for ; next <= st.tip.NAddr && next != 0; next++ {
		put32(next)
		flush()
	}
	buf = append(buf, "members"...)
	if err := scan(kMember, 10, func(k, _ []byte) error {
		put32(binary.BigEndian.Uint32(k[2:]))
		put32(binary.BigEndian.Uint32(k[6:]))
		return nil
	}); err != nil {
		return [32]byte{}, err
	}
	buf = append(buf, "clusters"...)
	if err := scan(kAgg, 6, func(k, v []byte) error {
		if len(v) != aggLen {
			return fmt.Errorf("%w: aggregates row %x", ErrCorrupt, k)
		}
		put32(binary.BigEndian.Uint32(k[2:]))
		buf = append(buf, v...)
		return nil
	}); err != nil {
		return [32]byte{}, err
	}
	buf = append(buf, "merges"...)
	if err := scan(kRetired, 6, func(k, v []byte) error {
		if len(v) != mergeLen {
			return fmt.Errorf("%w: merge row %x", ErrCorrupt, k)
		}
		put32(binary.BigEndian.Uint32(k[2:]))
		buf = append(buf, v...)
		return nil
	}); err != nil {
		return [32]byte{}, err
	}
	buf = append(buf, "joined"...)
	if err := scan(kJoined, 10, func(k, _ []byte) error {
		put32(binary.BigEndian.Uint32(k[2:]))
		put32(binary.BigEndian.Uint32(k[6:]))
		return nil
	}); err != nil {
		return [32]byte{}, err
	}
	h.Write(buf)
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// Clustering is the state of an index's clustering as evidence records it.
type Clustering struct {
	// State: built; none; incomplete (a killed build: never served as
	// complete); stale (the index was rolled back under it, or it is of
	// another schema: ErrRebuild).
	State  string   `json:"state"`
	SHA256 string   `json:"sha256,omitempty"` // the digest, when built
	Tip    *TipView `json:"tip,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// StateOf reads the clustering's state and, when built, its digest.
func StateOf(ctx context.Context, ix *index.Index) (Clustering, error) {
	var c Clustering
	cd, err := Digest(ctx, ix)
	var r *Reader
	if err == nil {
		r, err = Open(ix)
	}
	switch {
	case err == nil:
		tip := r.Tip()
		c.State, c.SHA256, c.Tip = "built", hex.EncodeToString(cd[:]), &tip
	case errors.Is(err, ErrNotBuilt):
		c.State = "none"
	case errors.Is(err, ErrIncomplete): // before ErrRebuild, which it also matches
		c.State, c.Reason = "incomplete", err.Error()
	case errors.Is(err, ErrRebuild):
		c.State, c.Reason = "stale", err.Error()
	default:
		return c, err
	}
	return c, nil
}
