package taint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"

	"github.com/cointrail/cointrail/pattern"
)

// refTrace is the in-memory tracer as it was before the compact state
// (per-output records in a map, edges and the Result built whole). The
// tests check that Trace and Stream give the same bytes as it does.
func refTrace(ctx context.Context, g Graph, attr Attribution, seeds []Seed, p Params, log *slog.Logger) (*Result, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &refTracer{g: g, attr: attr, p: p, byOut: map[uint64]int32{}, cbPend: map[uint32]*refCbPending{},
		firstTime: math.MaxInt64, lastTime: math.MinInt64, lastH: math.MaxUint32}
	seedInfo, err := t.seed(seeds)
	if err != nil {
		return nil, err
	}
	log.Debug("taint: trace start", "model", p.Model, "direction", p.Direction, "seeds", len(seeds), "traced_sat", t.traced)
	runErr := t.run(ctx)
	if runErr != nil && !errors.Is(runErr, ErrLimit) {
		return nil, runErr
	}
	if p.Progress != nil {
		p.Progress(t.visited)
	}
	res := t.result(seedInfo, runErr != nil)
	log.Debug("taint: trace done", "model", p.Model, "txs", t.visited, "outputs", len(res.Outputs), "truncated", runErr != nil)
	return res, runErr
}

// refRec is a tainted output. Only tainted outputs get one.
type refRec struct {
	out     uint64
	value   int64
	taint   int64
	tx      uint32 // creator
	spender uint32
	vout    uint32
	hops    uint32
	addr    uint32
	segOff  uint32 // FIFO/LIFO: segments in refTracer.segs
	segN    uint32
	stop    Stop
	viaCJ   bool // made by visiting a CoinJoin
}

type refEdge struct {
	fromTx, vout, toTx uint32
	sat                int64
	fee                bool
}

// refCbPending is the tainted fees paid in one block, waiting for its coinbase.
type refCbPending struct {
	fees   []Flow
	payers []uint32
	hops   uint32
}

type refPeel struct {
	tx      uint32
	in      uint64 // the output its one input spends
	larger  uint64 // its larger output (the first on a tie)
	smaller int64  // value of the other output
}

type refTracer struct {
	g    Graph
	attr Attribution
	p    Params
	own  map[Entity]bool

	recs  []refRec
	byOut map[uint64]int32
	segs  []Seg
	heap  []uint64
	sp    splitter

	ins   []Flow
	outs  []Flow
	prevs []uint64
	view  pattern.TxView

	cbPend map[uint32]*refCbPending
	peels  []refPeel
	edges  []refEdge

	popped  bool
	last    uint64
	visited int

	traced, fee, inCoinJoin, stoppedExtra int64
	coinJoins, consolidations, fanOuts    int
	firstTime, lastTime                   int64
	lastH                                 uint32
	lastHTime                             int64
}

func (t *refTracer) txid(tx uint32) Hash { return displayHash(t.g.TxHash(tx)) }

func (t *refTracer) outpoint(out uint64) string {
	tx := t.g.OutTx(out)
	first, _ := t.g.TxOutputs(tx)
	return fmt.Sprintf("%s:%d", t.txid(tx), out-first)
}

