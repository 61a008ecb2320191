package sim

import (
	"fmt"
	"slices"
)

// pool is a mining pool: it mines blocks in proportion to its weight and
// pays every coinbase out once it matures.
type pool struct {
	*actor
	tag    string
	weight int
	cbs    []*utxo // its coinbases, oldest first
}

func (p *pool) coinbaseAddr(e *engine) *addr { return e.recv(p.actor) }

// exchange takes deposits on deposit addresses, sweeps them into a hot
// wallet, pays withdrawals from the hot wallet in batches and keeps the
// bulk in a cold wallet.
type exchange struct {
	*actor
	depKind, hotKind, coldKind kind
	depReuse                   bool             // one deposit address per customer
	depFor                     map[uint32]*addr // customer id → deposit address
	deposits, cold             wallet           // actor.main is the hot wallet, actor.reuse[1] its address
	coldAddr                   [2]*addr         // before / after activation
	hotTarget                  int64
	known                      []*addr // early deposit addresses: what investigators know
}

// hotAddr is the exchange's reused hot wallet address (its receive and
// change address in the main phase, when it is active).
func (x *exchange) hotAddr(e *engine) *addr {
	if x.reuse[1] == nil {
		x.reuse[1] = e.fresh(x.actor, x.hotKind)
	}
	return x.reuse[1]
}

func (x *exchange) coldAddrNow(e *engine) *addr {
	ph, k := 0, kP2SH
	if e.witnessOK() {
		ph, k = 1, x.coldKind
	}
	if x.coldAddr[ph] == nil {
		x.coldAddr[ph] = e.fresh(x.actor, k)
	}
	return x.coldAddr[ph]
}

func (x *exchange) depositAddr(e *engine, from *actor) *addr {
	if x.depReuse {
		if a := x.depFor[from.id]; a != nil {
			return a
		}
	}
	a := e.fresh(x.actor, x.depKind)
	if x.depReuse {
		x.depFor[from.id] = a
	}
	if len(x.known) < 3 {
		x.known = append(x.known, a)
	}
	return a
}

// mixer is a custodial mixing service: fresh deposit addresses, swept into
// one reused pool address, paid out to other customers.
type mixer struct {
	*actor
	deposits wallet
	known    []*addr
}

func (m *mixer) depositAddr(e *engine) *addr {
	a := e.fresh(m.actor, kP2WPKH)
	if len(m.known) < 2 {
		m.known = append(m.known, a)
	}
	return a
}

// peeler pays many small amounts off one big coin, hop after hop.
type peeler struct {
	*actor
	cur *utxo
}

var poolSpecs = []struct {
	name, tag string
	weight    int
	reuse     bool
	pref      kind
}{
	{"pool-granite", "/Granite Pool/", 35, true, kP2WPKH},
	{"pool-aurora", "/Aurora Mining/", 30, true, kP2PKH},
	{"pool-summit", "/Summit Pool/", 20, false, kP2TR},
	{"pool-lantern", "/Lantern/", 15, false, kP2WPKH},
}

// Exchange labels. The first is the scenario's victim, the next three
// receive its stolen coins, the last is background only.
const (
	labelDMM    = "DMM Bitcoin"
	labelA      = "Kestrel Exchange"
	labelB      = "Orchid Exchange"
	labelC      = "Meridian Exchange"
	labelD      = "Bluefin Exchange"
	labelMixer  = "Cyclone Mixer"
	labelThief  = "DMM Bitcoin theft perpetrator"
	exchangeDMM = 0
)

var exchangeSpecs = []struct {
	name, label         string
	dep, hot, cold      kind
	depReuse            bool
	weight              int
	hotTargetBTC        float64
	withdrawEveryBlocks int
}{
	{"exchange-dmm-bitcoin", labelDMM, kP2WPKH, kP2WPKH, kP2WSH, false, 20, 30, 2},
	{"exchange-kestrel", labelA, kP2WPKH, kP2WPKH, kP2WSH, false, 25, 40, 2},
	{"exchange-orchid", labelB, kP2PKH, kP2SH, kP2SH, false, 20, 30, 3},
	{"exchange-meridian", labelC, kP2WPKH, kP2TR, kP2WSH, true, 20, 30, 2},
	{"exchange-bluefin", labelD, kP2TR, kP2WPKH, kP2WSH, false, 15, 20, 3},
}

