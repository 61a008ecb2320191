package labels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// Key schema of the 'L' prefix, version 1 (docs/labels.md). Integers are
// big-endian so keys sort numerically.
//
//	L v                         → version u8
//	L n                         → next file id u32
//	L f fid u32                 → file manifest
//	L p net u8 path             → fid u32 (the file's current import)
//	L a net u8 len u8 addrkey fid u32 seq u32 → record
//	L t net u8 txid[32] fid u32 seq u32       → record
//	L r fid u32 seq u32         → the a/t key of that label
const (
	schemaVersion = 1

	kVersion  = 'v'
	kNextFile = 'n'
	kFile     = 'f'
	kPath     = 'p'
	kAddr     = 'a'
	kTx       = 't'
	kRev      = 'r'
)

const prefix = 'L'

// netID is the stable byte a network is stored under.
func netID(net chain.Network) (byte, error) {
	switch net.Name {
	case "mainnet":
		return 1, nil
	case "testnet":
		return 2, nil
	case "signet":
		return 3, nil
	case "regtest":
		return 4, nil
	}
	return 0, fmt.Errorf("%w: unknown network %q", ErrBadInput, net.Name)
}

func key(kind byte, parts ...[]byte) []byte {
	k := []byte{prefix, kind}
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// subjectPrefix is the key prefix of every label of one address (kind kAddr,
// subj = AddrKey) or one transaction (kind kTx, subj = 32-byte txid in
// display order). The address length byte keeps a short key from being a
// prefix of a longer one.
func subjectPrefix(kind, nid byte, subj string) []byte {
	k := []byte{prefix, kind, nid}
	if kind == kAddr {
		k = append(k, byte(len(subj)))
	}
	return append(k, subj...)
}

func labelKey(kind, nid byte, subj string, fid, seq uint32) []byte {
	k := subjectPrefix(kind, nid, subj)
	k = binary.BigEndian.AppendUint32(k, fid)
	return binary.BigEndian.AppendUint32(k, seq)
}

// parsedKey is a decoded L a / L t key.
type parsedKey struct {
	kind, nid byte
	subj      string
	fid, seq  uint32
}

func parseLabelKey(k []byte) (parsedKey, error) {
	bad := fmt.Errorf("%w: label key %x", ErrCorrupt, k)
	if len(k) < 3 || k[0] != prefix {
		return parsedKey{}, bad
	}
	p := parsedKey{kind: k[1], nid: k[2]}
	rest := k[3:]
	switch p.kind {
	case kAddr:
		if len(rest) < 1 || rest[0] == 0 || len(rest) != 1+int(rest[0])+8 {
			return parsedKey{}, bad
		}
		n := 1 + int(rest[0])
		p.subj, rest = string(rest[1:n]), rest[n:]
	case kTx:
		if len(rest) != 32+8 {
			return parsedKey{}, bad
		}
		p.subj, rest = string(rest[:32]), rest[32:]
	default:
		return parsedKey{}, bad
	}
	p.fid, p.seq = binary.BigEndian.Uint32(rest), binary.BigEndian.Uint32(rest[4:])
	return p, nil
}

// manifest describes one imported file.
type manifest struct {
	id         uint32
	nid        byte
	path       string // absolute
	sha        [32]byte
	importedAt int64 // unix seconds
	format     string
	count      uint64 // labels currently stored from this file
}

// encode: nid u8, sha [32], imported_at varint, count uvarint, then
// uvarint-length-prefixed path and format.
func (m manifest) encode() []byte {
	b := append([]byte{m.nid}, m.sha[:]...)
	b = binary.AppendVarint(b, m.importedAt)
	b = binary.AppendUvarint(b, m.count)
	for _, s := range []string{m.path, m.format} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeManifest(id uint32, b []byte) (manifest, error) {
	bad := fmt.Errorf("%w: manifest of file %d", ErrCorrupt, id)
	m := manifest{id: id}
	if len(b) < 33 {
		return manifest{}, bad
	}
	m.nid = b[0]
	copy(m.sha[:], b[1:33])
	b = b[33:]
	var k int
	if m.importedAt, k = binary.Varint(b); k <= 0 {
		return manifest{}, bad
	}
	b = b[k:]
	if m.count, k = binary.Uvarint(b); k <= 0 {
		return manifest{}, bad
	}
	b = b[k:]
	for _, s := range []*string{&m.path, &m.format} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return manifest{}, bad
		}
		*s, b = string(b[k:k+int(n)]), b[k+int(n):]
	}
	if len(b) != 0 {
		return manifest{}, bad
	}
	return m, nil
}

func (m manifest) time() time.Time { return time.Unix(m.importedAt, 0).UTC() }

// checkVersion fails on a store written by another schema version.
func checkVersion(store kv.Store) error {
	v, err := store.Get(key(kVersion))
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(v) != 1 || v[0] != schemaVersion {
		return fmt.Errorf("%w: label schema version %x, this cointrail reads %d", ErrCorrupt, v, schemaVersion)
	}
	return nil
}

// manifests loads every file manifest, keyed by file id.
func manifests(store kv.Store) (map[uint32]manifest, error) {
	lo := key(kFile)
	it, err := store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[uint32]manifest{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 6 {
			return nil, fmt.Errorf("%w: manifest key %x", ErrCorrupt, k)
		}
		id := binary.BigEndian.Uint32(k[2:])
		m, err := decodeManifest(id, it.Value())
		if err != nil {
			return nil, err
		}
		out[id] = m
	}
	return out, it.Error()
}

func getManifest(store kv.Store, id uint32) (manifest, error) {
	v, err := store.Get(key(kFile, u32(id)))
	if errors.Is(err, kv.ErrNotFound) {
		return manifest{}, fmt.Errorf("%w: label of file %d has no manifest", ErrCorrupt, id)
	}
	if err != nil {
		return manifest{}, err
	}
	return decodeManifest(id, v)
}
