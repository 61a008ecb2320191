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

// MinPeelChain is the fewest consecutive peel steps reported as a peel
// chain: one or two 1-in 2-out payments in a row are ordinary wallet use.
const MinPeelChain = 3

// Trace follows the seeds through g under p.Model and returns the result,
// held whole in memory; it is Stream followed by Stream.Result. Use Stream
// to write a large result without holding it.
//
// If p.MaxTxs is reached Trace returns the truncated Result (the taint not
// yet followed is counted as stopped with reason "limit") and an error
// wrapping ErrLimit; other errors return no Result.
func Trace(ctx context.Context, g Graph, attr Attribution, seeds []Seed, p Params, log *slog.Logger) (*Result, error) {
	s, err := Stream(ctx, g, attr, seeds, p, StreamOptions{}, log)
	if s == nil {
		return nil, err
	}
	defer s.Close()
	res, rerr := s.Result()
	if rerr != nil {
		return nil, rerr
	}
	return res, err
}

// TraceModels runs Trace once per model with otherwise the same parameters
// and returns the results in the order of models. A model that reaches
// MaxTxs still gives its truncated result; the returned error then wraps
// ErrLimit.
func TraceModels(ctx context.Context, g Graph, attr Attribution, seeds []Seed, p Params, models []Model, log *slog.Logger) ([]*Result, error) {
	if err := checkModels(models); err != nil {
		return nil, err
	}
	var out []*Result
	var limitErr error
	for _, m := range models {
		q := p
		q.Model = m
		r, err := Trace(ctx, g, attr, seeds, q, log)
		if err != nil && !errors.Is(err, ErrLimit) {
			return nil, fmt.Errorf("model %s: %w", m, err)
		}
		if err != nil && limitErr == nil {
			limitErr = fmt.Errorf("model %s: %w", m, err)
		}
		out = append(out, r)
	}
	return out, limitErr
}

func checkModels(models []Model) error {
	if len(models) == 0 {
		return fmt.Errorf("%w: no model given (valid: %s)", ErrBadParams, validModels)
	}
	for i, m := range models {
		if !m.Valid() {
			return fmt.Errorf("%w: unknown model %s (valid: %s)", ErrBadParams, m, validModels)
		}
		if slices.Contains(models[:i], m) {
			return fmt.Errorf("%w: model %s given twice", ErrBadParams, m)
		}
	}
	return nil
}

// StreamOptions tunes where a trace keeps its state.
type StreamOptions struct {
	// TempDir holds the trace's memory-mapped state files (unlinked at
	// once); "" is os.TempDir().
	TempDir string
}

// Stream runs the trace like Trace but keeps its per-output state in
// compact arrays indexed by output id (16 bytes per output of the chain,
// memory-mapped, see dense.go) and returns a TraceStream that writes the
// result from them, in the canonical order, without building it. The
// caller must Close it. On ErrLimit the stream is returned with the error,
// like Trace's truncated Result; on other errors it is nil.
func Stream(ctx context.Context, g Graph, attr Attribution, seeds []Seed, p Params, opt StreamOptions, log *slog.Logger) (*TraceStream, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &tracer{g: g, attr: attr, p: p, cbPend: map[uint32]*cbPending{}, ar: &arena{dir: opt.TempDir},
		firstTime: math.MaxInt64, lastTime: math.MinInt64, lastH: math.MaxUint32,
		maxHops: capped(p.MaxHops, p.HopCap), maxTxs: capped(p.MaxTxs, p.TxCap)}
	// The arrays are sized from the graph's last tx: a corrupt one must stop
	// the trace before any id is used as an index into them.
	if err := t.fail(t.alloc()); err != nil {
		t.ar.release()
		return nil, err
	}
	seedInfo, err := t.seed(seeds)
	if err = t.fail(err); err != nil {
		t.ar.release()
		return nil, err
	}
	log.Debug("taint: trace start", "model", p.Model, "direction", p.Direction, "seeds", len(seeds), "traced_sat", t.traced)
	runErr := t.fail(t.run(ctx))
	if runErr != nil && !errors.Is(runErr, ErrLimit) {
		t.ar.release()
		return nil, runErr
	}
	if p.Progress != nil {
		p.Progress(t.visited)
	}
	s, err := t.stream(seedInfo, runErr != nil)
	if err = t.fail(err); err != nil {
		t.ar.release()
		return nil, err
	}
	log.Debug("taint: trace done", "model", p.Model, "txs", t.visited, "outputs", s.nOut, "truncated", runErr != nil)
	return s, runErr
}