// seed validates the seeds and makes their records, in output id order.
func (t *refTracer) seed(seeds []Seed) ([]SeedInfo, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: no seeds", ErrBadParams)
	}
	var numOuts uint64
	if n := t.g.NumTxs(); n > 0 {
		first, k := t.g.TxOutputs(n - 1)
		numOuts = first + uint64(k)
	}
	sorted := slices.Clone(seeds)
	slices.SortFunc(sorted, func(a, b Seed) int { return cmp.Compare(a.Out, b.Out) })
	t.own = map[Entity]bool{}
	for _, s := range sorted {
		if t.p.Direction == Backward && !t.p.StopAtSeedEntity && t.attr != nil && s.Out < numOuts {
			if e, ok := t.attr.Entity(t.g.OutAddr(s.Out)); ok && t.g.OutAddr(s.Out) != 0 {
				t.own[e.Key()] = true
			}
		}
	}
	info := make([]SeedInfo, 0, len(sorted))
	for i, s := range sorted {
		if s.Out >= numOuts {
			return nil, fmt.Errorf("%w: seed output %d out of range (the graph has %d outputs)", ErrBadParams, s.Out, numOuts)
		}
		if i > 0 && sorted[i-1].Out == s.Out {
			return nil, fmt.Errorf("%w: seed %s given twice", ErrBadParams, t.outpoint(s.Out))
		}
		v := t.g.OutValue(s.Out)
		amt := s.Amount
		if amt == 0 {
			amt = v
		}
		if amt < 0 || amt > v {
			return nil, fmt.Errorf("%w: seed %s amount %d outside [0, %d]", ErrBadParams, t.outpoint(s.Out), s.Amount, v)
		}
		if amt == 0 {
			return nil, fmt.Errorf("%w: seed %s carries no value", ErrBadParams, t.outpoint(s.Out))
		}
		tx := t.g.OutTx(s.Out)
		first, _ := t.g.TxOutputs(tx)
		info = append(info, SeedInfo{Out: s.Out, TxID: t.txid(tx), Vout: uint32(s.Out - first), AmountSat: amt})
		t.traced += amt
		t.seeTime(tx)
		t.add(s.Out, tx, uint32(s.Out-first), t.g.OutSpender(s.Out), Flow{Value: v, Taint: amt}, 0, false)
	}
	return info, nil
}

// add records taint on an output, deciding whether to follow it. An output
// gets taint from exactly one visited transaction (forward its creator,
// backward its spender), so it already has a record only if it is also a
// seed: the taint is then merged, and the overlap (the same satoshis
// tainted twice) taken off TracedSat so conservation still holds.
func (t *refTracer) add(out uint64, tx, vout, spender uint32, f Flow, hops uint32, viaCJ bool) {
	if ri, ok := t.byOut[out]; ok {
		t.merge(&t.recs[ri], f, hops)
		return
	}
	r := refRec{out: out, value: f.Value, taint: f.Taint, tx: tx, spender: spender, vout: vout, hops: hops,
		addr: t.g.OutAddr(out), viaCJ: viaCJ}
	if t.p.Model.segmented() {
		r.segOff = uint32(len(t.segs))
		t.appendSegs(f)
		r.segN = uint32(len(t.segs)) - r.segOff
	}
	r.stop = t.stopFor(&r)
	t.byOut[out] = int32(len(t.recs))
	t.recs = append(t.recs, r)
	if r.stop == StopFollowed {
		t.follow(&r)
	}
}

func (t *refTracer) appendSegs(f Flow) {
	if f.Segs == nil && f.Taint > 0 {
		t.segs = append(t.segs, Seg{0, f.Taint})
		return
	}
	t.segs = append(t.segs, f.Segs...)
}

func (t *refTracer) segsOf(r *refRec) []Seg {
	if !t.p.Model.segmented() {
		return nil
	}
	return t.segs[r.segOff : r.segOff+r.segN : r.segOff+r.segN]
}

func (t *refTracer) merge(r *refRec, f Flow, hops uint32) {
	old := r.taint
	was := r.stop
	switch {
	case t.p.Model == Poison:
		r.taint = r.value
	case t.p.Model.segmented():
		u := unionSegs(t.segsOf(r), prefixSegs(f))
		r.segOff = uint32(len(t.segs))
		t.segs = append(t.segs, u...)
		r.segN = uint32(len(u))
		r.taint = 0
		for _, s := range u {
			r.taint += s.End - s.Start
		}
	default:
		r.taint = min(r.value, old+f.Taint)
	}
	t.traced -= old + f.Taint - r.taint
	r.hops = min(r.hops, hops)
	r.stop = t.stopFor(r)
	if r.stop == StopFollowed && was != StopFollowed {
		t.follow(r)
	}
}