// Script kinds of users' wallets, in percent (see docs/simulator.md).
var userKinds = []struct {
	k   kind
	pct int
}{{kP2WPKH, 48}, {kP2TR, 17}, {kP2PKH, 14}, {kP2SH, 12}, {kP2WSH, 9}}

func (e *engine) setup() {
	nUsers := min(max(e.cfg.Txs/10, 300), 10000)
	for i := range nUsers {
		r := e.rng.IntN(100)
		var k kind
		for _, uk := range userKinds {
			if r < uk.pct {
				k = uk.k
				break
			}
			r -= uk.pct
		}
		u := e.newActor(fmt.Sprintf("user-%05d", i), "", roleUser, k)
		u.style = []uint8{0, 0, 0, 1, 1, 2}[e.rng.IntN(6)]
		u.reuses = e.rng.IntN(100) < 12
		u.main.soft, u.main.hard, u.main.full = 30, 80, e.wantConsolidate
		switch {
		case e.rng.IntN(100) < 5:
			u.reuses = u.reuses || e.rng.IntN(2) == 0
			e.merchants = append(e.merchants, u)
		case k == kP2WPKH && e.rng.IntN(100) < 10:
			u.maker = true
			e.makers = append(e.makers, u)
		case k == kP2WPKH && e.rng.IntN(100) < 10:
			u.whirl = true
			e.whirlers = append(e.whirlers, u)
		}
		if k == kP2WPKH || k == kP2TR {
			e.wasabiers = append(e.wasabiers, u)
		}
		e.users = append(e.users, u)
	}
	for _, s := range poolSpecs {
		p := &pool{actor: e.newActor(s.name, "", rolePool, s.pref), tag: s.tag, weight: s.weight}
		p.reuses = s.reuse
		p.style = 1
		e.pools = append(e.pools, p)
	}
	for _, s := range exchangeSpecs {
		x := &exchange{actor: e.newActor(s.name, s.label, roleExchange, s.hot),
			depKind: s.dep, hotKind: s.hot, coldKind: s.cold, depReuse: s.depReuse,
			hotTarget: e.btc(s.hotTargetBTC)}
		if s.depReuse {
			x.depFor = map[uint32]*addr{}
		}
		x.reuses = true
		x.main.soft, x.main.hard, x.main.full = 60, 1000, e.wantConsolidate
		x.deposits.owner, x.cold.owner = x.actor, x.actor
		e.exchanges = append(e.exchanges, x)
	}
	e.mixer = &mixer{actor: e.newActor("mixer-cyclone", labelMixer, roleMixer, kP2WPKH)}
	e.mixer.reuses = true
	e.mixer.main.soft, e.mixer.main.hard, e.mixer.main.full = 60, 1000, e.wantConsolidate
	e.mixer.deposits.owner = e.mixer.actor
	e.wp = newWhirlpool(e.newActor("whirlpool-coordinator", "", roleCoordinator, kP2WPKH))
	e.peeler = &peeler{actor: e.newActor("otc-desk", "", rolePeeler, kP2WPKH)}
	e.peeler.style = 0
	e.peeler.main.soft, e.peeler.main.hard, e.peeler.main.full = 40, 1000, e.wantConsolidate
}

func (e *engine) pickPool() *pool {
	total := 0
	for _, p := range e.pools {
		total += p.weight
	}
	r := e.rng.IntN(total)
	for _, p := range e.pools {
		if r < p.weight {
			return p
		}
		r -= p.weight
	}
	return e.pools[0]
}

func (e *engine) pickExchange() *exchange {
	total := 0
	for _, s := range exchangeSpecs {
		total += s.weight
	}
	r := e.rng.IntN(total)
	for i, s := range exchangeSpecs {
		if r < s.weight {
			return e.exchanges[i]
		}
		r -= s.weight
	}
	return e.exchanges[0]
}

// randomFunded picks a random actor of list holding at least min, or nil.
func (e *engine) randomFunded(list []*actor, min int64) *actor {
	if len(list) == 0 {
		return nil
	}
	for range 40 {
		a := list[e.rng.IntN(len(list))]
		if a.main.bal >= min && len(a.main.utxos) > 0 {
			return a
		}
	}
	return nil
}

// share is one recipient of a split amount.
type share struct {
	a      *addr
	to     sink
	weight float64
}