// cbPending is the tainted fees paid in one block, waiting for its coinbase.
type cbPending struct {
	fees   []Flow
	payers []uint32
	hops   uint32
}

// feeEdge is a tainted fee carried into a coinbase (FeesToCoinbase).
type feeEdge struct {
	payer, cb uint32
	sat       int64
}

type tracer struct {
	g    Graph
	attr Attribution
	p    Params
	ar   *arena
	own  map[Entity]bool // backward: the seeds' entities, which do not stop the trace

	maxHops, maxTxs int // the limits with their caps
	txCapBound      bool

	numOuts uint64
	numTxs  uint32
	st      []outState // by output id
	present bitset     // outputs with taint, for the result's ordered walk
	refs    []segRef   // FIFO/LIFO: by output id
	segs    []Seg
	nOut    int

	// pending holds the keys of the transactions still to visit: forward
	// tx<<1 and, for the coinbase of a block receiving tainted fees,
	// (last tx of the block)<<1 | 1 (visited after every transaction of its
	// block; its outputs cannot be spent before the next block); backward
	// the tx number, visited from the highest down. Keys are only added
	// ahead of the one being visited, so walking the set in order visits
	// every transaction once, after all its tainted inputs are final.
	pending bitset
	cur     uint64
	peel    bitset // visited peel steps, by tx
	larger  bitset // the larger outputs of visited peel steps, by output id
	sp      splitter

	ins   []Flow
	outs  []Flow
	prevs []uint64
	view  pattern.TxView

	cbPend  map[uint32]*cbPending
	fees    []feeEdge        // in payer order
	bad     error            // the first inconsistency of the graph found; see fail
	edgeSat map[uint64]int64 // backward: a seed's taint received from its spender, where merged
	visited int

	traced, fee, inCoinJoin, stoppedExtra int64
	coinJoins, consolidations, fanOuts    int
	firstTime, lastTime                   int64
	lastH                                 uint32
	lastHTime                             int64
}

func (t *tracer) alloc() error {
	n := t.g.NumTxs()
	t.numTxs = n
	if n > 0 {
		first, k := t.g.TxOutputs(n - 1)
		t.numOuts = first + uint64(k)
	}
	var err error
	if t.st, err = allocOutStates(t.ar, t.numOuts); err != nil {
		return err
	}
	if t.present, err = newBitset(t.ar, t.numOuts); err != nil {
		return err
	}
	if t.larger, err = newBitset(t.ar, t.numOuts); err != nil {
		return err
	}
	if t.peel, err = newBitset(t.ar, uint64(n)); err != nil {
		return err
	}
	keys := uint64(n)
	if t.p.Direction == Forward {
		keys *= 2
	}
	if t.pending, err = newBitset(t.ar, keys); err != nil {
		return err
	}
	if t.p.Direction == Backward {
		t.cur = uint64(n) // the walk goes down from above the last tx
	}
	if t.p.Model.segmented() {
		if t.refs, err = allocSegRefs(t.ar, t.numOuts); err != nil {
			return err
		}
	}
	return nil
}

func (t *tracer) txid(tx uint32) Hash { return displayHash(t.g.TxHash(tx)) }

