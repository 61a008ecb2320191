package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

// Timing and supply planning.
const (
	blockInterval = 600  // seconds between blocks when the clock allows
	minPrelude    = 200  // warm-up blocks at least: 100 to mature, 100 paid out
	minMain       = 12   // main-phase blocks at least: every traffic shape occurs
	maxPrelude    = 1000 // warm-up blocks at most, when a late start lengthens it
)

// refSupply is what the pools pay out during the warm-up of a chain from
// genesis (the coinbases of heights 1..331): values are scaled to the
// supply of other starting points.
var refSupply = prelude(1, 432)

// prelude is the subsidy of the coinbases that mature during a warm-up
// from height h0 to mainH-1.
func prelude(h0, mainH int32) int64 {
	var s int64
	for h := h0; h <= mainH-1-coinbaseMaturity; h++ {
		s += subsidy(h)
	}
	return s
}

// origin is where the generated chain attaches.
type origin struct {
	height  int32          // height of the first block to build
	prev    chainhash.Hash // its parent
	tipTime int64          // parent's timestamp (and no older than its MTP)
	actH    int32          // first height at which witness data is allowed
	now     int64          // wall clock for a live node (0: no limit)
}

// engine generates one chain.
type engine struct {
	cfg  Config
	log  *slog.Logger
	net  chain.Network
	keys keygen
	rng  *rand.Rand
	emit func(raw []byte) error

	h0, actH, mainH int32
	nBlocks         int
	mainLen         int
	t0, interval    int64
	vs              float64 // value scale: 1 for a chain from genesis

	actors    []*actor
	users     []*actor
	merchants []*actor
	makers    []*actor
	whirlers  []*actor
	wasabiers []*actor
	exchanges []*exchange
	pools     []*pool
	mixer     *mixer
	wp        *whirlpool
	peeler    *peeler
	consolQ   []*actor

	// the block being built
	height   int32
	prev     chainhash.Hash
	rate     float64 // median fee rate of the block, sat/vB
	plans    []*txPlan
	newAddrs []*addr
	blockBg  int
	size     sizer // running totals for the block limits
	wasabi   bool  // a Wasabi round is already in this block
	payouts  int   // pool payouts so far (drives the warm-up funding)

	scen  *dmm
	truth *truthRec

	bug   error // first internal inconsistency found while planning
	stale staleBranch
	res   Result
	bgTxs int
}

