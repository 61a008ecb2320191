package sim

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Chain profiles: traffic shaped by distributions instead of actors. The
// default profile ("") is the actor economy of engine.go; the profiles
// exist for the scale benchmarks, where what matters is how inputs reach
// back into the chain (locality), how big the UTXO set is, and the shape
// of transactions and scripts over the chain's life. docs/simulator.md
// gives every target with its public source.
const (
	ProfileMainnet = "mainnet"
	ProfileOldest  = "oldest"
)

var profiles = []string{ProfileMainnet, ProfileOldest}

// Profiles lists the known chain profiles (the default, "", is not listed).
func Profiles() []string { return append([]string(nil), profiles...) }

// Targets of the profiles (docs/simulator.md: sources and tolerances).
const (
	// TargetOutputsPerTx is mainnet's outputs per non-coinbase tx, ~2.6.
	TargetOutputsPerTx = 2.6
	// TargetUTXOFraction is unspent outputs over all outputs ever created:
	// ~180M of ~3B on mainnet, ~6 %.
	TargetUTXOFraction = 0.06
	// TargetReuse is the share of outputs paying an address that already
	// received before.
	TargetReuse = 0.30
	// Eras, as fractions of the chain's transactions: SegWit activated
	// after ~23 % of mainnet's transactions, Taproot after ~62 %.
	eraSegwit  = 0.23
	eraTaproot = 0.62

	maxProfileOuts   = 1000
	maxProfileBlock  = 2500 // transactions per block at most (mainnet: ~3,000–4,000)
	profileRamp      = 100  // coinbase-only blocks before the first spend
	postBlocksPerTxs = 1500 // default post-activation block count: remaining txs / this
	profileActorID   = 1 << 30
	numHubs          = 512
	ringSize         = 1 << 16
	profileDust      = 546
	minPay           = 10_000 // sat: the smallest payment coin selection aims for
)

// scriptMix is the share of new outputs of each kind at a point of the
// chain; mixAt interpolates linearly between these anchors (p = share of
// the chain's transactions done).
var scriptMix = []struct {
	p   float64
	pct [numKinds]float64 // p2pkh, p2sh, p2wpkh, p2wsh, p2tr
}{
	{0.00, [numKinds]float64{100, 0, 0, 0, 0}},
	{0.12, [numKinds]float64{88, 12, 0, 0, 0}},
	{eraSegwit, [numKinds]float64{70, 30, 0, 0, 0}},
	{0.40, [numKinds]float64{45, 30, 22, 3, 0}},
	{eraTaproot, [numKinds]float64{25, 20, 50, 5, 0}},
	{0.80, [numKinds]float64{14, 12, 55, 5, 14}},
	{1.00, [numKinds]float64{10, 10, 50, 5, 25}},
}

func mixAt(p float64) [numKinds]float64 {
	p = min(max(p, 0), 1)
	for i := 1; i < len(scriptMix); i++ {
		a, b := scriptMix[i-1], scriptMix[i]
		if p <= b.p {
			f := (p - a.p) / (b.p - a.p)
			var m [numKinds]float64
			for k := range m {
				m[k] = a.pct[k] + f*(b.pct[k]-a.pct[k])
			}
			return m
		}
	}
	return scriptMix[len(scriptMix)-1].pct
}

// paddr is an address of a profile chain: its number (the key derivation
// index) and its kind.
type paddr struct {
	n uint32
	k kind
}

// pengine generates one profile chain.
type pengine struct {
	cfg     Config
	log     *slog.Logger
	keys    keygen
	rng     *rand.Rand
	emit    func(raw []byte) error
	owner   *actor
	oldest  bool
	actH    int32
	h       int32 // height of the block being built
	t0      int64
	prev    chainhash.Hash
	preTPB  int // transactions per block before activation
	postTPB int
	planned int // blocks planned (for progress)

	pool     *coinPool
	cbs      []coin // coinbases waiting to mature
	nextAddr uint32
	hubs     [numHubs]paddr
	miners   [4]paddr
	ring     [ringSize]paddr
	ringN    int

	outputs int // spendable outputs created so far (targets the UTXO size)
	txs     int // non-coinbase transactions so far
	res     Result

	inflight    chan sealDone // the block being sealed, if any
	inflightJob *sealJob
}

