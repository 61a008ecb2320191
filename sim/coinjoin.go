package sim

import (
	"math"
	"slices"
	"sort"
)

// wasabiDenoms are Wasabi 2's standard output amounts, largest first:
// powers of 2 and 3, twice the powers of 3, and 1, 2 and 5 times the
// powers of 10, from 5,000 sat to 2^37 sat.
var wasabiDenoms = func() []int64 {
	const lo, hi = 5_000, 137_438_953_472
	var ds []int64
	addIn := func(v int64) {
		if v >= lo && v <= hi && !slices.Contains(ds, v) {
			ds = append(ds, v)
		}
	}
	for v := int64(1); v <= hi; v *= 2 {
		addIn(v)
	}
	for v := int64(1); v <= hi; v *= 3 {
		addIn(v)
		addIn(2 * v)
	}
	for v := int64(1); v <= hi; v *= 10 {
		addIn(v)
		addIn(2 * v)
		addIn(5 * v)
	}
	slices.Sort(ds)
	slices.Reverse(ds)
	return ds
}()

// largestDenom is the largest standard denomination not above v, or 0.
func largestDenom(v int64) int64 {
	i := sort.Search(len(wasabiDenoms), func(i int) bool { return wasabiDenoms[i] <= v })
	if i == len(wasabiDenoms) {
		return 0
	}
	return wasabiDenoms[i]
}

// cjGuest is a participant the scenario brings into a CoinJoin.
type cjGuest struct {
	a     *actor
	coins []*utxo
	kinds []kind // kinds of its outputs, used in turn
	to    sink
}

func (e *engine) wasabiCoins(u *actor) []*utxo {
	var cs []*utxo
	for _, c := range u.main.utxos {
		if (c.a.kind == kP2WPKH || c.a.kind == kP2TR) && c.value >= 50_000 {
			cs = append(cs, c)
		}
	}
	return cs
}

// wasabiRound plans a Wasabi 2 CoinJoin: at least 50 inputs from many
// wallets (P2WPKH and P2TR only), every participant's amount less its own
// input and output fees split greedily into standard denominations, inputs
// and outputs sorted by amount. No coordinator fee (the 2024 norm).
func (e *engine) wasabiRound(guest *cjGuest) bool {
	want := 50 + e.rng.IntN(71)
	type part struct {
		a     *actor
		coins []*utxo
	}
	var parts []part
	n := 0
	if guest != nil {
		n = len(guest.coins)
	}
	seen := map[uint32]bool{}
	for tries := 0; n < want && tries < 6*want; tries++ {
		u := e.wasabiers[e.rng.IntN(len(e.wasabiers))]
		if seen[u.id] {
			continue
		}
		seen[u.id] = true
		cs := e.wasabiCoins(u)
		if len(cs) == 0 {
			continue
		}
		e.rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
		cs = cs[:min(len(cs), 1+e.rng.IntN(3))]
		parts = append(parts, part{u, cs})
		n += len(cs)
	}
	if n < 50 || len(parts) < 10 {
		return false
	}
	var ins []*utxo
	var outs []outSpec
	for _, p := range parts {
		ins = append(ins, p.coins...)
		outs = append(outs, e.denominate(p.a, p.coins, func(int) kind { return p.a.pref }, &p.a.main)...)
	}
	if guest != nil {
		ins = append(ins, guest.coins...)
		outs = append(outs, e.denominate(guest.a, guest.coins, func(i int) kind { return guest.kinds[i%len(guest.kinds)] }, guest.to)...)
	}
	slices.SortStableFunc(ins, func(x, y *utxo) int { return cmpInt64(y.value, x.value) })
	slices.SortStableFunc(outs, func(x, y outSpec) int { return cmpInt64(y.value, x.value) })
	e.add(&txPlan{ins: ins, outs: outs, version: 1, seq: 0xffffffff, bg: true})
	e.wasabi = true
	return true
}

// denominate splits coins, less their fees, into at most eight standard
// denominations and one change output if the rest is worth it. Output i
// has kind kindAt(i) and goes to a new address of a.
func (e *engine) denominate(a *actor, coins []*utxo, kindAt func(i int) kind, to sink) []outSpec {
	w := 0
	for _, c := range coins {
		w += 4*inBase[c.a.kind] + inWitness[c.a.kind]
	}
	rem := sumIn(coins) - feeFor((w+3)/4, e.rate)
	var outs []outSpec
	for len(outs) < 8 {
		k := kindAt(len(outs))
		d := largestDenom(rem - feeFor(outBytes[k], e.rate))
		if d == 0 {
			break
		}
		outs = append(outs, outSpec{a: e.fresh(a, k), value: d, to: to})
		rem -= d + feeFor(outBytes[k], e.rate)
	}
	k := kindAt(len(outs))
	if c := rem - feeFor(outBytes[k], e.rate); c >= 5_000 {
		outs = append(outs, outSpec{a: e.fresh(a, k), value: c, to: to})
	}
	return outs
}