func newEngine(cfg Config, o origin, log *slog.Logger, emit func([]byte) error) (*engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	e := &engine{
		cfg: cfg, log: log, net: net, emit: emit,
		keys: newKeygen(cfg.Seed, cfg.Fast),
		rng:  rand.New(rand.NewPCG(cfg.Seed, 0x636f696e7472616c)),
		h0:   o.height, actH: o.actH, prev: o.prev,
	}
	e.mainH = max(o.actH, o.height+minPrelude)
	supply := prelude(e.h0, e.mainH)
	if supply < refSupply {
		// A chain that does not start at genesis matures less subsidy in
		// the same warm-up: a longer one, where the remaining subsidy
		// allows, keeps amounts (the heist's above all) at full value.
		s := supply
		for m := e.mainH + 1; m <= e.h0+maxPrelude && s < refSupply; m++ {
			s += subsidy(m - 1 - coinbaseMaturity)
			if s >= refSupply {
				e.mainH, supply = m, s
			}
		}
	}
	if supply == 0 {
		return nil, fmt.Errorf("%w: the chain is at height %d, where regtest coinbases pay nothing: start from a younger chain", ErrBadConfig, o.height-1)
	}
	e.vs = min(1, float64(supply)/float64(refSupply))
	if e.vs < 1 && cfg.Scenario != "" {
		return nil, fmt.Errorf("%w: the chain is at height %d: the regtest subsidy still to come cannot fund the %s scenario at full value (%s BTC of matured coinbases, %s needed); use a node with a younger chain, e.g. a fresh one (btcd wipes its regtest chain when it restarts)",
			ErrBadConfig, o.height-1, cfg.Scenario, btcString(prelude(e.h0, e.h0+maxPrelude)), btcString(refSupply))
	}
	e.mainLen = max((cfg.Txs+cfg.TxsPerBlock-1)/cfg.TxsPerBlock, minMain)
	if cfg.Scenario == scenarioDMM {
		e.mainLen = max(e.mainLen, dmmMinMain)
	}
	e.nBlocks = int(e.mainH-e.h0) + e.mainLen

	// Timestamps: StartTime is the first main-phase block; never before
	// the parent, never beyond a live node's clock.
	e.interval = blockInterval
	start := cfg.StartTime
	if start.IsZero() && o.now == 0 {
		start = defaultStart(cfg.Scenario)
	}
	e.t0 = o.tipTime + e.interval
	if !start.IsZero() {
		e.t0 = max(e.t0, start.Unix()-int64(e.mainH-e.h0)*e.interval)
	} else if o.now > 0 {
		// End by the node's clock rather than continue from an old tip:
		// a fresh regtest node's tip is the genesis block of 2011, and
		// blocks dated before BIP 16's switch time (2012-04-01) may not
		// spend P2SH on btcd.
		e.t0 = max(e.t0, o.now-int64(e.nBlocks)*e.interval)
	}
	if o.now > 0 {
		limit := o.now + 3600
		if e.t0+int64(e.nBlocks)*e.interval > limit {
			e.interval = max(1, (limit-e.t0)/int64(e.nBlocks))
			e.t0 = min(e.t0, max(o.tipTime+1, limit-int64(e.nBlocks)*e.interval))
		}
		if e.t0+int64(e.nBlocks)*e.interval > limit {
			return nil, fmt.Errorf("%w: %d blocks after the node's tip at %d would run more than an hour past its clock", ErrBadConfig, e.nBlocks, o.tipTime)
		}
	}
	if e.t0 < txscript.Bip16Activation.Unix() {
		return nil, fmt.Errorf("%w: the first block would be dated %s, before BIP 16 switched on (%s): P2SH spends would be invalid",
			ErrBadConfig, time.Unix(e.t0, 0).UTC().Format(time.RFC3339), txscript.Bip16Activation.UTC().Format(time.RFC3339))
	}
	if cfg.Stale > 0 {
		e.stale.fork = e.mainH + int32(e.mainLen-cfg.Stale-1)/2
		e.stale.n = cfg.Stale
	}
	e.setup()
	if cfg.Scenario == scenarioDMM {
		e.truth = newTruthRec()
		e.scen = newDMM(e)
	}
	return e, nil
}

// blockTime is the timestamp of height h.
func (e *engine) blockTime(h int32) int64 { return e.t0 + int64(h-e.h0)*e.interval }

// witnessOK reports whether the block being built may carry witness data
// and so spend (and, by our policy, create) witness programs.
func (e *engine) witnessOK() bool { return e.height >= e.actH }

func (e *engine) run(ctx context.Context) (*Result, error) {
	e.log.Info("sim: generating", "scenario", e.cfg.Scenario, "seed", e.cfg.Seed, "first_height", e.h0,
		"blocks", e.nBlocks, "warmup_blocks", e.mainH-e.h0, "witness_from", e.actH,
		"txs_per_block", e.cfg.TxsPerBlock, "value_scale", e.vs, "fast", e.cfg.Fast)
	if e.cfg.Fast {
		e.log.Info("sim: fast mode: keys and signatures are dummies; the blocks fail script validation")
	}
	for i := 0; i < e.nBlocks; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := e.block(e.h0 + int32(i)); err != nil {
			return nil, err
		}
		if e.cfg.Progress != nil {
			e.cfg.Progress(i+1, e.nBlocks)
		}
	}
	if e.scen != nil {
		e.res.Truth = e.truth.finish(e)
		tp, err := e.tagPack()
		if err != nil {
			return nil, err
		}
		e.res.TagPack = tp
	}
	e.log.Info("sim: done", "blocks", e.res.Blocks, "txs", e.res.Txs, "background_txs", e.bgTxs, "tip", e.res.TipHash)
	return &e.res, nil
}

