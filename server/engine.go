package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/kv"
	"github.com/cointrail/cointrail/notes"
	"github.com/cointrail/cointrail/pattern"
	"github.com/cointrail/cointrail/taint"
)

// followPos is the block the case state reflects (the `Sf` row).
type followPos struct {
	ok     bool
	height uint32
	hash   chainhash.Hash
}

func (f followPos) encode() []byte {
	b := binary.BigEndian.AppendUint32(nil, f.height)
	return append(b, f.hash[:]...)
}

// caseState is a case in memory: its definition, its summary and its
// unspent tainted outputs.
type caseState struct {
	def       Case
	defEnc    []byte
	sum       CaseSummary
	sumEnc    []byte
	live      map[uint64]*liveOut
	watchKeys []chain.AddrKey
}

// engine keeps the cases in step with the index. Its mutex is the server's
// chain lock: everything that changes the index (connect, rollback) or the
// case state holds it for writing, and everything that walks the graph
// holds it for reading, so graph readers never meet a half-connected block
// and the index's own lock is never taken recursively behind a writer.
type engine struct {
	mu         sync.RWMutex
	ix         *index.Index
	st         kv.Store
	notes      *notes.Book // case notes written at creation and the notes API share its id counter
	log        *slog.Logger
	lim        Limits
	reorgLimit int
	webhooks   [][8]byte
	now        func() time.Time
	// onAlerts is called with the alerts of every commit, under mu; it
	// must not block.
	onAlerts func([]*Alert)

	clusters liveClusters // the clustering kept at the tip (clusters.go)

	cases    map[uint32]*caseState
	live     map[uint64][]uint32 // output → cases holding taint on it
	book     *book
	follow   followPos
	nextCase uint32
	nextSeq  uint64

	// scratch for block processing
	hits []uint32
	ins  []taint.Flow
	view pattern.TxView
}

func newEngine(ix *index.Index, lim Limits, reorgLimit int, webhooks []Webhook, log *slog.Logger) (*engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkStateVersion(ix.Store); err != nil {
		return nil, err
	}
	e := &engine{ix: ix, st: ix.Store, notes: notes.NewBook(ix.Store), log: log, lim: lim, reorgLimit: reorgLimit, now: time.Now, onAlerts: func([]*Alert) {}}
	for _, w := range webhooks {
		e.webhooks = append(e.webhooks, webhookID(w.URL))
	}
	if err := e.reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// reload reads the whole case state from the store. It runs at start and
// after anything that changed the state in a way cheaper to reread than to
// patch (a reorg, a failed commit).
func (e *engine) reload() error {
	e.cases = map[uint32]*caseState{}
	e.live = map[uint64][]uint32{}
	e.follow = followPos{}
	e.nextCase, e.nextSeq = 1, 1
	if v, ok, err := getOpt(e.st, key1(kCounters)); err != nil {
		return err
	} else if ok {
		if len(v) != 12 {
			return fmt.Errorf("%w: counters row", ErrCorrupt)
		}
		e.nextCase, e.nextSeq = binary.BigEndian.Uint32(v), binary.BigEndian.Uint64(v[4:])
	}
	if v, ok, err := getOpt(e.st, key1(kFollower)); err != nil {
		return err
	} else if ok {
		if len(v) != 36 {
			return fmt.Errorf("%w: follower row", ErrCorrupt)
		}
		e.follow = followPos{ok: true, height: binary.BigEndian.Uint32(v)}
		copy(e.follow.hash[:], v[4:])
	}
	err := scanPrefix(e.st, key1(kCase), func(k, v []byte) error {
		c := &caseState{live: map[uint64]*liveOut{}, defEnc: slices.Clone(v)}
		if len(k) != 6 || json.Unmarshal(v, &c.def) != nil || c.def.ID != binary.BigEndian.Uint32(k[2:]) {
			return fmt.Errorf("%w: case row %x", ErrCorrupt, k)
		}
		for _, w := range c.def.Watch {
			ak, err := chain.ParseAddress(e.ix.Net, w)
			if err != nil {
				return fmt.Errorf("%w: case %d watches %q: %v", ErrCorrupt, c.def.ID, w, err)
			}
			c.watchKeys = append(c.watchKeys, ak)
		}
		sv, ok, err := getOpt(e.st, keyU32(kSummary, c.def.ID))
		if err != nil {
			return err
		}
		if !ok || json.Unmarshal(sv, &c.sum) != nil {
			return fmt.Errorf("%w: case %d has no readable summary", ErrCorrupt, c.def.ID)
		}
		c.sumEnc = sv
		e.cases[c.def.ID] = c
		return nil
	})
	if err != nil {
		return err
	}
	err = scanPrefix(e.st, key1(kLive), func(k, v []byte) error {
		if len(k) != 14 {
			return fmt.Errorf("%w: tainted output key %x", ErrCorrupt, k)
		}
		id, out := binary.BigEndian.Uint32(k[2:]), binary.BigEndian.Uint64(k[6:])
		c, ok := e.cases[id]
		if !ok {
			return fmt.Errorf("%w: tainted output of unknown case %d", ErrCorrupt, id)
		}
		lo, err := decodeLiveOut(v)
		if err != nil {
			return err
		}
		c.live[out] = lo
		e.live[out] = append(e.live[out], id)
		return nil
	})
	if err != nil {
		return err
	}
	e.book, err = buildBook(e.ix, e.caseList())
	return err
}

// caseList is the cases in id order.
func (e *engine) caseList() []*caseState {
	out := make([]*caseState, 0, len(e.cases))
	for _, c := range e.cases {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *caseState) int { return int(a.def.ID) - int(b.def.ID) })
	return out
}