// corrupt records an inconsistency of the graph found where no error can be
// returned; run stops after the transaction being visited.
func (t *tracer) corrupt(format string, args ...any) {
	if t.bad == nil {
		t.bad = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

// fail is the error a trace stops with, given err from what it was doing
// (nil: nothing failed there). A corruption the graph's own reads found comes
// first — whatever else went wrong followed from the values it answered
// instead — then an inconsistency the tracer found (t.bad, or err wrapping
// ErrCorrupt), which Graph.Corrupt makes the graph's error, then err.
func (t *tracer) fail(err error) error {
	if gerr := t.g.Err(); gerr != nil {
		return gerr
	}
	if t.bad != nil {
		err = t.bad
	}
	if err != nil && errors.Is(err, ErrCorrupt) {
		return t.g.Corrupt(err)
	}
	return err
}

func (t *tracer) outpoint(out uint64) string {
	tx := t.g.OutTx(out)
	first, _ := t.g.TxOutputs(tx)
	return fmt.Sprintf("%s:%d", t.txid(tx), out-first)
}

// seed validates the seeds and records their taint, in output id order.
func (t *tracer) seed(seeds []Seed) ([]SeedInfo, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: no seeds", ErrBadParams)
	}
	sorted := slices.Clone(seeds)
	slices.SortFunc(sorted, func(a, b Seed) int { return cmp.Compare(a.Out, b.Out) })
	if t.p.Direction == Backward && t.p.StopAtService && t.attr != nil && !t.p.StopAtSeedEntity {
		// Looking back from an exchange's deposit, its own label is where
		// the question starts, not an answer: the seeds' own entities pass.
		for _, s := range sorted {
			if s.Out >= t.numOuts {
				continue // refused below
			}
			if addr := t.g.OutAddr(s.Out); addr != 0 {
				if e, ok := t.attr.Entity(addr); ok {
					if t.own == nil {
						t.own = map[Entity]bool{}
					}
					t.own[e.Key()] = true
				}
			}
		}
	}
	info := make([]SeedInfo, 0, len(sorted))
	for i, s := range sorted {
		if s.Out >= t.numOuts {
			return nil, fmt.Errorf("%w: seed output %d out of range (the graph has %d outputs)", ErrBadParams, s.Out, t.numOuts)
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
		t.add(s.Out, tx, t.g.OutSpender(s.Out), Flow{Value: v, Taint: amt}, 0, false, false)
	}
	return info, nil
}

// add records taint on an output, deciding whether to follow it; tx is its
// creator, spender its spender. An output gets taint from exactly one
// visited transaction (forward its creator, backward its spender), so it
// already has taint only if it is also a seed: the taint is then merged,
// and the overlap (the same satoshis tainted twice) taken off TracedSat so
// conservation still holds. visit says the taint comes from visiting a
// transaction (not from a seed).
func (t *tracer) add(out uint64, tx, spender uint32, f Flow, hops uint32, viaCJ, visit bool) {
	r := &t.st[out]
	if r.flags&fPresent != 0 {
		if visit && t.p.Direction == Backward {
			r.flags |= fEdge
			if t.edgeSat == nil {
				t.edgeSat = map[uint64]int64{}
			}
			t.edgeSat[out] = f.Taint
		}
		t.merge(out, r, tx, spender, f, hops)
		return
	}
	*r = outState{taint: f.Taint, hops: hops, flags: fPresent}
	if viaCJ {
		r.flags |= fViaCJ
	}
	if visit && t.p.Direction == Backward {
		r.flags |= fEdge
	}
	t.present.set(out)
	t.nOut++
	if t.p.Model.segmented() {
		off := len(t.segs)
		t.appendSegs(f)
		t.refs[out] = segRef{uint32(off), uint32(len(t.segs) - off)}
	}
	r.stop = t.stopFor(out, r, tx, spender)
	if r.stop == StopFollowed {
		t.follow(tx, spender)
	}
}

func (t *tracer) appendSegs(f Flow) {
	if f.Segs == nil && f.Taint > 0 {
		t.segs = append(t.segs, Seg{0, f.Taint})
		return
	}
	t.segs = append(t.segs, f.Segs...)
}

func (t *tracer) segsOf(out uint64) []Seg {
	if !t.p.Model.segmented() {
		return nil
	}
	r := t.refs[out]
	return t.segs[r.off : r.off+r.n : r.off+r.n]
}

func (t *tracer) merge(out uint64, r *outState, tx, spender uint32, f Flow, hops uint32) {
	old := r.taint
	was := r.stop
	switch {
	case t.p.Model == Poison:
		r.taint = t.g.OutValue(out)
	case t.p.Model.segmented():
		u := unionSegs(t.segsOf(out), prefixSegs(f))
		off := len(t.segs)
		t.segs = append(t.segs, u...)
		t.refs[out] = segRef{uint32(off), uint32(len(u))}
		r.taint = 0
		for _, s := range u {
			r.taint += s.End - s.Start
		}
	default:
		r.taint = min(t.g.OutValue(out), old+f.Taint)
	}
	t.traced -= old + f.Taint - r.taint
	r.hops = min(r.hops, hops)
	r.stop = t.stopFor(out, r, tx, spender)
	if r.stop == StopFollowed && was != StopFollowed {
		t.follow(tx, spender)
	}
}

func prefixSegs(f Flow) []Seg {
	if f.Segs == nil && f.Taint > 0 {
		return []Seg{{0, f.Taint}}
	}
	return f.Segs
}

func unionSegs(a, b []Seg) []Seg {
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y Seg) int { return cmp.Compare(x.Start, y.Start) })
	var u []Seg
	for _, s := range all {
		if k := len(u) - 1; k >= 0 && s.Start <= u[k].End {
			u[k].End = max(u[k].End, s.End)
			continue
		}
		u = append(u, s)
	}
	return u
}