// stopFor decides whether an output's taint goes on, in the order the
// reasons are documented: attribution first (an exchange deposit is an
// arrival even if unspent or dust), then the end of the graph, then dust,
// then the limits.
func (t *refTracer) stopFor(r *refRec) Stop {
	if t.p.StopAtService && t.attr != nil && r.addr != 0 {
		if e, ok := t.attr.Entity(r.addr); ok && !t.own[e.Key()] {
			return StopArrival
		}
	}
	next := r.spender
	if t.p.Direction == Forward {
		if r.spender == NoTx {
			return StopUnspent
		}
	} else {
		if _, n := t.g.TxInputs(r.tx); n == 0 {
			return StopMined
		}
		next = r.tx
	}
	switch {
	case r.taint < t.p.MinSats:
		return StopDust
	case t.p.MaxHops > 0 && r.hops >= uint32(t.p.MaxHops):
		return StopMaxHops
	case t.p.StopAtCoinJoin && r.viaCJ:
		return StopCoinJoin
	case !t.inWindow(next):
		return StopWindow
	}
	return StopFollowed
}

func (t *refTracer) inWindow(tx uint32) bool {
	if !t.p.hasWindow() {
		return true
	}
	h := t.g.TxHeight(tx)
	if h < t.p.FromHeight || (t.p.ToHeight != 0 && h > t.p.ToHeight) {
		return false
	}
	if t.p.FromTime != 0 || t.p.ToTime != 0 {
		bt := t.g.BlockTime(h)
		if bt < t.p.FromTime || (t.p.ToTime != 0 && bt > t.p.ToTime) {
			return false
		}
	}
	return true
}

// Heap keys. Forward: tx<<1, and (last tx of block h)<<1 | 1 for the
// coinbase of block h receiving fees (visited after every transaction of
// its block; its outputs cannot be spent before the next block). Backward:
// ^tx, so the min-heap yields the highest number first.
func (t *refTracer) follow(r *refRec) {
	if t.p.Direction == Forward {
		t.push(uint64(r.spender) << 1)
	} else {
		t.push(^uint64(r.tx))
	}
}

func (t *refTracer) push(k uint64) {
	t.heap = append(t.heap, k)
	for i := len(t.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if t.heap[p] <= t.heap[i] {
			break
		}
		t.heap[p], t.heap[i] = t.heap[i], t.heap[p]
		i = p
	}
}

