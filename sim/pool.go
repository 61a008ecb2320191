package sim

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// coin is one unspent output in a profile chain's pool: 48 bytes, so the
// UTXO set of a 30M-transaction chain (~2M coins) costs ~100 MB. The value
// (41 bits: regtest's whole supply is 1.5·10¹² sat < 2⁴¹), the output index
// (10 bits: profile transactions have at most maxProfileOuts outputs) and
// the script kind (3 bits) share one word; the address is a number from
// which the keys are derived again when the coin is spent.
type coin struct {
	txid   chainhash.Hash
	packed uint64
	addr   uint32
	height int32
}

const (
	valueBits = 41
	voutBits  = 10
	voutMask  = 1<<voutBits - 1
	valueMask = 1<<valueBits - 1
)

func newCoin(txid chainhash.Hash, vout int, value int64, k kind, a uint32, h int32) coin {
	return coin{txid: txid, packed: uint64(value) | uint64(vout)<<valueBits | uint64(k)<<(valueBits+voutBits), addr: a, height: h}
}

func (c *coin) value() int64 { return int64(c.packed & valueMask) }
func (c *coin) vout() uint32 { return uint32(c.packed>>valueBits) & voutMask }
func (c *coin) kind() kind   { return kind(c.packed >> (valueBits + voutBits)) }
func (c *coin) outpoint() wire.OutPoint {
	return wire.OutPoint{Hash: c.txid, Index: c.vout()}
}

// coinPool holds every spendable coin of a profile chain, bucketed by the
// height that created it, with a Fenwick tree of the bucket sizes. That
// gives both samplers the profiles need in O(log blocks): a coin uniform
// among all unspent ones (rank → bucket), and a coin of about a given age
// (height → rank). Buckets shrink when they empty out, so memory follows
// the UTXO set rather than every output ever created.
type coinPool struct {
	buckets [][]coin // index: height
	tree    []int32  // Fenwick tree over bucket sizes, 1-based
	total   int
}

func newCoinPool(maxHeight int) *coinPool {
	return &coinPool{buckets: make([][]coin, maxHeight+1), tree: make([]int32, maxHeight+2)}
}

// grow makes room for heights up to h (a chain may run past its plan).
func (p *coinPool) grow(h int) {
	if h < len(p.buckets) {
		return
	}
	n := max(h+1, 2*len(p.buckets))
	sizes := make([]int32, len(p.buckets))
	for i, b := range p.buckets {
		sizes[i] = int32(len(b))
	}
	p.buckets = append(p.buckets, make([][]coin, n-len(p.buckets))...)
	p.tree = make([]int32, n+1)
	for i, s := range sizes {
		p.bump(i, s)
	}
}

func (p *coinPool) bump(h int, d int32) {
	for i := h + 1; i < len(p.tree); i += i & -i {
		p.tree[i] += d
	}
}

func (p *coinPool) add(c coin) {
	h := int(c.height)
	p.grow(h)
	p.buckets[h] = append(p.buckets[h], c)
	p.bump(h, 1)
	p.total++
}

// countTo is the number of coins created at heights 0..h.
func (p *coinPool) countTo(h int) int {
	h = min(h, len(p.buckets)-1)
	n := 0
	for i := h + 1; i > 0; i -= i & -i {
		n += int(p.tree[i])
	}
	return n
}

// bucketOf is the height of the coin of rank k (0-based, oldest first) and
// its index in that bucket.
func (p *coinPool) bucketOf(k int) (int, int) {
	pos, rem := 0, int32(k)
	step := 1
	for step*2 < len(p.tree) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if n := pos + step; n < len(p.tree) && p.tree[n] <= rem {
			pos, rem = n, rem-p.tree[n]
		}
	}
	return pos, int(rem) // pos is 1-based position of the last full prefix = height
}

// take removes and returns the coin at index i of bucket h.
func (p *coinPool) take(h, i int) coin {
	b := p.buckets[h]
	c := b[i]
	b[i] = b[len(b)-1]
	b = b[:len(b)-1]
	if cap(b) > 64 && len(b) < cap(b)/4 {
		b = append(make([]coin, 0, 2*len(b)), b...)
	}
	p.buckets[h] = b
	p.bump(h, -1)
	p.total--
	return c
}