// split plans spending in to recipients in proportion to their weights,
// the fee taken first.
func (e *engine) split(a *actor, ins []*utxo, rs []share, bg bool) *txPlan {
	var s sizer
	for _, u := range ins {
		s.in(u.a.kind)
	}
	var tw float64
	for _, r := range rs {
		s.out(r.a.kind)
		tw += r.weight
	}
	avail := sumIn(ins) - feeFor(s.vsize(), e.rate)
	outs := make([]outSpec, 0, len(rs))
	left := avail
	for i, r := range rs {
		v := int64(float64(avail) * r.weight / tw)
		if i == len(rs)-1 {
			v = left
		}
		left -= v
		outs = append(outs, outSpec{a: r.a, value: v, to: r.to})
	}
	for _, o := range outs {
		if o.value < dust {
			return nil
		}
	}
	p := e.plan(a, ins, outs, bg)
	e.add(p)
	return p
}

// poolPayouts pays out every coinbase that matures in this block.
func (e *engine) poolPayouts() {
	for _, p := range e.pools {
		for len(p.cbs) > 0 && p.cbs[0].height <= e.height-coinbaseMaturity {
			cb := p.cbs[0]
			p.cbs = p.cbs[1:]
			e.payout(p, cb)
		}
	}
}

// payout spends one coinbase: during the warm-up it funds the economy
// (exchanges' cold wallets, the mixer, the OTC desk, the victim), later it
// pays the pool's miners.
func (e *engine) payout(p *pool, cb *utxo) {
	e.payouts++
	var rs []share
	prelude := e.height < e.mainH
	nUsers := 10 + e.rng.IntN(50)
	if prelude {
		nUsers = 8 + e.rng.IntN(18)
		userPart := 1.0
		if e.scen != nil {
			if need := e.scen.coldNeed(); need > 0 {
				x := e.exchanges[exchangeDMM]
				w := min(0.55, float64(need)/float64(cb.value)+0.001)
				rs = append(rs, share{x.coldAddrNow(e), &x.cold, w})
				userPart -= w
			}
		}
		x := e.exchanges[e.payouts%len(e.exchanges)]
		rs = append(rs, share{x.coldAddrNow(e), &x.cold, 0.2})
		userPart -= 0.2
		switch {
		case e.payouts%9 == 4:
			rs = append(rs, share{e.recv(e.mixer.actor), &e.mixer.main, 0.15})
			userPart -= 0.15
		case e.payouts%25 == 7:
			rs = append(rs, share{e.recv(e.peeler.actor), &e.peeler.main, 0.25})
			userPart -= 0.25
		}
		e.userShares(&rs, nUsers, userPart)
	} else {
		if e.rng.IntN(100) < 15 {
			x := e.pickExchange()
			rs = append(rs, share{x.depositAddr(e, p.actor), &x.deposits, 0.3})
		}
		e.userShares(&rs, min(nUsers, max(1, int(cb.value/100_000))), 0.7)
	}
	if e.split(p.actor, []*utxo{cb}, rs, true) == nil {
		// Too small to split (late, tiny subsidies): pay one miner.
		u := e.users[e.rng.IntN(len(e.users))]
		e.sweep(p.actor, []*utxo{cb}, e.recv(u), &u.main, true)
	}
}

func (e *engine) userShares(rs *[]share, n int, part float64) {
	ws := make([]float64, n)
	var t float64
	for i := range ws {
		ws[i] = e.rng.ExpFloat64()
		t += ws[i]
	}
	for _, w := range ws {
		u := e.users[e.rng.IntN(len(e.users))]
		*rs = append(*rs, share{e.recv(u), &u.main, part * w / t})
	}
}

// planMain plans the background of main-phase block i.
func (e *engine) planMain(i int) {
	b := e.cfg.TxsPerBlock
	reps := max(1, b/400)
	if e.scen != nil {
		e.scen.step(e, i)
	}
	e.poolPayouts()
	for k, x := range e.exchanges {
		e.rebalance(x)
		if (i+k)%3 == 0 {
			e.sweepDeposits(x)
		}
		if (i+k)%exchangeSpecs[k].withdrawEveryBlocks == 0 {
			for range reps {
				e.withdrawBatch(x)
			}
		}
	}
	e.mixerOps(i, reps)
	for range reps {
		e.peelHop()
	}
	if i%6 == 2 && !e.wasabi {
		e.wasabiRound(nil)
	}
	if i%3 == 1 {
		for range reps {
			e.joinMarket()
		}
	}
	for _, p := range e.wp.pools {
		for range reps {
			e.tx0(p)
			if e.rng.IntN(100) < 35 {
				e.whirlpoolMix(p)
			}
		}
	}
	e.consolidations(max(1, b/30))
	for fails := 0; e.blockBg < b && !e.full() && fails < 50; {
		if !e.payment() {
			fails++
		}
	}
}