// block plans, signs, assembles and emits the main-chain block at height h.
func (e *engine) block(h int32) error {
	e.height = h
	e.plans, e.newAddrs, e.blockBg, e.wasabi = e.plans[:0], e.newAddrs[:0], 0, false
	e.size = sizer{}
	// Fee rates drift like a day's mempool: log-normal around 8 sat/vB.
	e.rate = min(max(8*math.Exp(0.5*e.rng.NormFloat64()), 1.5), 80)
	if h < e.mainH {
		e.poolPayouts()
	} else {
		e.planMain(int(h - e.mainH))
	}
	if e.bug != nil {
		return e.bug
	}
	e.rng.Shuffle(len(e.plans), func(i, j int) { e.plans[i], e.plans[j] = e.plans[j], e.plans[i] })
	if err := e.finalize(); err != nil {
		return err
	}
	miner := e.pickPool()
	var fees int64
	txs := make([]*wire.MsgTx, 0, len(e.plans)+1)
	txs = append(txs, nil)
	for _, p := range e.plans {
		fees += p.fee
		txs = append(txs, p.tx)
	}
	payTo := miner.coinbaseAddr(e)
	if payTo.script == nil {
		e.keys.derive(payTo)
	}
	cb := coinbase(h, payTo.script, subsidy(h)+fees, miner.tag, uint64(h), e.witnessOK(), txs[1:])
	txs[0] = cb
	version := int32(versionBase)
	if h < e.actH {
		version = versionSignal
	}
	blk, raw := seal(version, e.prev, e.blockTime(h), txs)
	hash := blk.BlockHash()
	e.register(cb, payTo, miner)
	if err := e.emit(raw); err != nil {
		return err
	}
	if err := e.stale.after(e, h, blk, fees); err != nil {
		return err
	}
	e.log.Debug("sim: block", "height", h, "txs", len(txs), "background", e.blockBg,
		"weight", 4*e.size.base+e.size.wit, "sigops", e.size.sigops, "fee_rate", e.rate)
	e.prev = hash
	e.res.Blocks++
	e.res.Txs += len(txs)
	e.res.TipHash = hash
	return nil
}

// add queues a planned transaction in the current block.
func (e *engine) add(p *txPlan) {
	for _, u := range p.ins {
		if u.w != nil {
			u.w.take(u)
		}
	}
	p.fee = sumIn(p.ins) - sumOut(p.outs)
	if p.fee < 0 && e.bug == nil {
		e.bug = fmt.Errorf("%w: height %d: a planned transaction pays %d out of %d", ErrInternal, e.height, sumOut(p.outs), sumIn(p.ins))
	}
	for _, o := range p.outs {
		if o.a != nil {
			e.queue(o.a)
		}
	}
	s := sizeOf(p.ins, p.outs)
	e.size.base += s.stripped()
	e.size.wit += s.weight() - 4*s.stripped()
	e.size.sigops += s.sigops
	if p.bg {
		e.blockBg++
		e.bgTxs++
	}
	e.plans = append(e.plans, p)
}

// full reports whether the block is close to a consensus limit.
func (e *engine) full() bool {
	return 4*e.size.base+e.size.wit > maxBlockWeight || e.size.base > maxBlockBase || e.size.sigops > maxBlockSigops
}

func (e *engine) queue(a *addr) {
	if a.script == nil && !a.queued {
		a.queued = true
		e.newAddrs = append(e.newAddrs, a)
	}
}

// finalize derives the block's new addresses and builds and signs its
// transactions on all cores. Every item is written by one goroutine only,
// so the result does not depend on scheduling.
func (e *engine) finalize() error {
	parallel(len(e.newAddrs), func(i int) { e.keys.derive(e.newAddrs[i]) })
	parallel(len(e.plans), func(i int) { e.plans[i].err = e.keys.build(e.plans[i]) })
	for _, p := range e.plans {
		if p.err != nil {
			return p.err
		}
	}
	return nil
}