// active reports whether block h moves case c's state: cases traced up to
// h already, waiting for a rebuild or stopped by an error are skipped.
func (c *caseState) active(h uint32) bool {
	return !c.def.Rebuild && c.def.Error == "" && c.def.AsOfHeight < int64(h)
}

// txn is one commit of the engine: the batch, the undo entries of the
// block (the old value of every key it changes) and its new alerts.
type txn struct {
	b      kv.Batch
	undo   []undoEntry
	seen   map[string]bool
	alerts []*Alert
	dirty  map[uint32]bool // cases whose summary changed
}

type undoEntry struct {
	key, old []byte
	had      bool
}

func (e *engine) newTxn() *txn {
	return &txn{b: e.st.NewBatch(), seen: map[string]bool{}, dirty: map[uint32]bool{}}
}

func (t *txn) capture(key, old []byte, had bool) {
	if t.seen[string(key)] {
		return
	}
	t.seen[string(key)] = true
	t.undo = append(t.undo, undoEntry{key: slices.Clone(key), old: slices.Clone(old), had: had})
}

func (t *txn) put(key, val, old []byte, had bool) {
	t.capture(key, old, had)
	t.b.Set(key, val)
}

func (t *txn) del(key, old []byte) {
	t.capture(key, old, true)
	t.b.Delete(key)
}

// addAlert numbers an alert, stores it and queues it for every webhook.
func (e *engine) addAlert(t *txn, a *Alert) { e.addAlertNet(t, a, e.ix.Net.Name) }

func (e *engine) addAlertNet(t *txn, a *Alert, network string) {
	a.ID = e.nextSeq
	e.nextSeq++
	a.Network = network
	a.IdempotencyKey = idempotencyKey(a)
	if a.Message == "" {
		a.Message = a.message()
	}
	a.CreatedAt = e.now().UTC().Truncate(time.Millisecond)
	t.b.Set(keyU64(kAlert, a.ID), encodeAlert(a))
	if a.CaseID != 0 {
		t.b.Set(keyU32U64(kCaseAlert, a.CaseID, a.ID), nil)
	}
	for _, w := range e.webhooks {
		t.b.Set(keyQueue(kQueue, w, a.ID), encodeDelivery(delivery{}))
	}
	t.alerts = append(t.alerts, a)
}