func (e *engine) wantConsolidate(a *actor) {
	if !a.queued {
		a.queued = true
		e.consolQ = append(e.consolQ, a)
	}
}

// consolidations merges the small coins of up to n actors whose wallets
// filled up.
func (e *engine) consolidations(n int) {
	for n > 0 && len(e.consolQ) > 0 {
		a := e.consolQ[0]
		e.consolQ = e.consolQ[1:]
		a.queued = false
		if len(a.main.utxos) < a.main.soft/2 {
			continue
		}
		ins := slices.Clone(a.main.utxos)
		slices.SortStableFunc(ins, func(x, y *utxo) int { return cmpInt64(x.value, y.value) })
		if e.sweep(a, ins[:min(len(ins), 10+e.rng.IntN(40))], e.recv(a), &a.main, true) != nil {
			n--
		}
	}
}

// rebalance keeps an exchange's hot wallet between a third and three times
// its target, and its cold wallet's coin count bounded.
func (e *engine) rebalance(x *exchange) {
	t := x.hotTarget
	switch {
	case x.main.bal < t/3 && x.cold.bal > t/10:
		amt := min(t-x.main.bal, x.cold.bal*9/10)
		e.pay(x.actor, &x.cold, []outSpec{{a: x.hotAddr(e), value: amt, to: &x.main}}, x.coldAddrNow(e), &x.cold, 1, 200, true)
	case x.main.bal > 3*t:
		e.pay(x.actor, &x.main, []outSpec{{a: x.coldAddrNow(e), value: x.main.bal - t, to: &x.cold}}, x.hotAddr(e), &x.main, 1, 200, true)
	}
	if len(x.cold.utxos) > 150 {
		ins := slices.Clone(x.cold.utxos)
		slices.SortStableFunc(ins, func(a, b *utxo) int { return cmpInt64(a.value, b.value) })
		e.sweep(x.actor, ins[:100], x.coldAddrNow(e), &x.cold, true)
	}
}

// sweepDeposits moves every deposit into the hot wallet, up to 150 per
// transaction.
func (e *engine) sweepDeposits(x *exchange) {
	for len(x.deposits.utxos) > 0 {
		n := min(len(x.deposits.utxos), 150)
		if e.sweep(x.actor, slices.Clone(x.deposits.utxos[:n]), x.hotAddr(e), &x.main, true) == nil {
			return
		}
	}
}

// withdrawBatch pays 20 to 200 customers from the hot wallet at once.
func (e *engine) withdrawBatch(x *exchange) {
	n := 20 + e.rng.IntN(181)
	budget := x.main.bal / 2
	vals := make([]int64, 0, n)
	var total int64
	for len(vals) < n {
		v := e.lognormal(0.01, 1.3, 10_000) / 1000 * 1000
		if total+v > budget {
			break
		}
		vals = append(vals, v)
		total += v
	}
	if len(vals) < 20 {
		return
	}
	outs := make([]outSpec, len(vals))
	for i, v := range vals {
		r := e.rng.IntN(100)
		switch {
		case r < 94:
			u := e.users[e.rng.IntN(len(e.users))]
			outs[i] = outSpec{a: e.recv(u), value: v, to: &u.main}
		case r < 98:
			y := e.pickExchange()
			for y == x {
				y = e.exchanges[e.rng.IntN(len(e.exchanges))]
			}
			outs[i] = outSpec{a: y.depositAddr(e, x.actor), value: v, to: &y.deposits}
		default:
			outs[i] = outSpec{a: e.mixer.depositAddr(e), value: v, to: &e.mixer.deposits}
		}
	}
	e.pay(x.actor, &x.main, outs, x.hotAddr(e), &x.main, 1, 30, true)
}

func (e *engine) mixerOps(i, reps int) {
	m := e.mixer
	for i%4 == 0 && len(m.deposits.utxos) > 0 {
		n := min(len(m.deposits.utxos), 100)
		if e.sweep(m.actor, slices.Clone(m.deposits.utxos[:n]), e.recv(m.actor), &m.main, true) == nil {
			break
		}
	}
	for range reps {
		if m.main.bal < e.btc(1) {
			return
		}
		k := 1 + e.rng.IntN(3)
		outs := make([]outSpec, 0, k)
		for range k {
			u := e.users[e.rng.IntN(len(e.users))]
			v := min(e.lognormal(0.03, 1.0, 20_000), m.main.bal/(5*int64(k)))
			outs = append(outs, outSpec{a: e.recv(u), value: v, to: &u.main})
		}
		e.pay(m.actor, &m.main, outs, e.recv(m.actor), &m.main, 1, 10, true)
	}
}