// stopFor decides whether an output's taint goes on, in the order the
// reasons are documented: attribution first (an exchange deposit is an
// arrival even if unspent or dust), then the end of the graph, then dust,
// then the limits.
func (t *tracer) stopFor(out uint64, r *outState, tx, spender uint32) Stop {
	if t.p.StopAtService && t.attr != nil {
		if addr := t.g.OutAddr(out); addr != 0 {
			if e, ok := t.attr.Entity(addr); ok && !t.own[e.Key()] {
				return StopArrival
			}
		}
	}
	next := spender
	if t.p.Direction == Forward {
		if spender == NoTx {
			return StopUnspent
		}
	} else {
		if _, n := t.g.TxInputs(tx); n == 0 {
			return StopMined
		}
		next = tx
	}
	switch {
	case r.taint < t.p.MinSats:
		return StopDust
	case t.maxHops > 0 && r.hops >= uint32(t.maxHops):
		return StopMaxHops
	case t.p.StopAtCoinJoin && r.flags&fViaCJ != 0:
		return StopCoinJoin
	case !t.inWindow(next):
		return StopWindow
	}
	return StopFollowed
}

func (t *tracer) inWindow(tx uint32) bool {
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

// follow schedules the transaction an output's taint goes on to: forward
// its spender, backward its creator tx. The walk visits keys in one
// direction only, so a key behind the one being visited would never be
// visited (and its taint silently lost): on a graph where a spender comes
// before its output that is corruption. (Backward, visitBackward checks
// the creator before it gets here.)
func (t *tracer) follow(tx, spender uint32) {
	if t.p.Direction == Backward {
		t.pending.set(uint64(tx))
		return
	}
	if k := uint64(spender) << 1; k > t.cur && spender < t.numTxs {
		t.pending.set(k)
	} else {
		t.corrupt("an output of tx %d is spent by tx %d, which does not come after it", tx, spender)
	}
}

// next takes the next key to visit off pending.
func (t *tracer) next() (uint64, bool) {
	var k uint64
	var ok bool
	if t.p.Direction == Forward {
		k, ok = t.pending.next(t.cur)
	} else {
		k, ok = t.pending.prev(t.cur)
	}
	if ok {
		t.pending.clear(k)
		t.cur = k
	}
	return k, ok
}

func (t *tracer) run(ctx context.Context) error {
	for {
		k, ok := t.next()
		if !ok {
			return nil
		}
		if t.maxTxs > 0 && t.visited >= t.maxTxs {
			for ok {
				t.truncate(k)
				k, ok = t.next()
			}
			if t.maxTxs != t.p.MaxTxs {
				t.txCapBound = true
				return fmt.Errorf("%w: visited the cap of %d transactions (max_txs=%d)", ErrLimit, t.maxTxs, t.p.MaxTxs)
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
			err = t.visitBackward(uint32(k))
		case k&1 == 1:
			err = t.visitCoinbase(t.g.TxHeight(uint32(k >> 1)))
		default:
			err = t.visitForward(uint32(k >> 1))
		}
		if err != nil {
			return err
		}
		if t.bad != nil || t.g.Err() != nil {
			return t.fail(nil)
		}
	}
}

// truncate marks the taint waiting for key's transaction as stopped at the
// limit.
func (t *tracer) truncate(k uint64) {
	switch {
	case t.p.Direction == Backward:
		first, n := t.g.TxOutputs(uint32(k))
		for o := first; o < first+uint64(n); o++ {
			t.limitRec(o)
		}
	case k&1 == 1:
		h := t.g.TxHeight(uint32(k >> 1))
		if cp := t.cbPend[h]; cp != nil {
			for _, f := range cp.fees {
				t.stoppedExtra += f.Taint
			}
		}
		delete(t.cbPend, h)
	default:
		first, n := t.g.TxInputs(uint32(k >> 1))
		for in := first; in < first+uint64(n); in++ {
			t.limitRec(t.g.InputPrevOut(in))
		}
	}
}

func (t *tracer) limitRec(out uint64) {
	if r := &t.st[out]; r.flags&fPresent != 0 && r.stop == StopFollowed {
		r.stop = StopLimit
	}
}

func (t *tracer) seeTime(tx uint32) {
	h := t.g.TxHeight(tx)
	if h != t.lastH {
		t.lastH, t.lastHTime = h, t.g.BlockTime(h)
	}
	t.firstTime = min(t.firstTime, t.lastHTime)
	t.lastTime = max(t.lastTime, t.lastHTime)
}

func (t *tracer) resetView() {
	v := &t.view
	v.InValues, v.InAddrs = v.InValues[:0], v.InAddrs[:0]
	v.OutValues, v.OutAddrs, v.OutTypes = v.OutValues[:0], v.OutAddrs[:0], v.OutTypes[:0]
}

func (t *tracer) viewOutputs(tx uint32) (first uint64, n uint32) {
	first, n = t.g.TxOutputs(tx)
	for o := first; o < first+uint64(n); o++ {
		t.view.OutValues = append(t.view.OutValues, t.g.OutValue(o))
		t.view.OutAddrs = append(t.view.OutAddrs, t.g.OutAddr(o))
		t.view.OutTypes = append(t.view.OutTypes, t.g.OutType(o))
	}
	return first, n
}

// classify counts the kind of a visited transaction carrying taint t.
func (t *tracer) classify(tx uint32, taint int64) pattern.Kind {
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
		t.peel.set(uint64(tx))
		t.larger.set(first + uint64(largerOf(t.view.OutValues[0], t.view.OutValues[1])))
	}
	return k
}

// largerOf says which output of a peel step is the larger (the first on a
// tie).
func largerOf(v0, v1 int64) uint32 {
	if v1 > v0 {
		return 1
	}
	return 0
}

// checkSpends checks that input in of tx and the output prev it spends
// name each other: the walk goes from an output to its spender and from an
// input to its output, and taint would be counted twice or lost where the
// two disagree.
func (t *tracer) checkSpends(tx uint32, in, prev uint64) {
	if s := t.g.OutSpender(prev); s != tx {
		t.corrupt("input %d of tx %d spends output %d, whose spender is tx %d", in, tx, prev, s)
	}
}

func (t *tracer) visitForward(tx uint32) error {
	t.seeTime(tx)
	t.resetView()
	t.ins, t.prevs = t.ins[:0], t.prevs[:0]
	first, n := t.g.TxInputs(tx)
	hop := uint32(math.MaxUint32)
	var tin int64
	for in := first; in < first+uint64(n); in++ {
		prev := t.g.InputPrevOut(in)
		t.checkSpends(tx, in, prev)
		f := Flow{Value: t.g.OutValue(prev)}
		if r := &t.st[prev]; r.flags&fPresent != 0 && r.stop == StopFollowed {
			f.Taint, f.Segs = r.taint, t.segsOf(prev)
			hop = min(hop, r.hops)
			tin += r.taint
		}
		t.ins = append(t.ins, f)
		t.prevs = append(t.prevs, prev)
		t.view.InValues = append(t.view.InValues, f.Value)
		t.view.InAddrs = append(t.view.InAddrs, t.g.OutAddr(prev))
	}
	if tin == 0 {
		return fmt.Errorf("%w: tx %s is the spender of a tainted output, but none of its inputs spends one", ErrCorrupt, t.txid(tx))
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
			t.add(o, tx, t.g.OutSpender(o), res[j], hop+1, kind.IsCoinJoin(), true)
		}
	}
	t.payFee(tx, res[nOut], hop)
	return nil
}