func (e *engine) counters() []byte {
	b := binary.BigEndian.AppendUint32(nil, e.nextCase)
	return binary.BigEndian.AppendUint64(b, e.nextSeq)
}

// commit writes the counters, commits durably and hands the alerts on. On
// failure the in-memory state, already changed, is reread from the store.
func (e *engine) commit(t *txn) error {
	t.b.Set(key1(kCounters), e.counters())
	if err := t.b.Commit(true); err != nil {
		if rerr := e.reload(); rerr != nil {
			return fmt.Errorf("%w (and reloading the case state failed: %v)", err, rerr)
		}
		return err
	}
	if len(t.alerts) > 0 {
		e.onAlerts(t.alerts)
	}
	return nil
}

func (e *engine) putSummaries(t *txn) {
	for id := range t.dirty {
		c := e.cases[id]
		c.sum.UnspentOutputs = len(c.live)
		v, _ := json.Marshal(&c.sum)
		t.put(keyU32(kSummary, id), v, c.sumEnc, true)
		c.sumEnc = v
	}
}

func (e *engine) putDef(t *txn, c *caseState) {
	v, _ := json.Marshal(&c.def)
	t.put(keyU32(kCase, c.def.ID), v, c.defEnc, c.defEnc != nil)
	c.defEnc = v
}

// processBlock moves every active case through the block at height h,
// which must be the block after the follower's, and commits the changes,
// the alerts, the undo record and the new follower position in one batch.
// The caller holds mu for writing.
func (e *engine) processBlock(h uint32) error {
	bi, err := e.ix.BlockAt(h)
	if err != nil {
		return err
	}
	if e.follow.ok && (h != e.follow.height+1 || bi.Prev != e.follow.hash) || !e.follow.ok && h != 0 {
		return fmt.Errorf("%w: block %d (%s) does not follow the case state at %d %s", ErrInternal, h, bi.Hash, e.follow.height, e.follow.hash)
	}
	if err := e.book.advance(e.ix); err != nil {
		return err
	}
	t := e.newTxn()
	defer t.b.Close()
	var blockAlerts []uint64
	for tx := bi.FirstTx; tx < bi.FirstTx+bi.NumTx; tx++ {
		e.hits = e.hits[:0]
		first, n := e.ix.TxInputs(tx)
		for in := first; in < first+uint64(n); in++ {
			if cs, ok := e.live[e.ix.InputPrevOut(in)]; ok {
				e.hits = append(e.hits, cs...)
			}
		}
		nHit := len(e.hits)
		ofirst, on := e.ix.TxOutputs(tx)
		for o := ofirst; o < ofirst+uint64(on); o++ {
			if ws := e.book.watchers(e.ix.OutAddr(o)); ws != nil {
				e.hits = append(e.hits, ws...)
			}
		}
		if len(e.hits) == 0 {
			continue
		}
		spenders := slices.Clone(e.hits[:nHit])
		slices.Sort(e.hits)
		for i, id := range e.hits {
			if i > 0 && e.hits[i-1] == id {
				continue
			}
			c := e.cases[id]
			if c == nil || !c.active(h) {
				continue
			}
			var a *Alert
			if slices.Contains(spenders, id) {
				if a, err = e.visit(t, c, tx, h, bi.Hash); err != nil {
					return err
				}
			}
			if a == nil {
				a = e.watchOnly(c, tx, h, bi.Hash)
			}
			if a != nil {
				e.addAlert(t, a)
				blockAlerts = append(blockAlerts, a.ID)
				t.b.Delete(keyMempool(id, e.ix.TxHash(tx))) // the unconfirmed alert is settled
			}
		}
	}
	for _, c := range e.cases {
		if c.def.Error == "" && len(c.live) > e.lim.CaseMaxOutputs {
			c.def.Error = fmt.Sprintf("following stopped at block %d: the case holds %d unspent tainted outputs, more than case_max_outputs=%d", h, len(c.live), e.lim.CaseMaxOutputs)
			e.log.Warn("case stopped", "case", c.def.ID, "reason", c.def.Error)
			e.putDef(t, c)
		}
	}
	e.putSummaries(t)
	next := followPos{ok: true, height: h, hash: bi.Hash}
	u := undoRecord{hash: bi.Hash, prev: e.follow, entries: t.undo, alerts: blockAlerts}
	t.b.Set(keyU32(kUndo, h), u.encode())
	if h >= uint32(e.reorgLimit) {
		t.b.Delete(keyU32(kUndo, h-uint32(e.reorgLimit)))
	}
	t.b.Set(key1(kFollower), next.encode())
	failpoint.Hit("serve-cases")
	if err := e.commit(t); err != nil {
		return err
	}
	e.follow = next
	if len(blockAlerts) > 0 {
		failpoint.Hit("serve-alerts")
	}
	return nil
}