// Whirlpool pools: denomination and coordinator fee per Tx0.
var whirlpoolPools = [][2]int64{{100_000, 5_000}, {1_000_000, 50_000}, {5_000_000, 175_000}, {50_000_000, 1_750_000}}

type wpPool struct {
	denom, fee      int64
	premix, postmix []*utxo
}

type whirlpool struct {
	coord   *actor
	feeAddr *addr
	pools   []*wpPool
}

func newWhirlpool(coord *actor) *whirlpool {
	w := &whirlpool{coord: coord}
	for _, p := range whirlpoolPools {
		w.pools = append(w.pools, &wpPool{denom: p[0], fee: p[1]})
	}
	return w
}

// wpList receives premix or postmix coins of a pool. A postmix coin that
// is not remixed for a while goes back to its owner's wallet.
type wpList struct {
	p    *wpPool
	post bool
}

func (l wpList) put(u *utxo) {
	if !l.post {
		l.p.premix = append(l.p.premix, u)
		return
	}
	l.p.postmix = append(l.p.postmix, u)
	if len(l.p.postmix) > 40 {
		old := l.p.postmix[0]
		l.p.postmix = l.p.postmix[1:]
		old.a.owner.main.put(old)
	}
}

// mixVsize is the virtual size of a 5-in 5-out P2WPKH Whirlpool mix.
var mixVsize = func() int {
	var s sizer
	for range 5 {
		s.in(kP2WPKH)
		s.out(kP2WPKH)
	}
	return s.vsize()
}()

// tx0 lets a Whirlpool user enter pool p when fewer than five users wait
// in it:
// one coin in; an OP_RETURN, the coordinator fee, up to ten premix outputs
// (denomination plus a share of the mix's miner fee) and the change out.
func (e *engine) tx0(p *wpPool) {
	var owners []*actor
	for _, u := range p.premix {
		if !slices.Contains(owners, u.a.owner) {
			owners = append(owners, u.a.owner)
		}
	}
	if len(owners) >= 5 || len(e.whirlers) == 0 {
		return
	}
	share := int64(math.Ceil(float64(mixVsize) * e.rate / 2))
	for range 12 {
		u := e.whirlers[e.rng.IntN(len(e.whirlers))]
		if slices.Contains(owners, u) {
			continue
		}
		var coin *utxo
		for _, c := range u.main.utxos {
			if coin == nil || c.value > coin.value {
				coin = c
			}
		}
		if coin == nil || coin.value < p.fee+3*(p.denom+share)+50_000 {
			continue
		}
		n := int(min(10, (coin.value-p.fee-50_000)/(p.denom+share)))
		if e.wp.feeAddr == nil {
			e.wp.feeAddr = e.fresh(e.wp.coord, kP2WPKH)
		}
		outs := []outSpec{{data: tagBytes("whirlpool tx0", 46, uint64(e.height)<<8|uint64(len(e.plans)))},
			{a: e.wp.feeAddr, value: p.fee}}
		for range n {
			outs = append(outs, outSpec{a: e.fresh(u, kP2WPKH), value: p.denom + share, to: wpList{p, false}})
		}
		s := sizeOf([]*utxo{coin}, outs)
		s.out(kP2WPKH)
		if c := coin.value - sumOut(outs) - feeFor(s.vsize(), e.rate); c >= dust {
			outs = append(outs, outSpec{a: e.fresh(u, kP2WPKH), value: c, to: &u.main})
		}
		e.add(&txPlan{ins: []*utxo{coin}, outs: outs, version: 1, seq: 0xffffffff, bg: true})
		return
	}
}