func newPengine(cfg Config, o origin, log *slog.Logger, emit func([]byte) error) (*pengine, error) {
	e := &pengine{cfg: cfg, log: log, emit: emit, keys: newKeygen(cfg.Seed, cfg.Fast),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x70726f66696c65)),
		oldest: cfg.Profile == ProfileOldest, actH: o.actH, prev: o.prev}
	e.owner = &actor{id: profileActorID, name: "profile"}
	e.t0 = max(o.tipTime+blockInterval, defaultStart("").Unix()-int64(o.actH-o.height)*blockInterval)
	// Before activation only legacy scripts may appear, and mainnet's
	// first ~23 % of transactions were legacy: give the warm-up blocks
	// that share, as far as they hold it.
	capTPB := maxProfileBlock
	if cfg.TxsPerBlock > 0 {
		capTPB = cfg.TxsPerBlock
	}
	preBlocks := int(o.actH-o.height) - profileRamp
	e.preTPB = min(capTPB, max(1, int(eraSegwit*float64(cfg.Txs))/max(preBlocks, 1)))
	rem := max(cfg.Txs-e.preTPB*preBlocks, 0)
	e.postTPB = cfg.TxsPerBlock
	if e.postTPB == 0 {
		e.postTPB = min(max((rem+postBlocksPerTxs-1)/postBlocksPerTxs, 20), maxProfileBlock)
	}
	e.planned = int(o.actH-o.height) + (rem+e.postTPB-1)/e.postTPB
	e.pool = newCoinPool(e.planned + 16)
	e.nextAddr = 1 // 0 marks an empty hub slot
	for i := range e.miners {
		e.miners[i] = e.fresh(0)
	}
	return e, nil
}

func (e *pengine) run(ctx context.Context) (*Result, error) {
	e.log.Info("sim: generating", "profile", e.cfg.Profile, "seed", e.cfg.Seed, "txs", e.cfg.Txs,
		"blocks_planned", e.planned, "witness_from", e.actH, "warmup_txs_per_block", e.preTPB,
		"txs_per_block", e.postTPB, "fast", e.cfg.Fast)
	if e.cfg.Fast {
		e.log.Info("sim: fast mode: keys and signatures are dummies; the blocks fail script validation")
	}
	h := int32(1)
	empty := 0
	for ; h < e.actH || e.txs < e.cfg.Txs; h++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := e.block(h)
		if err != nil {
			_ = e.join()
			return nil, err
		}
		if n == 0 && h > e.actH {
			if empty++; empty > 50 {
				return nil, fmt.Errorf("%w: profile %s: 50 blocks without a transaction at height %d", ErrInternal, e.cfg.Profile, h)
			}
		} else {
			empty = 0
		}
		if e.cfg.Progress != nil {
			e.cfg.Progress(int(h), max(e.planned, int(h)))
		}
	}
	if err := e.join(); err != nil {
		return nil, err
	}
	e.log.Info("sim: done", "blocks", e.res.Blocks, "txs", e.res.Txs, "utxos", e.pool.total+len(e.cbs), "tip", e.res.TipHash)
	return &e.res, nil
}

// fresh is a new address of a kind drawn from the script mix at progress
// p (legacy only before activation; p < 0 forces legacy).
func (e *pengine) fresh(p float64) paddr {
	k := kP2PKH
	if p >= 0 {
		m := mixAt(p)
		if e.h < e.actH {
			m[kP2PKH] += m[kP2WPKH] + m[kP2TR]
			m[kP2SH] += m[kP2WSH]
			m[kP2WPKH], m[kP2TR], m[kP2WSH] = 0, 0, 0
		}
		var t float64
		for _, v := range m {
			t += v
		}
		r := e.rng.Float64() * t
		for i, v := range m {
			if r < v {
				k = kind(i)
				break
			}
			r -= v
		}
	}
	a := paddr{n: e.nextAddr, k: k}
	e.nextAddr++
	e.ring[e.ringN%ringSize] = a
	e.ringN++
	return a
}

// addrObj is the signing view of a: the actor economy's address type, with
// the profile's one owner, so the same key derivation and signing code
// serves both.
func (e *pengine) addrObj(a paddr) *addr {
	return &addr{owner: e.owner, idx: uint64(a.n), kind: a.k}
}

