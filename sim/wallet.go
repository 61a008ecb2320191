package sim

import (
	"math"
	"slices"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// utxo is a confirmed, unspent output the simulator may spend. A coin is in
// at most one wallet; planning a spend takes it out at once, so no block
// spends it twice.
type utxo struct {
	op     wire.OutPoint
	value  int64
	a      *addr
	height int32
	w      *wallet
	pos    int
}

// sink receives the outputs of a transaction once its block is built.
type sink interface{ put(u *utxo) }

// sinkFunc lets a scenario follow particular outputs.
type sinkFunc func(u *utxo)

func (f sinkFunc) put(u *utxo) { f(u) }

// wallet is a bounded pool of coins. Coins beyond hard are not tracked:
// they stay unspent on chain forever, like the dormant coins of mainnet.
type wallet struct {
	owner *actor
	utxos []*utxo
	bal   int64
	soft  int          // at this size the owner is asked to consolidate
	hard  int          // coins beyond this are left dormant (0 = no limit)
	full  func(*actor) // called when the wallet reaches soft
}

func (w *wallet) put(u *utxo) {
	if w.hard > 0 && len(w.utxos) >= w.hard {
		return
	}
	u.w, u.pos = w, len(w.utxos)
	w.utxos = append(w.utxos, u)
	w.bal += u.value
	if w.soft > 0 && len(w.utxos) == w.soft && w.full != nil {
		w.full(w.owner)
	}
}

func (w *wallet) take(u *utxo) {
	last := w.utxos[len(w.utxos)-1]
	w.utxos[u.pos], last.pos = last, u.pos
	w.utxos = w.utxos[:len(w.utxos)-1]
	w.bal -= u.value
	u.w = nil
}

// role is what an actor does in the economy.
type role uint8

const (
	roleUser role = iota
	roleExchange
	rolePool
	roleMixer
	roleCoordinator
	rolePeeler
	roleAttacker
)

// actor is one owner of addresses: a person, a service, a pool, the thief.
// Its id seeds its keys and its name is its identity in the truth file.
type actor struct {
	id    uint32
	name  string
	label string // service name in labels and arrivals; "" if none
	role  role
	pref  kind // kind of new addresses once SegWit and Taproot are active
	next  uint64
	main  wallet

	reuses bool     // receives and takes change on one address per phase
	reuse  [2]*addr // that address before and after activation
	style  uint8    // wallet software habits, see txStyle
	maker  bool     // JoinMarket yield generator
	whirl  bool     // Whirlpool user
	queued bool     // waiting for a consolidation
}

func (a *actor) service() bool { return a.role == roleExchange || a.role == roleMixer }

// txStyle is the version, lock time and sequence a wallet of style s puts on
// a transaction confirmed at height h: Bitcoin Core's anti fee sniping and
// RBF signalling, older wallets' defaults, services' defaults.
func txStyle(s uint8, h int32) (version int32, lockTime, seq uint32) {
	switch s {
	case 0:
		return 2, uint32(h - 1), 0xfffffffd
	case 1:
		return 1, 0, 0xffffffff
	default:
		return 2, 0, 0xfffffffe
	}
}

// outSpec is one output of a planned transaction.
type outSpec struct {
	a     *addr  // nil for OP_RETURN
	data  []byte // OP_RETURN payload
	value int64
	to    sink // who gets the coin; nil leaves it unspent forever
}

// txPlan is a transaction decided but not yet built and signed.
type txPlan struct {
	ins      []*utxo
	outs     []outSpec
	version  int32
	lockTime uint32
	seq      uint32
	fee      int64
	bg       bool // counts as background traffic
	theft    bool // the scenario's theft

	tx   *wire.MsgTx
	txid chainhash.Hash
	err  error
}

// sizer estimates the size of a transaction from its script kinds.
type sizer struct {
	base, wit, nin, nout, legacyIn, sigops int
	segwit                                 bool
}

func (s *sizer) in(k kind) {
	s.base += inBase[k]
	s.wit += inWitness[k]
	s.sigops += inSigops[k]
	s.nin++
	if k.witness() {
		s.segwit = true
	} else {
		s.legacyIn++
	}
}

func (s *sizer) out(k kind) {
	s.base += outBytes[k]
	s.sigops += outSigops[k]
	s.nout++
}

func (s *sizer) outData(n int) {
	s.base += 8 + 1 + 2 + n
	s.nout++
}

func (s *sizer) spec(o outSpec) {
	if o.a == nil {
		s.outData(len(o.data))
	} else {
		s.out(o.a.kind)
	}
}

func varintLen(n int) int {
	switch {
	case n < 0xfd:
		return 1
	case n <= 0xffff:
		return 3
	}
	return 5
}

func (s *sizer) stripped() int { return s.base + 8 + varintLen(s.nin) + varintLen(s.nout) }

func (s *sizer) weight() int {
	w := 4 * s.stripped()
	if s.segwit {
		w += 2 + s.wit + s.legacyIn
	}
	return w
}

func (s *sizer) vsize() int { return (s.weight() + 3) / 4 }

func feeFor(vsize int, rate float64) int64 { return int64(math.Ceil(float64(vsize) * rate)) }

func sizeOf(ins []*utxo, outs []outSpec) sizer {
	var s sizer
	for _, u := range ins {
		s.in(u.a.kind)
	}
	for _, o := range outs {
		s.spec(o)
	}
	return s
}

func sumIn(us []*utxo) int64 {
	var t int64
	for _, u := range us {
		t += u.value
	}
	return t
}

func sumOut(os []outSpec) int64 {
	var t int64
	for _, o := range os {
		t += o.value
	}
	return t
}

// dust is the smallest change worth keeping: below it the change goes to
// the miner, as wallets do.
const dust = 1000

// selectCoins picks coins of w worth the outputs plus the fee at rate with a
// change output of kind chg. With order set it takes coins in that order
// until they are enough (single random draw, as Bitcoin Core sometimes
// does); otherwise the smallest single coin that is enough, else the
// largest coins first. At most maxIn coins; nil if w cannot pay. It does
// not take the coins out of w.
func selectCoins(w *wallet, outs []outSpec, chg kind, rate float64, maxIn int, order []int) []*utxo {
	need := sumOut(outs)
	var base sizer
	for _, o := range outs {
		base.spec(o)
	}
	base.out(chg)
	if order != nil {
		s := base
		var got int64
		var ins []*utxo
		for _, i := range order[:min(len(order), maxIn)] {
			u := w.utxos[i]
			s.in(u.a.kind)
			got += u.value
			ins = append(ins, u)
			if got >= need+feeFor(s.vsize(), rate) {
				return ins
			}
		}
		return nil
	}
	var best *utxo
	for _, u := range w.utxos {
		s := base
		s.in(u.a.kind)
		if u.value >= need+feeFor(s.vsize(), rate) && (best == nil || u.value < best.value) {
			best = u
		}
	}
	if best != nil {
		return []*utxo{best}
	}
	if w.bal < need {
		return nil
	}
	sorted := slices.Clone(w.utxos)
	slices.SortStableFunc(sorted, func(x, y *utxo) int { return cmpInt64(y.value, x.value) })
	s := base
	var got int64
	for i, u := range sorted {
		if i == maxIn {
			return nil
		}
		s.in(u.a.kind)
		got += u.value
		if got >= need+feeFor(s.vsize(), rate) {
			return sorted[:i+1]
		}
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