// visit applies case c's model to tx, which spends at least one of c's
// tainted outputs, and returns the alert it raises (nil when only dust or
// stopped taint was spent).
func (e *engine) visit(t *txn, c *caseState, tx, h uint32, bhash chainhash.Hash) (*Alert, error) {
	ix := e.ix
	e.ins = e.ins[:0]
	hop := uint32(math.MaxUint32)
	var tin int64
	first, n := ix.TxInputs(tx)
	for in := first; in < first+uint64(n); in++ {
		prev := ix.InputPrevOut(in)
		f := taint.Flow{Value: ix.OutValue(prev)}
		if lo, ok := c.live[prev]; ok {
			e.dropLive(t, c, prev, lo)
			switch lo.stop {
			case taint.StopFollowed:
				f.Taint, f.Segs = lo.taint, lo.segs
				hop = min(hop, lo.hops)
				tin += lo.taint
			case taint.StopDust:
				c.sum.DustSat += lo.taint
			default:
				c.sum.StoppedSat += lo.taint
			}
		}
		e.ins = append(e.ins, f)
	}
	t.dirty[c.def.ID] = true
	if tin == 0 {
		return nil, nil
	}
	pattern.ViewOf(ix, tx, &e.view)
	kind := pattern.Detect(e.view)
	switch {
	case kind.IsCoinJoin():
		c.sum.CoinJoins++
		c.sum.InCoinJoinSat += tin
	case kind&pattern.Consolidation != 0:
		c.sum.Consolidations++
	case kind&pattern.FanOut != 0:
		c.sum.FanOuts++
	}
	c.sum.TxsVisited++
	c.sum.LastHeight = int64(h)
	res, err := taint.Split(c.def.model(), e.ins, e.view.OutValues)
	if err != nil {
		return nil, fmt.Errorf("case %d tx %s: %w", c.def.ID, index.TxIDString(ix.TxHash(tx)), err)
	}
	outFirst, nOut := ix.TxOutputs(tx)
	c.sum.FeeSat += res[nOut].Taint
	hh := h
	a := &Alert{Kind: KindTaintMoved, Confirmed: true, CaseID: c.def.ID, CaseName: c.def.Name, Model: c.def.Model,
		TxID: index.TxIDString(ix.TxHash(tx)), BlockHeight: &hh, BlockHash: bhash.String(), AmountSat: tin, FeeTaintSat: res[nOut].Taint}
	best := int64(0)
	watched := false
	for j := range nOut {
		o := outFirst + uint64(j)
		addr := ix.OutAddr(o)
		w := slices.Contains(e.book.watchers(addr), c.def.ID)
		if res[j].Taint > 0 {
			e.addTainted(t, c, o, res[j], hop+1, kind.IsCoinJoin(), h)
		}
		if res[j].Taint == 0 && !w {
			continue
		}
		d := Destination{Vout: j, Address: ix.AddrString(addr), ValueSat: e.view.OutValues[j], TaintSat: res[j].Taint, Watched: w}
		// A service is named whether or not the case stops there: the
		// exchange that can freeze the coins is the point of the alert.
		if ent, ok := e.book.Entity(addr); ok {
			d.Label, d.Category = ent.Label, ent.Category
			if d.TaintSat > best {
				best, a.Label, a.Category = d.TaintSat, ent.Label, ent.Category
			}
		}
		if w {
			watched = true
			a.ReceivedSat += d.ValueSat
		}
		a.Destinations = append(a.Destinations, d)
	}
	switch {
	case best > 0:
		a.Kind = KindServiceArrival
	case watched:
		a.Kind = KindWatchHit
	}
	return a, nil
}