func (t *refTracer) pop() uint64 {
	h := t.heap
	k := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h[l] < h[m] {
			m = l
		}
		if l+1 < n && h[l+1] < h[m] {
			m = l + 1
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	t.heap = h
	return k
}

// next pops the next distinct key. Keys are pushed only ahead of the one
// being visited, so duplicates come out next to each other.
func (t *refTracer) next() (uint64, bool) {
	for len(t.heap) > 0 {
		k := t.pop()
		if t.popped && k == t.last {
			continue
		}
		t.popped, t.last = true, k
		return k, true
	}
	return 0, false
}

func (t *refTracer) run(ctx context.Context) error {
	for {
		k, ok := t.next()
		if !ok {
			return nil
		}
		if t.p.MaxTxs > 0 && t.visited >= t.p.MaxTxs {
			for ok {
				t.truncate(k)
				k, ok = t.next()
			}
			return fmt.Errorf("%w: visited max_txs=%d transactions", ErrLimit, t.p.MaxTxs)
		}
		if t.visited%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		t.visited++
		if t.p.Progress != nil && t.visited%ProgressEvery == 0 {
			t.p.Progress(t.visited)
		}
		var err error
		switch {
		case t.p.Direction == Backward:
			err = t.visitBackward(uint32(^k))
		case k&1 == 1:
			err = t.visitCoinbase(t.g.TxHeight(uint32(k >> 1)))
		default:
			err = t.visitForward(uint32(k >> 1))
		}
		if err != nil {
			return err
		}
	}
}

// truncate marks the taint waiting for key's transaction as stopped at the
// limit.
func (t *refTracer) truncate(k uint64) {
	switch {
	case t.p.Direction == Backward:
		first, n := t.g.TxOutputs(uint32(^k))
		for o := first; o < first+uint64(n); o++ {
			t.limitRec(o)
		}
	case k&1 == 1:
		h := t.g.TxHeight(uint32(k >> 1))
		for _, f := range t.cbPend[h].fees {
			t.stoppedExtra += f.Taint
		}
		delete(t.cbPend, h)
	default:
		first, n := t.g.TxInputs(uint32(k >> 1))
		for in := first; in < first+uint64(n); in++ {
			t.limitRec(t.g.InputPrevOut(in))
		}
	}
}

func (t *refTracer) limitRec(out uint64) {
	if ri, ok := t.byOut[out]; ok && t.recs[ri].stop == StopFollowed {
		t.recs[ri].stop = StopLimit
	}
}

func (t *refTracer) seeTime(tx uint32) {
	h := t.g.TxHeight(tx)
	if h != t.lastH {
		t.lastH, t.lastHTime = h, t.g.BlockTime(h)
	}
	t.firstTime = min(t.firstTime, t.lastHTime)
	t.lastTime = max(t.lastTime, t.lastHTime)
}

func (t *refTracer) resetView() {
	v := &t.view
	v.InValues, v.InAddrs = v.InValues[:0], v.InAddrs[:0]
	v.OutValues, v.OutAddrs, v.OutTypes = v.OutValues[:0], v.OutAddrs[:0], v.OutTypes[:0]
}

func (t *refTracer) viewOutputs(tx uint32) (first uint64, n uint32) {
	first, n = t.g.TxOutputs(tx)
	for o := first; o < first+uint64(n); o++ {
		t.view.OutValues = append(t.view.OutValues, t.g.OutValue(o))
		t.view.OutAddrs = append(t.view.OutAddrs, t.g.OutAddr(o))
		t.view.OutTypes = append(t.view.OutTypes, t.g.OutType(o))
	}
	return first, n
}

// classify counts the kind of a visited transaction carrying taint t.
func (t *refTracer) classify(tx uint32, taint int64) pattern.Kind {
	k := pattern.Detect(t.view)
	switch {
	case k.IsCoinJoin():
		t.coinJoins++
		t.inCoinJoin += taint
	case k&pattern.Consolidation != 0:
		t.consolidations++
	case k&pattern.FanOut != 0:
		t.fanOuts++
	case k&pattern.PeelStep != 0:
		first, _ := t.g.TxOutputs(tx)
		p := refPeel{tx: tx, in: t.prevs[0], larger: first, smaller: t.view.OutValues[1]}
		if t.view.OutValues[1] > t.view.OutValues[0] {
			p.larger, p.smaller = first+1, t.view.OutValues[0]
		}
		t.peels = append(t.peels, p)
	}
	return k
}

func (t *refTracer) visitForward(tx uint32) error {
	t.seeTime(tx)
	t.resetView()
	t.ins, t.prevs = t.ins[:0], t.prevs[:0]
	first, n := t.g.TxInputs(tx)
	hop := uint32(math.MaxUint32)
	var tin int64
	for in := first; in < first+uint64(n); in++ {
		prev := t.g.InputPrevOut(in)
		f := Flow{Value: t.g.OutValue(prev)}
		if ri, ok := t.byOut[prev]; ok && t.recs[ri].stop == StopFollowed {
			r := &t.recs[ri]
			f.Taint, f.Segs = r.taint, t.segsOf(r)
			hop = min(hop, r.hops)
			tin += r.taint
			t.edges = append(t.edges, refEdge{fromTx: r.tx, vout: r.vout, toTx: tx, sat: r.taint})
		}
		t.ins = append(t.ins, f)
		t.prevs = append(t.prevs, prev)
		t.view.InValues = append(t.view.InValues, f.Value)
		t.view.InAddrs = append(t.view.InAddrs, t.g.OutAddr(prev))
	}
	if tin == 0 {
		return fmt.Errorf("%w: tx %s visited without tainted inputs (internal error)", ErrCorrupt, t.txid(tx))
	}
	outFirst, nOut := t.viewOutputs(tx)
	kind := t.classify(tx, tin)
	res, err := t.sp.forward(t.p.Model, t.ins, t.view.OutValues)
	if err != nil {
		return fmt.Errorf("tx %s: %w", t.txid(tx), err)
	}
	for j := range nOut {
		if res[j].Taint > 0 {
			o := outFirst + uint64(j)
			t.add(o, tx, j, t.g.OutSpender(o), res[j], hop+1, kind.IsCoinJoin())
		}
	}
	t.payFee(tx, res[nOut], hop)
	return nil
}

func (t *refTracer) payFee(tx uint32, fee Flow, hop uint32) {
	if fee.Taint == 0 {
		return
	}
	if !t.p.FeesToCoinbase {
		t.fee += fee.Taint
		return
	}
	h := t.g.TxHeight(tx)
	cp, ok := t.cbPend[h]
	if !ok {
		cp = &refCbPending{hops: hop}
		t.cbPend[h] = cp
		t.push(uint64(t.lastTxOf(h))<<1 | 1)
	}
	fee.Segs = slices.Clone(fee.Segs)
	cp.fees = append(cp.fees, fee)
	cp.payers = append(cp.payers, tx)
	cp.hops = min(cp.hops, hop)
}

// firstTxOf and lastTxOf find a block's transactions by binary search over
// the heights, which never decrease with the transaction number.
func (t *refTracer) firstTxOf(h uint32) uint32 {
	return uint32(sort.Search(int(t.g.NumTxs()), func(i int) bool { return t.g.TxHeight(uint32(i)) >= h }))
}

func (t *refTracer) lastTxOf(h uint32) uint32 {
	return uint32(sort.Search(int(t.g.NumTxs()), func(i int) bool { return t.g.TxHeight(uint32(i)) > h })) - 1
}

// visitCoinbase splits the tainted fees of block h over its coinbase's
// outputs as if the coinbase spent a clean input worth the rest of its value
// (the subsidy and the untainted fees) followed by the tainted fees in
// transaction order. A coinbase claiming less than the tainted fees destroys
// the difference; that taint is counted as fee.
func (t *refTracer) visitCoinbase(h uint32) error {
	cp := t.cbPend[h]
	delete(t.cbPend, h)
	cb := t.firstTxOf(h)
	if _, n := t.g.TxInputs(cb); n != 0 || t.g.TxHeight(cb) != h {
		return fmt.Errorf("%w: block %d does not start with a coinbase", ErrCorrupt, h)
	}
	t.seeTime(cb)
	t.resetView()
	outFirst, nOut := t.viewOutputs(cb)
	var cbValue, fees int64
	for _, v := range t.view.OutValues {
		cbValue += v
	}
	for _, f := range cp.fees {
		fees += f.Value
	}
	t.ins = append(t.ins[:0], Flow{Value: max(0, cbValue-fees)})
	t.ins = append(t.ins, cp.fees...)
	for i, f := range cp.fees {
		t.edges = append(t.edges, refEdge{fromTx: cp.payers[i], toTx: cb, sat: f.Taint, fee: true})
	}
	res, err := t.sp.forward(t.p.Model, t.ins, t.view.OutValues)
	if err != nil {
		return fmt.Errorf("coinbase of block %d: %w", h, err)
	}
	for j := range nOut {
		if res[j].Taint > 0 {
			o := outFirst + uint64(j)
			t.add(o, cb, j, t.g.OutSpender(o), res[j], cp.hops+1, false)
		}
	}
	t.fee += res[nOut].Taint
	return nil
}

func (t *refTracer) visitBackward(tx uint32) error {
	t.seeTime(tx)
	t.resetView()
	t.outs, t.prevs = t.outs[:0], t.prevs[:0]
	outFirst, _ := t.viewOutputs(tx)
	hop := uint32(math.MaxUint32)
	var tout int64
	for j, v := range t.view.OutValues {
		f := Flow{Value: v}
		if ri, ok := t.byOut[outFirst+uint64(j)]; ok && t.recs[ri].stop == StopFollowed {
			r := &t.recs[ri]
			f.Taint, f.Segs = r.taint, t.segsOf(r)
			hop = min(hop, r.hops)
			tout += r.taint
		}
		t.outs = append(t.outs, f)
	}
	first, n := t.g.TxInputs(tx)
	if n == 0 || tout == 0 {
		return fmt.Errorf("%w: tx %s visited backward without inputs or taint (internal error)", ErrCorrupt, t.txid(tx))
	}
	for in := first; in < first+uint64(n); in++ {
		prev := t.g.InputPrevOut(in)
		t.prevs = append(t.prevs, prev)
		t.view.InValues = append(t.view.InValues, t.g.OutValue(prev))
		t.view.InAddrs = append(t.view.InAddrs, t.g.OutAddr(prev))
	}
	kind := t.classify(tx, tout)
	res, err := t.sp.backward(t.p.Model, t.view.InValues, t.outs)
	if err != nil {
		return fmt.Errorf("tx %s: %w", t.txid(tx), err)
	}
	for i, f := range res {
		if f.Taint == 0 {
			continue
		}
		prev := t.prevs[i]
		src := t.g.OutTx(prev)
		srcFirst, _ := t.g.TxOutputs(src)
		vout := uint32(prev - srcFirst)
		t.edges = append(t.edges, refEdge{fromTx: src, vout: vout, toTx: tx, sat: f.Taint})
		t.add(prev, src, vout, tx, f, hop+1, kind.IsCoinJoin())
	}
	return nil
}

// result assembles the sorted, self-contained Result.
func (t *refTracer) result(seeds []SeedInfo, truncated bool) *Result {
	g := t.g
	tipH, tipHash := g.Tip()
	r := &Result{TipHeight: tipH, TipHash: displayHash(tipHash), Model: t.p.Model, Params: t.p, Seeds: seeds,
		Outputs: make([]TaintedOutput, 0, len(t.recs)), Edges: make([]Edge, 0, len(t.edges))}
	r.Params.Progress = nil
	r.Params.Inputs = Inputs{}
	r.Inputs = t.p.Inputs
	r.Inputs.normalize()
	s := &r.Summary
	s.TracedSat, s.FeeSat, s.InCoinJoinSat, s.StoppedSat = t.traced, t.fee, t.inCoinJoin, t.stoppedExtra
	s.TxsVisited, s.CoinJoins, s.Consolidations, s.FanOuts = t.visited, t.coinJoins, t.consolidations, t.fanOuts
	s.Truncated = truncated
	if t.firstTime <= t.lastTime {
		s.FirstTime, s.LastTime = t.firstTime, t.lastTime
	}

	// Records are created in visiting order, which is nearly output order
	// (forward increasing, backward decreasing); the sort is close to linear.
	// byOut is stale from here on.
	slices.SortFunc(t.recs, func(a, b refRec) int { return cmp.Compare(a.out, b.out) })
	type key struct{ label, category string }
	arrived := map[key]*Arrival{}
	for i := range t.recs {
		rc := &t.recs[i]
		o := TaintedOutput{Out: rc.out, TxID: t.txid(rc.tx), Vout: rc.vout, Address: g.AddrString(rc.addr),
			ValueSat: rc.value, TaintSat: rc.taint, Hops: int(rc.hops), Spent: rc.spender != NoTx, Stop: rc.stop,
			Height: g.TxHeight(rc.tx), Time: UTC(g.BlockTime(g.TxHeight(rc.tx)))}
		if segs := t.segsOf(rc); len(segs) > 0 {
			o.Segments = slices.Clone(segs)
		}
		if t.attr != nil && rc.addr != 0 {
			if e, ok := t.attr.Entity(rc.addr); ok {
				o.Label, o.Category, o.LabelSource, o.LabelConfidence = e.Label, e.Category, e.Source, e.Confidence
			}
		}
		s.MaxHop = max(s.MaxHop, o.Hops)
		switch rc.stop {
		case StopUnspent:
			s.UnspentSat += rc.taint
		case StopArrival:
			k := key{o.Label, o.Category}
			a, ok := arrived[k]
			if !ok {
				a = &Arrival{Label: o.Label, Category: o.Category, FirstHeight: o.Height}
				arrived[k] = a
			}
			a.Sat += rc.taint
			a.FirstHeight = min(a.FirstHeight, o.Height)
		case StopDust:
			s.DustSat += rc.taint
		case StopMaxHops, StopWindow, StopCoinJoin, StopLimit:
			s.StoppedSat += rc.taint
		case StopMined:
			s.MinedSat += rc.taint
		}
		r.Outputs = append(r.Outputs, o)
	}
	s.Arrived = make([]Arrival, 0, len(arrived))
	for _, a := range arrived {
		s.Arrived = append(s.Arrived, *a)
	}
	slices.SortFunc(s.Arrived, func(a, b Arrival) int {
		return cmp.Or(cmp.Compare(b.Sat, a.Sat), cmp.Compare(a.Label, b.Label), cmp.Compare(a.Category, b.Category))
	})

	slices.SortFunc(t.edges, func(a, b refEdge) int {
		return cmp.Or(cmp.Compare(a.fromTx, b.fromTx), compareBool(a.fee, b.fee), cmp.Compare(a.vout, b.vout), cmp.Compare(a.toTx, b.toTx))
	})
	for _, e := range t.edges {
		r.Edges = append(r.Edges, Edge{FromTx: t.txid(e.fromTx), ToTx: t.txid(e.toTx), Vout: e.vout, Sat: e.sat, Fee: e.fee})
	}
	s.PeelChains = t.peelChains()
	return r
}

// peelChains links the visited refPeel steps whose input is the larger output
// of another visited refPeel step. Each step has one input, so the links form
// simple paths; those of at least MinPeelChain steps are reported in chain
// order.
func (t *refTracer) peelChains() []PeelChain {
	chains := []PeelChain{}
	if len(t.peels) == 0 {
		return chains
	}
	ps := t.peels
	slices.SortFunc(ps, func(a, b refPeel) int { return cmp.Compare(a.tx, b.tx) })
	// The step before p, if any, is the visited refPeel step that created p's
	// input as its larger output.
	prev := func(p refPeel) (int, bool) {
		i, ok := slices.BinarySearchFunc(ps, t.g.OutTx(p.in), func(q refPeel, tx uint32) int { return cmp.Compare(q.tx, tx) })
		return i, ok && ps[i].larger == p.in
	}
	next := make([]int32, len(ps))
	hasPrev := make([]bool, len(ps))
	for i := range next {
		next[i] = -1
	}
	for i, p := range ps {
		if j, ok := prev(p); ok {
			next[j] = int32(i)
			hasPrev[i] = true
		}
	}
	for i, p := range ps {
		if hasPrev[i] {
			continue
		}
		var c PeelChain
		last := i
		for j := int32(i); j >= 0; j = next[j] {
			c.Length++
			c.PeeledSat += ps[j].smaller
			last = int(j)
		}
		if c.Length >= MinPeelChain {
			c.FirstTxID, c.LastTxID = t.txid(p.tx), t.txid(ps[last].tx)
			chains = append(chains, c)
		}
	}
	return chains
}