func (t *tracer) payFee(tx uint32, fee Flow, hop uint32) {
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
		// Heights out of block order would make the search miss tx's block.
		last := t.lastTxOf(h)
		if last < tx || last >= t.g.NumTxs() || t.g.TxHeight(last) != h {
			t.corrupt("tx %d at height %d is not inside the txs of that height (heights out of order)", tx, h)
			return
		}
		cp = &cbPending{hops: hop}
		t.cbPend[h] = cp
		t.pending.set(uint64(last)<<1 | 1)
	}
	fee.Segs = slices.Clone(fee.Segs)
	cp.fees = append(cp.fees, fee)
	cp.payers = append(cp.payers, tx)
	cp.hops = min(cp.hops, hop)
}

// firstTxOf and lastTxOf find a block's transactions by binary search over
// the heights, which never decrease with the transaction number.
func (t *tracer) firstTxOf(h uint32) uint32 {
	return uint32(sort.Search(int(t.g.NumTxs()), func(i int) bool { return t.g.TxHeight(uint32(i)) >= h }))
}

func (t *tracer) lastTxOf(h uint32) uint32 {
	return uint32(sort.Search(int(t.g.NumTxs()), func(i int) bool { return t.g.TxHeight(uint32(i)) > h })) - 1
}

// visitCoinbase splits the tainted fees of block h over its coinbase's
// outputs as if the coinbase spent a clean input worth the rest of its value
// (the subsidy and the untainted fees) followed by the tainted fees in
// transaction order. A coinbase claiming less than the tainted fees destroys
// the difference; that taint is counted as fee.
func (t *tracer) visitCoinbase(h uint32) error {
	cp := t.cbPend[h]
	delete(t.cbPend, h)
	if cp == nil {
		return fmt.Errorf("%w: the coinbase of block %d was scheduled, but no tx of that height paid it fees (heights out of order)", ErrCorrupt, h)
	}
	cb := t.firstTxOf(h)
	if cb >= t.g.NumTxs() {
		return fmt.Errorf("%w: no tx at height %d (heights out of order)", ErrCorrupt, h)
	}
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
		t.fees = append(t.fees, feeEdge{payer: cp.payers[i], cb: cb, sat: f.Taint})
	}
	res, err := t.sp.forward(t.p.Model, t.ins, t.view.OutValues)
	if err != nil {
		return fmt.Errorf("coinbase of block %d: %w", h, err)
	}
	for j := range nOut {
		if res[j].Taint > 0 {
			o := outFirst + uint64(j)
			t.add(o, cb, t.g.OutSpender(o), res[j], cp.hops+1, false, true)
		}
	}
	t.fee += res[nOut].Taint
	return nil
}