// watchOnly is the alert for a transaction paying one of c's watched
// addresses without moving its taint.
func (e *engine) watchOnly(c *caseState, tx, h uint32, bhash chainhash.Hash) *Alert {
	ix := e.ix
	hh := h
	a := &Alert{Kind: KindWatchHit, Confirmed: true, CaseID: c.def.ID, CaseName: c.def.Name, Model: c.def.Model,
		TxID: index.TxIDString(ix.TxHash(tx)), BlockHeight: &hh, BlockHash: bhash.String()}
	first, n := ix.TxOutputs(tx)
	for j := range n {
		o := first + uint64(j)
		addr := ix.OutAddr(o)
		if !slices.Contains(e.book.watchers(addr), c.def.ID) {
			continue
		}
		d := Destination{Vout: j, Address: ix.AddrString(addr), ValueSat: ix.OutValue(o), Watched: true}
		if ent, ok := e.book.Entity(addr); ok {
			d.Label, d.Category = ent.Label, ent.Category
		}
		a.ReceivedSat += d.ValueSat
		a.Destinations = append(a.Destinations, d)
	}
	if len(a.Destinations) == 0 {
		return nil
	}
	return a
}

// dropLive removes a spent output from c's state.
func (e *engine) dropLive(t *txn, c *caseState, o uint64, lo *liveOut) {
	t.del(keyU32U64(kLive, c.def.ID, o), lo.encode())
	delete(c.live, o)
	c.sum.UnspentSat -= lo.taint
	cs := e.live[o]
	if i := slices.Index(cs, c.def.ID); i >= 0 {
		cs = slices.Delete(cs, i, i+1)
	}
	if len(cs) == 0 {
		delete(e.live, o)
	} else {
		e.live[o] = cs
	}
}

// addTainted records taint f on new output o: an arrival if o pays a
// service (and the case stops there), else an unspent tainted output.
func (e *engine) addTainted(t *txn, c *caseState, o uint64, f taint.Flow, hops uint32, viaCJ bool, h uint32) {
	c.sum.MaxHop = max(c.sum.MaxHop, int(hops))
	addr := e.ix.OutAddr(o)
	if c.def.StopAtService {
		if ent, ok := e.book.Entity(addr); ok {
			a := arrival{taint: f.Taint, hops: hops, height: h, label: ent.Label, category: ent.Category}
			t.put(keyU32U64(kArrival, c.def.ID, o), a.encode(), nil, false)
			c.sum.addArrival(ent.Label, ent.Category, f.Taint, h)
			return
		}
	}
	lo := &liveOut{taint: f.Taint, hops: hops, segs: normSegs(c.def.model(), f.Taint, f.Segs)}
	lo.stop = c.stopFor(lo, viaCJ)
	e.putLive(t, c, o, lo)
}

func (e *engine) putLive(t *txn, c *caseState, o uint64, lo *liveOut) {
	t.put(keyU32U64(kLive, c.def.ID, o), lo.encode(), nil, false)
	c.live[o] = lo
	e.live[o] = append(e.live[o], c.def.ID)
	c.sum.UnspentSat += lo.taint
}

// stopFor is taint.Trace's rule for a tainted output once it is spent:
// dust, then max_hops, then a CoinJoin stop.
func (c *caseState) stopFor(lo *liveOut, viaCJ bool) taint.Stop {
	switch {
	case lo.taint < c.def.MinSats:
		return taint.StopDust
	case c.def.MaxHops > 0 && lo.hops >= uint32(c.def.MaxHops):
		return taint.StopMaxHops
	case c.def.StopAtCoinJoin && viaCJ:
		return taint.StopCoinJoin
	}
	return taint.StopFollowed
}

