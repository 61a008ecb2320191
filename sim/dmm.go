package sim

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
)

// The dmm-2024 scenario follows the public facts of the May 31, 2024 theft
// of 4,502.9 BTC from DMM Bitcoin: one transaction emptied the exchange's
// P2SH 2-of-3 multisig hot wallet to an address that looks like one the
// exchange pays routinely; the coins were then split, peeled, mixed and
// deposited at services. Amounts are real for a chain from genesis and
// scaled down (Config-independent, supply-dependent) otherwise.
const (
	dmmStolenSat  = 450_290_000_000 // 4,502.9 BTC
	dmmTheftAt    = 26              // main-phase block of the theft: ~04:20 UTC with the default start
	dmmMinMain    = dmmTheftAt + 24 + 16
	dmmTheftRate  = 12.0 // sat/vB of the theft transaction
	dmmHotCoins   = 9
	dmmPeelChains = 4
	dmmPeelHops   = 10
)

// dmm holds the scenario's plan and the coins it follows.
type dmm struct {
	x           *exchange
	att         *actor
	hot, look   *addr // the victim hot wallet; the thief's look-alike of the routine payee
	payee       *addr // the address the look-alike imitates (DMM's withdrawal wallet)
	lookChars   int
	stolen      int64
	reserve     int64
	theftFee    int64
	fund        [dmmHotCoins]int64
	coldTarget  int64
	hotCoins    []*utxo
	hotReserve  *utxo
	theftOut    *utxo
	storage     [10]*utxo
	peel        [dmmPeelChains]*utxo
	prejoin     []*utxo
	postmix     []*utxo
	cDeposit    *addr
	theftHeight int32
}

func newDMM(e *engine) *dmm {
	d := &dmm{x: e.exchanges[exchangeDMM]}
	d.att = e.newActor("attacker", "", roleAttacker, kP2WPKH)
	d.stolen = int64(math.Round(dmmStolenSat*e.vs/1e5)) * 1e5
	d.reserve = e.btc(20)
	d.hot = e.fresh(d.x.actor, kP2SH)
	d.payee = d.x.hotAddr(e)
	e.keys.derive(d.hot)
	e.keys.derive(d.payee)

	// The look-alike: grind keys until the P2WPKH address shares its first
	// characters after "bcrt1q" with the payee's.
	h := e.keys.hash(d.att.id, 1<<40, 0)
	var base btcec.ModNScalar
	base.SetBytes(&h)
	k, chars := e.keys.grindLookalike(base, d.payee.script[2:], 1<<21)
	d.look = &addr{owner: d.att, idx: 1 << 40, kind: kP2WPKH, secret: &k}
	d.lookChars = chars
	e.keys.derive(d.look)

	var s sizer
	for range dmmHotCoins {
		s.in(kP2SH)
	}
	s.out(kP2WPKH)
	d.theftFee = feeFor(s.vsize(), dmmTheftRate)
	var ws [dmmHotCoins]float64
	var tw float64
	for i := range ws {
		ws[i] = 0.6 + 0.8*e.rng.Float64()
		tw += ws[i]
	}
	total, left := d.stolen+d.theftFee, d.stolen+d.theftFee
	for i := range d.fund {
		d.fund[i] = int64(float64(total)*ws[i]/tw) / 1e5 * 1e5
		if i == len(d.fund)-1 {
			d.fund[i] = left
		}
		left -= d.fund[i]
	}
	d.coldTarget = total + d.reserve + e.btc(300)
	return d
}

// coldNeed is how much the victim's cold wallet still needs from the
// warm-up payouts to fund the hot wallet later.
func (d *dmm) coldNeed() int64 { return d.coldTarget - d.x.cold.bal }

// step plans the scenario's transactions of main-phase block i.
func (d *dmm) step(e *engine, i int) {
	x, t := d.x, dmmTheftAt
	switch {
	case i == 0:
		e.pay(x.actor, &x.cold, []outSpec{{a: d.hot, value: d.reserve, to: sinkFunc(func(u *utxo) { d.hotReserve = u })}},
			x.coldAddrNow(e), &x.cold, 1, 200, false)
	case i >= 1 && i <= dmmHotCoins:
		e.pay(x.actor, &x.cold, []outSpec{{a: d.hot, value: d.fund[i-1], to: sinkFunc(func(u *utxo) { d.hotCoins = append(d.hotCoins, u) })}},
			x.coldAddrNow(e), &x.cold, 1, 200, false)
	}
	if i == 3 && d.hotReserve != nil {
		// The routine payment the look-alike imitates: hot wallet to the
		// withdrawal wallet.
		e.sweep(x.actor, []*utxo{d.hotReserve}, d.payee, &x.main, false)
	}
	if i == t {
		d.theft(e)
	}
	if d.theftOut == nil {
		return
	}
	if i == t+2 {
		kinds := []kind{kP2WPKH, kP2TR, kP2WPKH, kP2WPKH, kP2TR, kP2WPKH, kP2TR, kP2WPKH, kP2WPKH, kP2TR}
		rs := make([]share, len(kinds))
		for j, k := range kinds {
			rs[j] = share{e.fresh(d.att, k), sinkFunc(func(u *utxo) { d.storage[j] = u }), 0.6 + 0.8*e.rng.Float64()}
		}
		e.split(d.att, []*utxo{d.theftOut}, rs, false)
	}
	if i >= t+4 && (i-t-4)%2 == 0 && (i-t-4)/2 < dmmPeelHops {
		if i == t+4 {
			copy(d.peel[:], d.storage[:dmmPeelChains])
		}
		for c := range d.peel {
			d.peelHop(e, c, (i-t-4)/2)
		}
	}
	if i == t+5 {
		for _, s := range d.storage[4:6] {
			rs := make([]share, 8)
			for j := range rs {
				rs[j] = share{e.fresh(d.att, []kind{kP2WPKH, kP2TR}[j%2]), sinkFunc(func(u *utxo) { d.prejoin = append(d.prejoin, u) }), 0.8 + 0.4*e.rng.Float64()}
			}
			e.split(d.att, []*utxo{s}, rs, false)
		}
	}
	if i >= t+7 && (i-t-7)%3 == 0 && len(d.prejoin) > 0 {
		n := min(4, len(d.prejoin))
		g := &cjGuest{a: d.att, coins: d.prejoin[:n], kinds: []kind{kP2WPKH, kP2TR},
			to: sinkFunc(func(u *utxo) { d.postmix = append(d.postmix, u) })}
		if e.wasabiRound(g) {
			d.prejoin = d.prejoin[n:]
		}
	}
	switch i {
	case t + 8, t + 12, t + 16:
		d.chunk(e, 6, 25, e.mixer.depositAddr(e), &e.mixer.deposits)
	case t + 9, t + 14, t + 19:
		d.chunk(e, 7, 30, d.depositC(e), &e.exchanges[3].deposits)
	case t + 20:
		x := e.exchanges[2]
		d.cashOut(e, x.depositAddr(e, d.att), &x.deposits)
	case t + 22:
		d.cashOut(e, d.depositC(e), &e.exchanges[3].deposits)
	case t + 24:
		d.cashOut(e, e.mixer.depositAddr(e), &e.mixer.deposits)
	}
}