// payee picks the address of an output: a fresh one, or (reuse) a hub
// such as an exchange's hot wallet (Zipf-like weights), a recently used
// address, or one of the transaction's own input addresses (change back
// to the sender).
func (e *pengine) payee(p float64, ins []coin) paddr {
	if e.rng.Float64() >= TargetReuse || e.ringN == 0 {
		return e.fresh(p)
	}
	r := e.rng.IntN(100)
	switch {
	case r < 45:
		x := e.rng.Float64()
		i := int(numHubs * x * x * x)
		if e.hubs[i] == (paddr{}) {
			e.hubs[i] = e.fresh(p) // its first receipt
		}
		return e.hubs[i]
	case r < 80:
		return e.ring[e.rng.IntN(min(e.ringN, ringSize))]
	default:
		c := ins[e.rng.IntN(len(ins))]
		return paddr{n: c.addr, k: c.kind()}
	}
}

// nOuts draws a transaction's output count: mostly payment plus change,
// a heavy tail of batched payouts (mean ≈ TargetOutputsPerTx).
func (e *pengine) nOuts() int {
	r := e.rng.Float64()
	switch {
	case r < 0.20:
		return 1
	case r < 0.90:
		return 2
	case r < 0.978:
		return 3 + e.rng.IntN(3)
	case r < 0.999:
		return e.logUniform(6, 99)
	}
	return e.logUniform(100, 500)
}

func (e *pengine) logUniform(lo, hi int) int {
	return min(hi, int(float64(lo)*math.Exp(e.rng.Float64()*math.Log(float64(hi+1)/float64(lo)))))
}

// nIns draws a transaction's input count. The tail (multi-input spends,
// consolidations of 50–500 coins) is scaled by f, the pool's size over
// its target, which holds the UTXO set near TargetUTXOFraction of all
// outputs; at f = 1 the mean is ~2.4.
func (e *pengine) nIns(f float64) int {
	p2, p3, p6, p50 := 0.20*f, 0.09*f, 0.03*f, 0.002*f
	if s := p2 + p3 + p6 + p50; s > 0.95 {
		p2, p3, p6, p50 = p2*0.95/s, p3*0.95/s, p6*0.95/s, p50*0.95/s
	}
	r := e.rng.Float64()
	switch {
	case r < p50:
		return e.logUniform(50, 500)
	case r < p50+p6:
		return e.logUniform(6, 49)
	case r < p50+p6+p3:
		return 3 + e.rng.IntN(3)
	case r < p50+p6+p3+p2:
		return 2
	}
	return 1
}

// spentAge draws how old (in blocks) the first coin of a mainnet-profile
// spend is: ~50 % within a day (144 blocks), ~70 % within a week, ~85 %
// within a month, the rest older, up to the whole chain. 0 means "any
// coin older than a month, uniformly".
func (e *pengine) spentAge() int {
	r := e.rng.Float64()
	switch {
	case r < 0.15:
		return 1
	case r < 0.50:
		return e.logUniform(2, 144)
	case r < 0.70:
		return e.logUniform(145, 1008)
	case r < 0.85:
		return e.logUniform(1009, 4320)
	}
	return 0
}

// pick takes one coin out of the pool for a spend at height h: uniformly
// among all coins (oldest profile, or the old tail of mainnet), or the
// youngest coin at least age blocks old (near is the rank of the tx's
// first input: the other inputs of a transaction come from around it, as
// one wallet's coins do).
func (e *pengine) pick(h int32, near int) (coin, int) {
	p := e.pool
	var k int
	switch {
	case e.oldest || near < -1:
		k = e.rng.IntN(p.total)
	case near >= 0:
		k = min(max(near+e.rng.IntN(65)-32, 0), p.total-1)
	default:
		age := e.spentAge()
		if age == 0 {
			n := p.countTo(int(h) - 4321)
			if n == 0 {
				n = p.total
			}
			k = e.rng.IntN(n)
		} else if n := p.countTo(int(h) - age); n > 0 {
			k = n - 1
		} else {
			// Older than the chain (or than any coin left): a coin
			// from anywhere, not always the oldest, which would strip
			// the pool of its old coins as mainnet's never is.
			k = e.rng.IntN(p.total)
		}
	}
	b, i := p.bucketOf(k)
	// A random coin of that bucket, so coins of one block are not spent in
	// creation order.
	i = e.rng.IntN(len(p.buckets[b]))
	return p.take(b, i), k
}

