package index

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// BlockAt returns the block record at height h.
func (ix *Index) BlockAt(h uint32) (BlockInfo, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.blockAtLocked(h)
}

func (ix *Index) blockAtLocked(h uint32) (BlockInfo, error) {
	if ix.tip.Empty || h > ix.tip.Height {
		return BlockInfo{}, fmt.Errorf("%w: no block at height %d (tip %s)", ErrNotFound, h, ix.tipString())
	}
	v, err := ix.Store.Get(blockKey(h))
	if err != nil {
		return BlockInfo{}, fmt.Errorf("%w: block record at height %d: %v", ErrCorrupt, h, err)
	}
	b, ok := decodeBlockInfo(h, v)
	if !ok {
		return BlockInfo{}, fmt.Errorf("%w: block record at height %d", ErrCorrupt, h)
	}
	return b, nil
}

func (ix *Index) tipString() string {
	if ix.tip.Empty {
		return "none: the index is empty"
	}
	return strconv.FormatUint(uint64(ix.tip.Height), 10)
}

// BlockByHash returns the block record with hash h.
func (ix *Index) BlockByHash(h chainhash.Hash) (BlockInfo, error) {
	v, err := ix.Store.Get(blockHashKey(h))
	if errors.Is(err, kv.ErrNotFound) {
		return BlockInfo{}, fmt.Errorf("%w: block %s is not in the index", ErrNotFound, h)
	}
	if err != nil {
		return BlockInfo{}, err
	}
	if len(v) != 4 {
		return BlockInfo{}, fmt.Errorf("%w: block hash row %s", ErrCorrupt, h)
	}
	return ix.BlockAt(binary.BigEndian.Uint32(v))
}

// BlockTime is fast: block times are kept in memory.
func (ix *Index) blockTime(h uint32) uint32 {
	if int(h) < len(ix.times) {
		return ix.times[h]
	}
	return 0
}

// FindTx returns the tx number of txid h.
func (ix *Index) FindTx(h chainhash.Hash) (uint32, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	tx, ok := ix.findTx(&h, ix.tip.nTx)
	if !ok {
		return 0, fmt.Errorf("%w: transaction %s is not in the index (tip %s)", ErrNotFound, h, ix.tipString())
	}
	return tx, nil
}

// ParseTxID parses a txid in display order.
func ParseTxID(s string) (chainhash.Hash, error) {
	if len(s) != 64 {
		return chainhash.Hash{}, fmt.Errorf("%w: %q is not a txid (want 64 hex digits)", ErrBadInput, s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return chainhash.Hash{}, fmt.Errorf("%w: %q is not a txid (want 64 hex digits)", ErrBadInput, s)
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("%w: %q: %v", ErrBadInput, s, err)
	}
	return *h, nil
}

// FindOutpoint resolves "TXID:VOUT" to an output id.
func (ix *Index) FindOutpoint(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return 0, fmt.Errorf("%w: %q is not an outpoint (want TXID:VOUT)", ErrBadInput, s)
	}
	h, err := ParseTxID(s[:i])
	if err != nil {
		return 0, err
	}
	vout, err := strconv.ParseUint(s[i+1:], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: output index %q is not a number", ErrBadInput, s, s[i+1:])
	}
	tx, err := ix.FindTx(h)
	if err != nil {
		return 0, err
	}
	ix.mu.RLock()
	first, n, err := ix.txOuts(tx)
	ix.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	if vout >= uint64(n) {
		return 0, fmt.Errorf("%w: transaction %s has %d outputs, no output %d", ErrNotFound, h, n, vout)
	}
	return first + vout, nil
}

// AddrKeyOf returns the address key of id.
func (ix *Index) AddrKeyOf(id uint32) (chain.AddrKey, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.addrKeyLocked(id)
}

func (ix *Index) addrKeyLocked(id uint32) (chain.AddrKey, error) {
	if id == 0 {
		return "", nil
	}
	if id > ix.tip.nAddr {
		return "", fmt.Errorf("%w: address id %d beyond %d", ErrBadInput, id, ix.tip.nAddr)
	}
	k, err := ix.addrKey(id)
	return chain.AddrKey(k), err
}

// AddrID returns the id of an address key, or ErrNotFound.
func (ix *Index) AddrID(k chain.AddrKey) (uint32, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	id, err := ix.lookupAddr([]byte(k))
	if id != 0 || err != nil {
		return id, err
	}
	return 0, fmt.Errorf("%w: address %s has no transactions in the index", ErrNotFound, k.Encode(ix.Net))
}

// ParseAddr parses an address string of the index's network into its id.
func (ix *Index) ParseAddr(s string) (uint32, chain.AddrKey, error) {
	k, err := chain.ParseAddress(ix.Net, s)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	id, err := ix.AddrID(k)
	return id, k, err
}

// lookupAddr is findAddr (connect.go) over checked key reads: ingest trusts
// the heap it writes, a query must not. 0 means not found.
func (ix *Index) lookupAddr(k []byte) (uint32, error) {
	var found uint32
	var err error
	ix.addrTable.probe(addrHash(k), func(id uint32) bool {
		if id < 1 || id > ix.tip.nAddr {
			return false
		}
		key, kerr := ix.addrKey(id)
		if kerr != nil {
			err = kerr
			return true
		}
		if bytes.Equal(key, k) {
			found = id
			return true
		}
		return false
	})
	return found, err
}