// normSegs makes FIFO/LIFO segments explicit (a flow without segments is
// tainted on its first Taint satoshis) and drops them for other models.
func normSegs(m taint.Model, t int64, segs []taint.Seg) []taint.Seg {
	if m != taint.FIFO && m != taint.LIFO || t == 0 {
		return nil
	}
	if len(segs) == 0 {
		return []taint.Seg{{Start: 0, End: t}}
	}
	return slices.Clone(segs)
}

// undoRecord is what undoing one block needs, self-contained so that it
// works after the index has already dropped the block.
type undoRecord struct {
	hash    chainhash.Hash
	prev    followPos
	entries []undoEntry
	alerts  []uint64
}

func (u *undoRecord) encode() []byte {
	b := append([]byte(nil), u.hash[:]...)
	if u.prev.ok {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = append(b, u.prev.encode()...)
	b = binary.AppendUvarint(b, uint64(len(u.entries)))
	for _, en := range u.entries {
		b = binary.AppendUvarint(b, uint64(len(en.key)))
		b = append(b, en.key...)
		if en.had {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(en.old)))
			b = append(b, en.old...)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(u.alerts)))
	for _, s := range u.alerts {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	return b
}

func decodeUndo(v []byte) (*undoRecord, error) {
	r := byteReader{b: v}
	var u undoRecord
	copy(u.hash[:], r.bytes(32))
	u.prev.ok = r.byte() == 1
	p := r.bytes(36)
	if p != nil {
		u.prev.height = binary.BigEndian.Uint32(p)
		copy(u.prev.hash[:], p[4:])
	}
	n := r.uvarint()
	if n > uint64(len(v)) {
		return nil, fmt.Errorf("%w: undo record: %d entries in %d bytes", ErrCorrupt, n, len(v))
	}
	for range n {
		en := undoEntry{key: slices.Clone(r.bytes(r.uvarint()))}
		if en.had = r.byte() == 1; en.had {
			en.old = slices.Clone(r.bytes(r.uvarint()))
		}
		u.entries = append(u.entries, en)
	}
	k := r.uvarint()
	if k > uint64(len(v)) {
		return nil, fmt.Errorf("%w: undo record: %d alerts in %d bytes", ErrCorrupt, k, len(v))
	}
	for range k {
		u.alerts = append(u.alerts, r.u64())
	}
	if r.bad || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: undo record does not decode", ErrCorrupt)
	}
	return &u, nil
}

// errNoUndo: the undo record of a block is gone (the block is deeper than
// the reorg limit).
var errNoUndo = errors.New("no undo record")

// undoBlock reverts the follower's block: restores every key it changed,
// withdraws its alerts and steps the follower back. Cases whose catch-up
// trace had seen the block are marked for a rebuild.
func (e *engine) undoBlock() error {
	h := e.follow.height
	v, ok, err := getOpt(e.st, keyU32(kUndo, h))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w at height %d", errNoUndo, h)
	}
	u, err := decodeUndo(v)
	if err != nil {
		return err
	}
	if u.hash != e.follow.hash {
		return fmt.Errorf("%w: undo record at height %d is for block %s, the case state is at %s", ErrCorrupt, h, u.hash, e.follow.hash)
	}
	t := e.newTxn()
	defer t.b.Close()
	for i := len(u.entries) - 1; i >= 0; i-- {
		en := u.entries[i]
		if len(en.key) >= 6 {
			if _, ok := e.cases[binary.BigEndian.Uint32(en.key[2:])]; !ok {
				continue // the case was deleted since
			}
		}
		if en.had {
			t.b.Set(en.key, en.old)
		} else {
			t.b.Delete(en.key)
		}
	}
	for _, seq := range u.alerts {
		av, err := loadAlert(e.st, seq)
		if err != nil {
			return err
		}
		o := av.Alert
		e.addAlert(t, &Alert{Kind: KindRetraction, Confirmed: true, CaseID: o.CaseID, CaseName: o.CaseName, Model: o.Model,
			TxID: o.TxID, BlockHeight: o.BlockHeight, BlockHash: o.BlockHash, AmountSat: o.AmountSat, ReceivedSat: o.ReceivedSat, Retracts: seq})
	}
	for _, c := range e.caseList() {
		if c.def.AsOfHeight >= int64(h) && !c.def.Rebuild {
			c.def.Rebuild = true
			v, _ := json.Marshal(&c.def)
			t.b.Set(keyU32(kCase, c.def.ID), v)
		}
	}
	if u.prev.ok {
		t.b.Set(key1(kFollower), u.prev.encode())
	} else {
		t.b.Delete(key1(kFollower))
	}
	t.b.Delete(keyU32(kUndo, h))
	if err := e.commit(t); err != nil {
		return err
	}
	e.log.Info("case state: undid block", "height", h, "hash", u.hash, "retractions", len(u.alerts))
	return e.reload()
}