func (t *tracer) visitBackward(tx uint32) error {
	t.seeTime(tx)
	t.resetView()
	t.outs, t.prevs = t.outs[:0], t.prevs[:0]
	outFirst, _ := t.viewOutputs(tx)
	hop := uint32(math.MaxUint32)
	var tout int64
	for j, v := range t.view.OutValues {
		f := Flow{Value: v}
		o := outFirst + uint64(j)
		if r := &t.st[o]; r.flags&fPresent != 0 && r.stop == StopFollowed {
			f.Taint, f.Segs = r.taint, t.segsOf(o)
			hop = min(hop, r.hops)
			tout += r.taint
		}
		t.outs = append(t.outs, f)
	}
	first, n := t.g.TxInputs(tx)
	if n == 0 || tout == 0 {
		return fmt.Errorf("%w: tx %s is the creator of a tainted output, but has no inputs or none of its outputs is tainted", ErrCorrupt, t.txid(tx))
	}
	for in := first; in < first+uint64(n); in++ {
		prev := t.g.InputPrevOut(in)
		t.checkSpends(tx, in, prev)
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
		c := t.g.OutTx(prev)
		if c >= tx {
			t.corrupt("an output of tx %d is spent by tx %d, which does not come after it", c, tx)
			continue
		}
		t.add(prev, c, tx, f, hop+1, kind.IsCoinJoin(), true)
	}
	return nil
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
