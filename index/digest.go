package index

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
)

// indexPrefixes are the store prefixes the index owns (SCHEMA.md), in the
// order the digest covers them.
var indexPrefixes = []byte{'M', pfxBlock, pfxBlockHash}

// Digest is a SHA-256 over the logical content of the index: every row of
// the index's store prefixes in key order and the committed part of every
// column. The hash tables are left out: they are derived lookups whose slot
// layout depends on history (growth, rolled-back entries). Compaction,
// growth reserve or how many batches built the index do not change the
// digest; two indexes of the same chain have the same digest.
func (ix *Index) Digest() (string, error) {
	defer ix.Scanning()()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	h := sha256.New()
	var n [8]byte
	for _, p := range indexPrefixes {
		it, err := ix.Store.NewIter([]byte{p}, []byte{p + 1})
		if err != nil {
			return "", err
		}
		for it.First(); it.Valid(); it.Next() {
			writeLV(h, &n, it.Key())
			writeLV(h, &n, it.Value())
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return "", err
		}
	}
	for _, c := range ix.columns() {
		l := c.n * uint64(c.recSize)
		if uint64(len(c.data)) < l {
			return "", fmt.Errorf("%w: %s shorter than its logical length", ErrCorrupt, c.name)
		}
		binary.BigEndian.PutUint64(n[:], l)
		h.Write(n[:])
		h.Write(c.data[:l])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeLV(h hash.Hash, n *[8]byte, b []byte) {
	binary.BigEndian.PutUint32(n[:4], uint32(len(b)))
	h.Write(n[:4])
	h.Write(b)
}