// indexHolds reports whether the index's best chain contains block f.
func (e *engine) indexHolds(f followPos) (bool, error) {
	tip := e.ix.Tip()
	if tip.Empty || f.height > tip.Height {
		return false, nil
	}
	b, err := e.ix.BlockAt(f.height)
	if err != nil {
		return false, err
	}
	return b.Hash == f.hash, nil
}

// reconcile brings the case state to the index tip: it undoes blocks the
// index no longer holds (a reorg, a crash in the middle of one, a manual
// rollback), replays the blocks the index holds beyond it (a crash between
// the index commit and the case commit, or blocks ingested while the
// server was stopped) and rebuilds cases a reorg invalidated. The caller
// holds mu for writing.
func (e *engine) reconcile(ctx context.Context) error {
	for e.follow.ok {
		holds, err := e.indexHolds(e.follow)
		if err != nil {
			return err
		}
		if holds {
			break
		}
		if err := e.undoBlock(); errors.Is(err, errNoUndo) {
			// Deeper than the undo records reach: trace every case again.
			e.log.Warn("case state is on blocks the index no longer holds, beyond the undo records; tracing every case again", "height", e.follow.height)
			if err := e.resetFollower(); err != nil {
				return err
			}
			break
		} else if err != nil {
			return err
		}
	}
	tip := e.ix.Tip()
	if !e.follow.ok && !tip.Empty {
		// A fresh server on an index built before: nothing to replay (a
		// case created meanwhile set the follower in the same batch).
		if err := e.setFollower(followPos{ok: true, height: tip.Height, hash: tip.Hash}); err != nil {
			return err
		}
	}
	if !tip.Empty {
		from := uint32(0)
		if e.follow.ok {
			from = e.follow.height + 1
		}
		for h := from; h <= tip.Height; h++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := e.processBlock(h); err != nil {
				return err
			}
		}
	}
	return e.rebuildCases(ctx)
}

func (e *engine) setFollower(f followPos) error {
	b := e.st.NewBatch()
	defer b.Close()
	b.Set(key1(kFollower), f.encode())
	if err := b.Commit(true); err != nil {
		return err
	}
	e.follow = f
	return nil
}

// resetFollower puts the follower at the index tip and marks every case for
// a rebuild (its state can no longer be undone block by block).
func (e *engine) resetFollower() error {
	b := e.st.NewBatch()
	defer b.Close()
	for _, c := range e.caseList() {
		c.def.Rebuild = true
		v, _ := json.Marshal(&c.def)
		b.Set(keyU32(kCase, c.def.ID), v)
	}
	b.DeleteRange(key1(kUndo), kv.PrefixEnd(key1(kUndo)))
	tip := e.ix.Tip()
	if tip.Empty {
		b.Delete(key1(kFollower))
	} else {
		b.Set(key1(kFollower), followPos{ok: true, height: tip.Height, hash: tip.Hash}.encode())
	}
	if err := b.Commit(true); err != nil {
		return err
	}
	return e.reload()
}