// block builds, signs and emits the block at height h and returns its
// non-coinbase transaction count.
func (e *pengine) block(h int32) (int, error) {
	e.h = h
	// Coinbases mature.
	for len(e.cbs) > 0 && e.cbs[0].height <= h-coinbaseMaturity {
		e.pool.add(e.cbs[0])
		e.cbs = e.cbs[1:]
	}
	rate := min(max(5*math.Exp(0.8*e.rng.NormFloat64()), 1), 100)
	budget := e.postTPB
	if h < e.actH {
		budget = 0
		if h > profileRamp {
			budget = e.preTPB
		}
	}
	budget = min(budget, e.cfg.Txs-e.txs)
	type planned struct {
		p    *txPlan
		ins  []coin
		outs []paddr
	}
	var plans []planned
	var size sizer
	var fees int64
	for len(plans) < budget && e.pool.total > 0 {
		if 4*size.base+size.wit > maxBlockWeight || size.base > maxBlockBase || size.sigops > maxBlockSigops {
			break
		}
		prog := float64(e.txs) / float64(max(e.cfg.Txs, 1))
		target := max(TargetUTXOFraction*float64(e.outputs), float64(8*e.postTPB*3))
		f := min(max(math.Pow(float64(e.pool.total)/target, 2), 0.05), 20)
		nin := min(e.nIns(f), e.pool.total)
		ins := make([]coin, 0, nin)
		first, near := e.pick(h, -1)
		ins = append(ins, first)
		if e.oldest {
			near = -2
		}
		for len(ins) < nin {
			c, _ := e.pick(h, near)
			ins = append(ins, c)
		}
		nout := e.nOuts()
		var s sizer
		var sum int64
		for _, c := range ins {
			s.in(c.kind())
			sum += c.value()
		}
		// Coin selection: a wallet adds coins until they pay the outputs
		// (at least minPay each) and the fee.
		for len(ins) < 500 && e.pool.total > 0 {
			t := s
			for range nout {
				t.out(kP2WPKH)
			}
			if sum >= feeFor(t.vsize(), rate)+int64(nout)*minPay {
				break
			}
			c, _ := e.pick(h, near)
			ins = append(ins, c)
			s.in(c.kind())
			sum += c.value()
		}
		outs := make([]paddr, nout)
		for i := range outs {
			outs[i] = e.payee(prog, ins)
			s.out(outs[i].k)
		}
		fee := feeFor(s.vsize(), rate)
		// Small inputs: fewer outputs, a lower fee, never below dust.
		for len(outs) > 1 && sum-fee < int64(len(outs))*profileDust {
			outs = outs[:len(outs)-1]
		}
		fee = max(min(fee, sum-profileDust), 0)
		vals := e.split(sum-fee, len(outs))
		utx := make([]*utxo, len(ins))
		for i := range ins {
			c := &ins[i]
			utx[i] = &utxo{op: c.outpoint(), value: c.value(), a: e.addrObj(paddr{n: c.addr, k: c.kind()}), height: c.height}
		}
		specs := make([]outSpec, len(outs))
		for i, o := range outs {
			specs[i] = outSpec{a: e.addrObj(o), value: vals[i]}
		}
		v, lt, seq := txStyle(uint8(e.rng.IntN(3)), h)
		p := &txPlan{ins: utx, outs: specs, version: v, lockTime: lt, seq: seq, fee: sum - sumOut(specs)}
		t := sizeOf(utx, specs)
		size.base += t.stripped()
		size.wit += t.weight() - 4*t.stripped()
		size.sigops += t.sigops
		fees += p.fee
		plans = append(plans, planned{p, ins, outs})
		e.txs++
	}
	// Derive keys, build (and sign) and serialize on all cores; each plan
	// owns its address objects, so the bytes do not depend on scheduling.
	n := len(plans)
	job := &sealJob{h: h, fees: fees, commit: h >= e.actH, raws: make([][]byte, n),
		ids: make([]chainhash.Hash, n+1), wtx: make([]chainhash.Hash, n+1)}
	parallel(n, func(i int) {
		p := plans[i].p
		for _, u := range p.ins {
			e.keys.deriveSpend(u.a)
		}
		for _, o := range p.outs {
			e.keys.derive(o.a)
		}
		if p.err = e.keys.build(p); p.err != nil {
			return
		}
		var buf bytes.Buffer
		buf.Grow(p.tx.SerializeSize())
		_ = p.tx.Serialize(&buf) // a bytes.Buffer does not fail
		job.raws[i] = buf.Bytes()
		job.ids[i+1] = p.txid
		job.wtx[i+1] = p.txid
		if p.tx.HasWitness() {
			job.wtx[i+1] = chainhash.DoubleHashH(job.raws[i])
		}
		p.tx = nil // the bytes are what is kept
	})
	for _, pl := range plans {
		if pl.p.err != nil {
			return 0, pl.p.err
		}
	}
	mi := e.rng.IntN(len(e.miners))
	if e.rng.IntN(100) < 2 {
		e.miners[mi] = e.fresh(float64(e.txs) / float64(max(e.cfg.Txs, 1)))
	}
	if e.rng.IntN(100) < 5 {
		e.hubs[e.rng.IntN(numHubs)] = paddr{} // a service moves to a new address
	}
	payTo := e.addrObj(e.miners[mi])
	e.keys.derive(payTo)
	job.payTo, job.miner = payTo.script, e.miners[mi]
	// Seal and write this block while the next one is planned: the next
	// block needs this one's txids (known now) but not its hash until it
	// is sealed in turn.
	if err := e.join(); err != nil {
		return 0, err
	}
	job.prev, job.ts = e.prev, e.t0+int64(h-1)*blockInterval
	e.inflight = make(chan sealDone, 1)
	go func(ch chan<- sealDone) { ch <- job.seal(e.emit) }(e.inflight)
	e.inflightJob = job
	// The block's outputs join the pool (spendable from the next block).
	for _, pl := range plans {
		for i, o := range pl.outs {
			e.pool.add(newCoin(pl.p.txid, i, pl.p.outs[i].value, o.k, o.n, h))
		}
		e.outputs += len(pl.outs)
	}
	e.outputs++ // the coinbase
	return n, nil
}