// whirlpoolMix plans a 5-in 5-out mix of pool p: new entrants (premix)
// pay the miner fee, remixers (postmix) ride free; every output is exactly
// the denomination, to a fresh P2WPKH address of the input's owner.
func (e *engine) whirlpoolMix(p *wpPool) {
	nPost := min(3, len(p.postmix))
	nPre := 5 - nPost
	// New entrants come from different Tx0s (different owners), oldest
	// first.
	var ins []*utxo
	var pick []int
	for i, u := range p.premix {
		if len(pick) == nPre {
			break
		}
		if !slices.ContainsFunc(ins, func(v *utxo) bool { return v.a.owner == u.a.owner }) {
			ins = append(ins, u)
			pick = append(pick, i)
		}
	}
	if len(pick) < nPre {
		return
	}
	for k := len(pick) - 1; k >= 0; k-- {
		p.premix = slices.Delete(p.premix, pick[k], pick[k]+1)
	}
	for range nPost {
		i := e.rng.IntN(len(p.postmix))
		ins = append(ins, p.postmix[i])
		p.postmix[i] = p.postmix[len(p.postmix)-1]
		p.postmix = p.postmix[:len(p.postmix)-1]
	}
	e.rng.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
	outs := make([]outSpec, 5)
	for i, in := range ins {
		outs[i] = outSpec{a: e.fresh(in.a.owner, kP2WPKH), value: p.denom, to: wpList{p, true}}
	}
	e.rng.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	e.add(&txPlan{ins: ins, outs: outs, version: 1, seq: 0xffffffff, bg: true})
}

// joinMarket plans a JoinMarket CoinJoin: a taker and 2 to 6 makers each
// get one output of the same amount, every maker gets change including its
// fee, the taker gets change after paying the makers and the miner.
func (e *engine) joinMarket() {
	if len(e.makers) < 3 {
		return
	}
	var taker *actor
	for range 20 {
		u := e.wasabiers[e.rng.IntN(len(e.wasabiers))]
		if u.pref == kP2WPKH && !u.maker && u.main.bal >= e.btc(0.02) {
			taker = u
			break
		}
	}
	if taker == nil {
		return
	}
	var coins []*utxo
	for _, c := range taker.main.utxos {
		if c.a.kind == kP2WPKH {
			coins = append(coins, c)
		}
	}
	slices.SortStableFunc(coins, func(x, y *utxo) int { return cmpInt64(y.value, x.value) })
	cj := min(e.lognormal(0.05, 1.0, 100_000), sumIn(coins)*6/10)
	if cj < 100_000 {
		return
	}
	type maker struct {
		a    *actor
		coin *utxo
		fee  int64
	}
	var mk []maker
	nm := 2 + e.rng.IntN(5)
	seen := map[uint32]bool{}
	for tries := 0; tries < 40 && len(mk) < nm; tries++ {
		m := e.makers[e.rng.IntN(len(e.makers))]
		if seen[m.id] {
			continue
		}
		seen[m.id] = true
		var coin *utxo
		for _, c := range m.main.utxos {
			if c.a.kind == kP2WPKH && c.value >= cj+10_000 && (coin == nil || c.value < coin.value) {
				coin = c
			}
		}
		if coin != nil {
			mk = append(mk, maker{m, coin, max(250, cj*3/100_000)})
		}
	}
	if len(mk) < 2 {
		return
	}
	var s sizer
	var fees int64
	for _, m := range mk {
		s.in(kP2WPKH)
		s.out(kP2WPKH)
		s.out(kP2WPKH)
		fees += m.fee
	}
	s.out(kP2WPKH)
	s.out(kP2WPKH)
	var ins []*utxo
	var got int64
	for _, c := range coins {
		ins = append(ins, c)
		got += c.value
		s.in(kP2WPKH)
		if got >= cj+fees+feeFor(s.vsize(), e.rate)+dust {
			break
		}
	}
	minerFee := feeFor(s.vsize(), e.rate)
	if got < cj+fees+minerFee+dust {
		return
	}
	outs := []outSpec{{a: e.fresh(taker, kP2WPKH), value: cj, to: &taker.main},
		{a: e.fresh(taker, kP2WPKH), value: got - cj - fees - minerFee, to: &taker.main}}
	for _, m := range mk {
		ins = append(ins, m.coin)
		outs = append(outs, outSpec{a: e.fresh(m.a, kP2WPKH), value: cj, to: &m.a.main},
			outSpec{a: e.fresh(m.a, kP2WPKH), value: m.coin.value - cj + m.fee, to: &m.a.main})
	}
	e.rng.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
	e.rng.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	e.add(&txPlan{ins: ins, outs: outs, version: 2, lockTime: uint32(e.height - 1), seq: 0xfffffffe, bg: true})
}
