package server

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cointrail/cointrail/kv"
)

// StateVersion is the version of the server's key schema (docs/server.md).
// Bump it on any change to the layout below.
const StateVersion = 1

// The server owns the store keys that begin with 'S'. The second byte says
// what a row is; integers are big-endian so keys sort numerically.
const (
	pfx         = 'S'
	kVersion    = 'v' // Sv → u32 StateVersion
	kFollower   = 'f' // Sf → height u32, hash [32]: the block the case state reflects
	kCounters   = 'n' // Sn → next case id u32, next alert seq u64
	kCase       = 'c' // Sc case u32 → case definition (JSON)
	kSummary    = 's' // Ss case u32 → case summary (JSON)
	kLive       = 't' // St case u32, out u64 → an unspent tainted output (binary, liveOut)
	kArrival    = 'r' // Sr case u32, out u64 → taint that arrived at a labelled service (binary)
	kAlert      = 'a' // Sa seq u64 → alert (JSON, immutable)
	kAck        = 'g' // Sg seq u64 → acknowledgement (JSON)
	kCaseAlert  = 'b' // Sb case u32, seq u64 → (empty): alerts of a case
	kQueue      = 'q' // Sq webhook [8], seq u64 → delivery state (binary)
	kDead       = 'x' // Sx webhook [8], seq u64 → delivery given up (binary)
	kUndo       = 'u' // Su height u32 → undo record of the block at that height (binary)
	kAPIKey     = 'k' // Sk sha256(key) [32] → API key record (JSON)
	kMempoolHit = 'm' // Sm case u32, txid [32] → (empty): an unconfirmed alert was raised
)

func key1(kind byte) []byte { return []byte{pfx, kind} }

func keyU32(kind byte, a uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{pfx, kind}, a)
}

func keyU64(kind byte, a uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfx, kind}, a)
}

func keyU32U64(kind byte, a uint32, b uint64) []byte {
	k := binary.BigEndian.AppendUint32([]byte{pfx, kind}, a)
	return binary.BigEndian.AppendUint64(k, b)
}

func keyQueue(kind byte, wid [8]byte, seq uint64) []byte {
	k := append([]byte{pfx, kind}, wid[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func keyMempool(c uint32, txid [32]byte) []byte {
	return append(keyU32(kMempoolHit, c), txid[:]...)
}

// getOpt reads key, reporting absence as ok=false rather than an error.
func getOpt(st kv.Store, key []byte) ([]byte, bool, error) {
	v, err := st.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// scanPrefix calls fn for every row under p, in key order.
func scanPrefix(st kv.Store, p []byte, fn func(k, v []byte) error) error {
	it, err := st.NewIter(p, kv.PrefixEnd(p))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// checkStateVersion writes the version row into an empty server state and
// refuses state of another version.
func checkStateVersion(st kv.Store) error {
	v, ok, err := getOpt(st, key1(kVersion))
	if err != nil {
		return err
	}
	if !ok {
		b := st.NewBatch()
		defer b.Close()
		b.Set(key1(kVersion), binary.BigEndian.AppendUint32(nil, StateVersion))
		return b.Commit(true)
	}
	if len(v) != 4 {
		return fmt.Errorf("%w: unreadable server state version row", ErrCorrupt)
	}
	if got := binary.BigEndian.Uint32(v); got != StateVersion {
		return fmt.Errorf("%w: the server state has version %d, this cointrail reads version %d", ErrCorrupt, got, StateVersion)
	}
	return nil
}
