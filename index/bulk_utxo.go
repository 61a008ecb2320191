package index

import (
	"encoding/binary"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// utxoSet is the bulk builder's only random-access state: unspent outpoint
// → (output id, value). It is an open-addressing table with linear probing
// and backward-shift deletion over one flat []uint64 slab, 4 words a slot
// (32 B): the first 16 bytes of the txid, (output id + 1) << 24 | vout, and
// the value. Go maps cost ~3× that per entry and scatter the heap.
//
// 128 bits of txid identify an outpoint exactly for every practical purpose:
// txids are SHA-256d outputs, and two live outpoints colliding in 128 bits is
// a 2^-64 birthday event over mainnet's whole UTXO set. A txid that really
// repeats (BIP 30, mainnet blocks 91,842 and 91,880) overwrites the earlier
// entry, as it did in Bitcoin Core and as the block-by-block path resolves
// such a txid to its later transaction.
type utxoSet struct {
	slots []uint64
	mask  uint64
	n     uint64
}

const utxoWords = 4

// maxVout is the largest output index the packed slot holds (2^24-1; a 4 MB
// block holds fewer than 2^19 outputs).
const maxVout = 1<<24 - 1

func newUTXOSet(capHint uint64) *utxoSet {
	n := uint64(1 << 16)
	for n < capHint*2 {
		n <<= 1
	}
	return &utxoSet{slots: make([]uint64, n*utxoWords), mask: n - 1}
}

func utxoKey(h *chainhash.Hash) (uint64, uint64) {
	return binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])
}

func (u *utxoSet) home(k0 uint64, vout uint32) uint64 {
	return (k0 ^ uint64(vout)*0x9e3779b97f4a7c15) & u.mask
}

// bytes is the slab's size.
func (u *utxoSet) bytes() uint64 { return uint64(len(u.slots)) * 8 }

func (u *utxoSet) put(h *chainhash.Hash, vout uint32, out uint64, value int64) {
	if (u.n+1)*4 > (u.mask+1)*3 {
		u.grow()
	}
	k0, k1 := utxoKey(h)
	packed := (out+1)<<24 | uint64(vout)
	for i := u.home(k0, vout); ; i = (i + 1) & u.mask {
		s := u.slots[i*utxoWords : i*utxoWords+utxoWords : i*utxoWords+utxoWords]
		if s[2] == 0 {
			s[0], s[1], s[2], s[3] = k0, k1, packed, uint64(value)
			u.n++
			return
		}
		if s[0] == k0 && s[1] == k1 && uint32(s[2]&maxVout) == vout {
			s[2], s[3] = packed, uint64(value) // BIP 30: the later tx wins
			return
		}
	}
}

// take removes and returns the outpoint's output id and value.
func (u *utxoSet) take(h *chainhash.Hash, vout uint32) (uint64, int64, bool) {
	k0, k1 := utxoKey(h)
	for i := u.home(k0, vout); ; i = (i + 1) & u.mask {
		s := u.slots[i*utxoWords : i*utxoWords+utxoWords : i*utxoWords+utxoWords]
		if s[2] == 0 {
			return 0, 0, false
		}
		if s[0] == k0 && s[1] == k1 && uint32(s[2]&maxVout) == vout {
			out, val := s[2]>>24-1, int64(s[3])
			u.remove(i)
			return out, val, true
		}
	}
}

// remove empties slot i and shifts later members of its probe run back, so
// lookups never need tombstones.
func (u *utxoSet) remove(i uint64) {
	u.n--
	for j := (i + 1) & u.mask; ; j = (j + 1) & u.mask {
		s := u.slots[j*utxoWords : j*utxoWords+utxoWords]
		if s[2] == 0 {
			break
		}
		h := u.home(s[0], uint32(s[2]&maxVout))
		// s may fill the hole at i if its home is not in (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			copy(u.slots[i*utxoWords:i*utxoWords+utxoWords], s)
			i = j
		}
	}
	clear(u.slots[i*utxoWords : i*utxoWords+utxoWords])
}

func (u *utxoSet) grow() {
	old := u.slots
	u.slots = make([]uint64, len(old)*2)
	u.mask = u.mask*2 + 1
	u.n = 0
	for i := 0; i < len(old); i += utxoWords {
		s := old[i : i+utxoWords]
		if s[2] == 0 {
			continue
		}
		for j := u.home(s[0], uint32(s[2]&maxVout)); ; j = (j + 1) & u.mask {
			if u.slots[j*utxoWords+2] == 0 {
				copy(u.slots[j*utxoWords:j*utxoWords+utxoWords], s)
				u.n++
				break
			}
		}
	}
}