func parallel(n int, f func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 || n < 4 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// register hands the block's new outputs to their owners and records the
// truth.
func (e *engine) register(cb *wire.MsgTx, payTo *addr, miner *pool) {
	cbid := cb.TxHash()
	u := &utxo{op: wire.OutPoint{Hash: cbid}, value: cb.TxOut[0].Value, a: payTo, height: e.height}
	miner.cbs = append(miner.cbs, u)
	if e.truth != nil {
		e.truth.owner(e, payTo)
	}
	for _, p := range e.plans {
		outs := make([]*utxo, len(p.outs))
		for i, o := range p.outs {
			if o.a == nil {
				continue
			}
			outs[i] = &utxo{op: wire.OutPoint{Hash: p.txid, Index: uint32(i)}, value: o.value, a: o.a, height: e.height}
			if e.truth != nil {
				e.truth.owner(e, o.a)
			}
		}
		if e.truth != nil {
			e.truth.tx(e, p, outs)
		}
		for i, o := range p.outs {
			if o.to != nil && outs[i] != nil {
				o.to.put(outs[i])
			}
		}
	}
}

// newActor creates an actor with a deterministic id.
func (e *engine) newActor(name, label string, r role, pref kind) *actor {
	a := &actor{id: uint32(len(e.actors)), name: name, label: label, role: r, pref: pref, style: 2}
	a.main.owner = a
	e.actors = append(e.actors, a)
	return a
}

// fresh returns a new address of a.
func (e *engine) fresh(a *actor, k kind) *addr {
	ad := &addr{owner: a, idx: a.next, kind: k}
	a.next++
	e.queue(ad)
	return ad
}

// kindFor is the kind of a's new addresses now: its preference once witness
// programs are allowed, a legacy kind of the same key count before.
func (e *engine) kindFor(a *actor) kind {
	if e.witnessOK() {
		return a.pref
	}
	if a.pref == kP2SH || a.pref == kP2WSH {
		return kP2SH
	}
	return kP2PKH
}

// recv is the address a receives a payment (or its change) on.
func (e *engine) recv(a *actor) *addr {
	if !a.reuses {
		return e.fresh(a, e.kindFor(a))
	}
	ph := 0
	if e.witnessOK() {
		ph = 1
	}
	if a.reuse[ph] == nil {
		a.reuse[ph] = e.fresh(a, e.kindFor(a))
	}
	return a.reuse[ph]
}

// plan fills in the style fields of a plan made by actor a.
func (e *engine) plan(a *actor, ins []*utxo, outs []outSpec, bg bool) *txPlan {
	v, lt, seq := txStyle(a.style, e.height)
	return &txPlan{ins: ins, outs: outs, version: v, lockTime: lt, seq: seq, bg: bg}
}

// pay plans a payment of outs from w with change to chg, at the block's
// fee rate scaled by f. It returns nil (and changes nothing) if w cannot
// pay.
func (e *engine) pay(a *actor, w *wallet, outs []outSpec, chg *addr, chgTo sink, f float64, maxIn int, bg bool) *txPlan {
	rate := e.rate * f
	var order []int
	if a.role == roleUser && e.rng.IntN(100) < 40 {
		order = e.rng.Perm(len(w.utxos))
	}
	ins := selectCoins(w, outs, chg.kind, rate, maxIn, order)
	if ins == nil {
		return nil
	}
	s := sizeOf(ins, outs)
	s.out(chg.kind)
	change := sumIn(ins) - sumOut(outs) - feeFor(s.vsize(), rate)
	if change >= dust {
		outs = append(outs, outSpec{a: chg, value: change, to: chgTo})
		e.rng.Shuffle(len(outs), func(i, j int) { outs[i], outs[j] = outs[j], outs[i] })
	}
	p := e.plan(a, ins, outs, bg)
	e.add(p)
	return p
}

// sweep plans spending ins whole to one address.
func (e *engine) sweep(a *actor, ins []*utxo, to *addr, toS sink, bg bool) *txPlan {
	s := sizeOf(ins, nil)
	s.out(to.kind)
	v := sumIn(ins) - feeFor(s.vsize(), e.rate)
	if v < dust {
		return nil
	}
	p := e.plan(a, ins, []outSpec{{a: to, value: v, to: toS}}, bg)
	e.add(p)
	return p
}

// lognormal draws a value with the given median (in BTC, scaled by vs) and
// spread, at least minSat.
func (e *engine) lognormal(medianBTC, sigma float64, minSat int64) int64 {
	v := int64(medianBTC * 1e8 * e.vs * math.Exp(sigma*e.rng.NormFloat64()))
	return max(v, minSat)
}

// roundish rounds v to two significant digits, as people and price
// conversions do for a share of payments.
func roundish(v int64) int64 {
	m := int64(1)
	for v/m >= 100 {
		m *= 10
	}
	return v / m * m
}

// btc is x bitcoin scaled by vs, in satoshis.
func (e *engine) btc(x float64) int64 { return int64(x * 1e8 * e.vs) }

// btcString formats satoshis as BTC for messages.
func btcString(sat int64) string { return fmt.Sprintf("%d.%08d", sat/1e8, sat%1e8) }