// peelHop moves the OTC desk's peel chain one hop: a small payment off the
// coin, the rest to a fresh address of its own.
func (e *engine) peelHop() {
	p := e.peeler
	if p.cur == nil {
		var best *utxo
		for _, u := range p.main.utxos {
			if best == nil || u.value > best.value {
				best = u
			}
		}
		if best == nil || best.value < e.btc(2) {
			return
		}
		p.main.take(best)
		p.cur = best
	}
	in := p.cur
	p.cur = nil
	v := min(e.lognormal(0.2, 0.8, 20_000), in.value*3/10)
	payee, to := e.payeeOf(p.actor, 0.3)
	rest := e.fresh(p.actor, kP2WPKH)
	s := sizeOf([]*utxo{in}, []outSpec{{a: payee}, {a: rest}})
	left := in.value - v - feeFor(s.vsize(), e.rate)
	var restTo sink = sinkFunc(func(u *utxo) { p.cur = u })
	if left < e.btc(0.5) {
		restTo = &p.main
	}
	outs := []outSpec{{a: payee, value: v, to: to}, {a: rest, value: left, to: restTo}}
	e.rng.Shuffle(2, func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	e.add(e.plan(p.actor, []*utxo{in}, outs, true))
}

// payeeOf picks who a user (or the OTC desk) pays: another user, a
// merchant, an exchange deposit, the mixer, the OTC desk or itself.
// exch is the chance of an exchange deposit.
func (e *engine) payeeOf(from *actor, exch float64) (*addr, sink) {
	r := e.rng.Float64()
	switch {
	case r < exch:
		x := e.pickExchange()
		return x.depositAddr(e, from), &x.deposits
	case r < exch+0.025:
		return e.mixer.depositAddr(e), &e.mixer.deposits
	case r < exch+0.045 && from != e.peeler.actor:
		return e.recv(e.peeler.actor), &e.peeler.main
	case r < exch+0.07:
		return e.fresh(from, e.kindFor(from)), &from.main
	case r < exch+0.22 && len(e.merchants) > 0:
		m := e.merchants[e.rng.IntN(len(e.merchants))]
		return e.recv(m), &m.main
	}
	u := e.users[e.rng.IntN(len(e.users))]
	return e.recv(u), &u.main
}

// payment is one user paying: mostly one payee plus change, sometimes a
// whole coin to one payee, sometimes several payees.
func (e *engine) payment() bool {
	a := e.randomFunded(e.users, 20_000)
	if a == nil {
		return false
	}
	r := e.rng.IntN(100)
	if r < 7 {
		u := a.main.utxos[e.rng.IntN(len(a.main.utxos))]
		to, s := e.payeeOf(a, 0.26)
		return e.sweep(a, []*utxo{u}, to, s, true) != nil
	}
	k := 1
	if r < 13 {
		k = 2 + e.rng.IntN(3)
	}
	vals := make([]int64, k)
	var total int64
	big := e.rng.IntN(100) < 30 // a large purchase: a good part of the wallet
	for i := range vals {
		v := e.lognormal(0.005, 1.6, 5_460)
		if big {
			v = max(int64(float64(a.main.bal)*(0.15+0.5*e.rng.Float64()))/int64(k), 5_460)
		}
		if e.rng.IntN(4) == 0 {
			v = roundish(v)
		}
		vals[i] = v
		total += v
	}
	if limit := a.main.bal * 8 / 10; total > limit {
		f := (0.05 + 0.45*e.rng.Float64()) * float64(a.main.bal) / float64(total)
		total = 0
		for i := range vals {
			vals[i] = max(int64(float64(vals[i])*f), 5_460)
			total += vals[i]
		}
		if total > limit {
			return false
		}
	}
	outs := make([]outSpec, k)
	for i, v := range vals {
		to, s := e.payeeOf(a, 0.26)
		outs[i] = outSpec{a: to, value: v, to: s}
	}
	return e.pay(a, &a.main, outs, e.recv(a), &a.main, 0.9+0.6*e.rng.Float64(), 20, true) != nil
}