// theft is the one transaction that empties the hot wallet's coins into the
// look-alike address.
func (d *dmm) theft(e *engine) {
	if len(d.hotCoins) != dmmHotCoins {
		e.bug = fmt.Errorf("%w: dmm-2024: hot wallet holds %d coins at the theft, want %d", ErrInternal, len(d.hotCoins), dmmHotCoins)
		return
	}
	p := e.plan(d.x.actor, d.hotCoins, []outSpec{{a: d.look, value: d.stolen, to: sinkFunc(func(u *utxo) { d.theftOut = u })}}, false)
	p.theft = true
	e.add(p)
	if p.fee != d.theftFee {
		e.bug = fmt.Errorf("%w: dmm-2024: theft fee %d, planned %d", ErrInternal, p.fee, d.theftFee)
	}
	d.theftHeight = e.height
}

// depositC is the thief's deposit address at Meridian Exchange, which gives
// every customer one address for good.
func (d *dmm) depositC(e *engine) *addr {
	if d.cDeposit == nil {
		d.cDeposit = e.exchanges[3].depositAddr(e, d.att)
	}
	return d.cDeposit
}

// services are where the peel chains drop their peels, in turn.
func (d *dmm) service(e *engine, n int) (*addr, sink) {
	switch n % 4 {
	case 0:
		x := e.exchanges[1]
		return x.depositAddr(e, d.att), &x.deposits
	case 1:
		x := e.exchanges[2]
		return x.depositAddr(e, d.att), &x.deposits
	case 2:
		return d.depositC(e), &e.exchanges[3].deposits
	}
	return e.mixer.depositAddr(e), &e.mixer.deposits
}

// peelHop shaves 3 to 8 percent off chain c's coin to a service and moves
// the rest to a fresh address of the thief.
func (d *dmm) peelHop(e *engine, c, hop int) {
	in := d.peel[c]
	if in == nil {
		return
	}
	d.peel[c] = nil
	v := int64(float64(in.value)*(0.03+0.05*e.rng.Float64())) / 1e5 * 1e5
	to, toS := d.service(e, c+hop)
	rest := e.fresh(d.att, []kind{kP2WPKH, kP2TR}[hop%2])
	s := sizeOf([]*utxo{in}, []outSpec{{a: to}, {a: rest}})
	outs := []outSpec{{a: to, value: v, to: toS},
		{a: rest, value: in.value - v - feeFor(s.vsize(), e.rate), to: sinkFunc(func(u *utxo) { d.peel[c] = u })}}
	e.rng.Shuffle(2, func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	e.add(e.plan(d.att, []*utxo{in}, outs, false))
}

// chunk sends pct percent of storage coin s to a service, the rest back to
// a fresh address of the thief that the next chunk spends.
func (d *dmm) chunk(e *engine, s int, pct int64, to *addr, toS sink) {
	in := d.storage[s]
	if in == nil {
		return
	}
	d.storage[s] = nil
	v := in.value * pct / 100 / 1e5 * 1e5
	rest := e.fresh(d.att, kP2WPKH)
	sz := sizeOf([]*utxo{in}, []outSpec{{a: to}, {a: rest}})
	outs := []outSpec{{a: to, value: v, to: toS},
		{a: rest, value: in.value - v - feeFor(sz.vsize(), e.rate), to: sinkFunc(func(u *utxo) { d.storage[s] = u })}}
	e.add(e.plan(d.att, []*utxo{in}, outs, false))
}

// cashOut merges six of the thief's CoinJoin outputs into one deposit.
func (d *dmm) cashOut(e *engine, to *addr, toS sink) {
	n := min(6, len(d.postmix))
	if n == 0 {
		return
	}
	ins := d.postmix[:n]
	d.postmix = d.postmix[n:]
	e.sweep(d.att, ins, to, toS, false)
}