// sealJob is a block whose transactions are built and serialized: what
// is left is its coinbase, header, proof of work and bytes.
type sealJob struct {
	h        int32
	fees     int64
	commit   bool
	payTo    []byte
	miner    paddr
	prev     chainhash.Hash
	ts       int64
	raws     [][]byte
	ids, wtx []chainhash.Hash // [0] is the coinbase's
}

type sealDone struct {
	cb, hash chainhash.Hash
	value    int64
	txs      int
	err      error
}

func (j *sealJob) seal(emit func([]byte) error) sealDone {
	cb := coinbaseW(j.h, j.payTo, subsidy(j.h)+j.fees, "/cointrail profile/", uint64(j.h), j.commit, j.wtx)
	j.ids[0] = cb.TxHash()
	version := int32(versionBase)
	if !j.commit {
		version = versionSignal
	}
	hdr := wire.BlockHeader{Version: version, PrevBlock: j.prev, MerkleRoot: merkleRoot(j.ids),
		Timestamp: time.Unix(j.ts, 0), Bits: regtestBits}
	for !meetsTarget(hdr.BlockHash()) {
		hdr.Nonce++
	}
	size := wire.MaxBlockHeaderPayload + wire.VarIntSerializeSize(uint64(len(j.raws)+1)) + cb.SerializeSize()
	for _, r := range j.raws {
		size += len(r)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	_ = hdr.Serialize(&buf)
	_ = wire.WriteVarInt(&buf, 0, uint64(len(j.raws)+1))
	_ = cb.Serialize(&buf)
	for _, r := range j.raws {
		buf.Write(r)
	}
	return sealDone{cb: j.ids[0], hash: hdr.BlockHash(), value: cb.TxOut[0].Value, txs: len(j.raws) + 1, err: emit(buf.Bytes())}
}

// join waits for the block being sealed and records it.
func (e *pengine) join() error {
	if e.inflight == nil {
		return nil
	}
	d := <-e.inflight
	j := e.inflightJob
	e.inflight, e.inflightJob = nil, nil
	if d.err != nil {
		return d.err
	}
	e.cbs = append(e.cbs, newCoin(d.cb, 0, d.value, j.miner.k, j.miner.n, j.h))
	e.prev = d.hash
	e.res.Blocks++
	e.res.Txs += d.txs
	e.res.TipHash = d.hash
	return nil
}

// split divides v among n outputs: log-normal shares (a payment and its
// change are rarely equal), each at least dust when v allows.
func (e *pengine) split(v int64, n int) []int64 {
	out := make([]int64, n)
	if n == 1 {
		out[0] = v
		return out
	}
	floor := int64(profileDust)
	if v < floor*int64(n) {
		floor = v / int64(n)
	}
	rest := v - floor*int64(n)
	ws := make([]float64, n)
	var t float64
	for i := range ws {
		ws[i] = math.Exp(1.2 * e.rng.NormFloat64())
		t += ws[i]
	}
	left := rest
	for i := range out {
		x := int64(float64(rest) * ws[i] / t)
		if i == n-1 {
			x = left
		}
		x = min(x, left)
		left -= x
		out[i] = floor + x
	}
	return out
}
