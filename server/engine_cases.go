package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/kv"
	"github.com/cointrail/cointrail/notes"
	"github.com/cointrail/cointrail/pattern"
	"github.com/cointrail/cointrail/taint"
)

// CaseView is a case with its summary.
type CaseView struct {
	Case
	Summary CaseSummary `json:"summary"`
	// Notes on the case (one view only; lists leave them out).
	Notes []notes.Note `json:"notes,omitempty"`
}

// catchUp traces case def from its seeds to the index tip with
// taint.Trace, so that a new case starts from exactly what `cointrail
// trace` reports, and turns the result into case state.
func (e *engine) catchUp(ctx context.Context, def Case) (*caseState, []arrivalRow, error) {
	tip := e.ix.Tip()
	if tip.Empty {
		return nil, nil, fmt.Errorf("%w: the index is empty; a case needs its seeds indexed", ErrBadInput)
	}
	var seeds []taint.Seed
	w := index.SeedWindow{FromHeight: def.SeedFromHeight, ToHeight: def.SeedToHeight}
	for _, s := range def.Seeds {
		outs, err := e.ix.ResolveSeed(s, w)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range outs {
			seeds = append(seeds, taint.Seed{Out: o.Out, Amount: o.Amount})
		}
	}
	res, err := taint.Trace(ctx, &index.Graph{Index: e.ix}, e.book, seeds, def.params(e.lim.CaseMaxTxs), e.log)
	if errors.Is(err, taint.ErrLimit) {
		return nil, nil, fmt.Errorf("%w: the catch-up trace of case %q visits more than case_max_txs=%d transactions", ErrLimit, def.Name, e.lim.CaseMaxTxs)
	}
	if err != nil {
		return nil, nil, err
	}
	def.AsOfHeight, def.AsOfHash = int64(tip.Height), tip.Hash.String()
	def.Rebuild, def.Error = false, ""
	c := &caseState{def: def, live: map[uint64]*liveOut{}}
	m := def.model()
	var arr []arrivalRow
	var view pattern.TxView
	for _, o := range res.Outputs {
		switch o.Stop {
		case taint.StopUnspent:
			lo := &liveOut{taint: o.TaintSat, hops: uint32(o.Hops), segs: normSegs(m, o.TaintSat, o.Segments)}
			viaCJ := false
			if o.Hops > 0 {
				pattern.ViewOf(e.ix, e.ix.OutTx(o.Out), &view)
				viaCJ = pattern.Detect(view).IsCoinJoin()
			}
			lo.stop = c.stopFor(lo, viaCJ)
			c.live[o.Out] = lo
		case taint.StopArrival:
			arr = append(arr, arrivalRow{o.Out, arrival{taint: o.TaintSat, hops: uint32(o.Hops), height: o.Height, label: o.Label, category: o.Category}})
		}
	}
	if len(c.live) > e.lim.CaseMaxOutputs {
		return nil, nil, fmt.Errorf("%w: case %q would hold %d unspent tainted outputs, more than case_max_outputs=%d", ErrLimit, def.Name, len(c.live), e.lim.CaseMaxOutputs)
	}
	s := res.Summary
	c.sum = CaseSummary{TracedSat: s.TracedSat, UnspentSat: s.UnspentSat, UnspentOutputs: len(c.live), ArrivedSat: s.ArrivedSat(),
		Arrived: slices.Clone(s.Arrived), FeeSat: s.FeeSat, DustSat: s.DustSat, StoppedSat: s.StoppedSat, InCoinJoinSat: s.InCoinJoinSat,
		TxsVisited: s.TxsVisited, CoinJoins: s.CoinJoins, Consolidations: s.Consolidations, FanOuts: s.FanOuts, MaxHop: s.MaxHop, LastHeight: -1}
	if c.sum.Arrived == nil {
		c.sum.Arrived = []taint.Arrival{}
	}
	for _, w := range def.Watch {
		k, err := chain.ParseAddress(e.ix.Net, w)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: watch %q: %w", ErrBadInput, w, err)
		}
		c.watchKeys = append(c.watchKeys, k)
	}
	return c, arr, nil
}

type arrivalRow struct {
	out uint64
	a   arrival
}

// writeCase puts a traced case's whole state into batch b.
func (e *engine) writeCase(b kv.Batch, c *caseState, arr []arrivalRow) {
	c.defEnc, _ = json.Marshal(&c.def)
	c.sumEnc, _ = json.Marshal(&c.sum)
	id := c.def.ID
	b.Set(keyU32(kCase, id), c.defEnc)
	b.Set(keyU32(kSummary, id), c.sumEnc)
	for o, lo := range c.live {
		b.Set(keyU32U64(kLive, id, o), lo.encode())
	}
	for _, r := range arr {
		b.Set(keyU32U64(kArrival, id, r.out), r.a.encode())
	}
}

// clearCase deletes every state row of case id (not its alerts).
func clearCase(b kv.Batch, id uint32) {
	for _, k := range []byte{kLive, kArrival, kMempoolHit} {
		b.DeleteRange(keyU32(k, id), keyU32(k, id+1))
	}
}

// createCase opens a case: it traces the seeds to the tip and stores the
// case with its state. Takes mu.
func (e *engine) createCase(ctx context.Context, spec CaseSpec) (*CaseView, error) {
	if err := spec.Check(e.ix.Net); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	def := spec.toCase(e.nextCase, e.now())
	c, arr, err := e.catchUp(ctx, def)
	if err != nil {
		return nil, err
	}
	b := e.st.NewBatch()
	defer b.Close()
	e.writeCase(b, c, arr)
	e.nextCase++
	b.Set(key1(kCounters), e.counters())
	if !e.follow.ok {
		// The case state is at the tip; so is the (empty) rest.
		b.Set(key1(kFollower), followPos{ok: true, height: uint32(c.def.AsOfHeight), hash: e.ix.Tip().Hash}.encode())
	}
	if err := b.Commit(true); err != nil {
		return nil, errors.Join(err, e.reload())
	}
	if err := e.reload(); err != nil {
		return nil, err
	}
	e.log.Info("case created", "case", c.def.ID, "name", c.def.Name, "model", c.def.Model, "traced_sat", c.sum.TracedSat,
		"unspent_outputs", c.sum.UnspentOutputs, "as_of", c.def.AsOfHeight)
	v := &CaseView{Case: c.def, Summary: c.sum}
	if spec.Note != "" {
		// Checked with the spec, so it is only a write that can fail here;
		// the case stands without its note then, and the error says so.
		n, err := e.notes.Add(notes.CaseSubject(c.def.ID), spec.Note, "", e.now())
		if err != nil {
			return v, fmt.Errorf("case %d created, its note not stored: %w", c.def.ID, err)
		}
		v.Notes = []notes.Note{n}
	}
	return v, nil
}

// rebuildCases traces again the cases a reorg invalidated. A case whose
// seeds are gone from the chain is stopped with an error. Caller holds mu.
func (e *engine) rebuildCases(ctx context.Context) error {
	changed := false
	for _, old := range e.caseList() {
		if !old.def.Rebuild || old.def.Error != "" {
			continue
		}
		b := e.st.NewBatch()
		clearCase(b, old.def.ID)
		c, arr, err := e.catchUp(ctx, old.def)
		if ctx.Err() != nil {
			b.Close()
			return ctx.Err()
		}
		if err != nil {
			old.def.Rebuild, old.def.Error = false, fmt.Sprintf("rebuild after a reorg failed: %v", err)
			v, _ := json.Marshal(&old.def)
			b.Set(keyU32(kCase, old.def.ID), v)
			e.log.Warn("case stopped", "case", old.def.ID, "reason", old.def.Error)
		} else {
			c.sum.LastHeight = old.sum.LastHeight
			e.writeCase(b, c, arr)
			e.log.Info("case traced again after a reorg", "case", c.def.ID, "as_of", c.def.AsOfHeight)
		}
		err = b.Commit(true)
		b.Close()
		if err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return e.reload()
	}
	return nil
}

// deleteCase removes a case and its state; its alerts stay. Takes mu.
func (e *engine) deleteCase(id uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.cases[id]; !ok {
		return fmt.Errorf("%w: no case %d", ErrNotFound, id)
	}
	b := e.st.NewBatch()
	defer b.Close()
	clearCase(b, id)
	b.Delete(keyU32(kCase, id))
	b.Delete(keyU32(kSummary, id))
	if err := b.Commit(true); err != nil {
		return errors.Join(err, e.reload())
	}
	e.log.Info("case deleted", "case", id)
	return e.reload()
}

// CasePatch changes what can change without tracing again: the name and
// the watched addresses.
type CasePatch struct {
	Name  *string   `json:"name,omitempty"`
	Watch *[]string `json:"watch,omitempty"`
}

// updateCase applies a patch. Takes mu.
func (e *engine) updateCase(id uint32, p CasePatch) (*CaseView, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cases[id]
	if !ok {
		return nil, fmt.Errorf("%w: no case %d", ErrNotFound, id)
	}
	spec := CaseSpec{Name: c.def.Name, Seeds: slices.Clone(c.def.Seeds), Model: c.def.Model, Watch: slices.Clone(c.def.Watch)}
	if p.Name != nil {
		spec.Name = *p.Name
	}
	if p.Watch != nil {
		spec.Watch = slices.Clone(*p.Watch)
	}
	if err := spec.Check(e.ix.Net); err != nil {
		return nil, err
	}
	def := c.def
	def.Name, def.Watch = spec.Name, append([]string{}, spec.Watch...)
	v, _ := json.Marshal(&def)
	b := e.st.NewBatch()
	defer b.Close()
	b.Set(keyU32(kCase, id), v)
	if err := b.Commit(true); err != nil {
		return nil, err
	}
	if err := e.reload(); err != nil {
		return nil, err
	}
	c = e.cases[id]
	ns, err := e.notes.For(notes.CaseSubject(id))
	if err != nil {
		return nil, err
	}
	return &CaseView{Case: c.def, Summary: c.sum, Notes: ns}, nil
}

// caseViews lists every case. Takes mu for reading.
func (e *engine) caseViews() []CaseView {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := []CaseView{}
	for _, c := range e.caseList() {
		out = append(out, CaseView{Case: c.def, Summary: c.sum})
	}
	return out
}

// caseView returns one case. Takes mu for reading.
func (e *engine) caseView(id uint32) (*CaseView, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, ok := e.cases[id]
	if !ok {
		return nil, fmt.Errorf("%w: no case %d", ErrNotFound, id)
	}
	ns, err := e.notes.For(notes.CaseSubject(id))
	if err != nil {
		return nil, err
	}
	return &CaseView{Case: c.def, Summary: c.sum, Notes: ns}, nil
}

// FundsView says where a case's taint is now: its unspent tainted outputs
// (paged, in chain order) and the service arrivals.
type FundsView struct {
	CaseID         uint32        `json:"case_id"`
	Height         int64         `json:"height"` // the block the state reflects
	UnspentSat     int64         `json:"unspent_sat"`
	UnspentOutputs int           `json:"unspent_outputs"`
	Offset         int           `json:"offset"`
	Limit          int           `json:"limit"`
	Unspent        []FundOutput  `json:"unspent"`
	ArrivedSat     int64         `json:"arrived_sat"`
	Arrivals       []FundArrival `json:"arrivals"`
}

// FundOutput is an unspent output holding taint. Status "tracked" means
// its taint moves on when it is spent; "dust", "max_hops" and "coinjoin"
// say why it will not.
type FundOutput struct {
	TxID     string      `json:"txid"`
	Vout     uint32      `json:"vout"`
	Address  string      `json:"address"`
	ValueSat int64       `json:"value_sat"`
	TaintSat int64       `json:"taint_sat"`
	Segments []taint.Seg `json:"segments,omitempty"`
	Hops     int         `json:"hops"`
	Height   uint32      `json:"height"`
	Status   string      `json:"status"`
	Watched  bool        `json:"watched,omitempty"`
}

// FundArrival is taint that reached a labelled service.
type FundArrival struct {
	TxID     string `json:"txid"`
	Vout     uint32 `json:"vout"`
	Address  string `json:"address"`
	TaintSat int64  `json:"taint_sat"`
	Hops     int    `json:"hops"`
	Height   uint32 `json:"height"`
	Label    string `json:"label"`
	Category string `json:"category"`
}

// funds builds a case's FundsView. Takes mu for reading.
func (e *engine) funds(id uint32, offset, limit int) (*FundsView, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c, ok := e.cases[id]
	if !ok {
		return nil, fmt.Errorf("%w: no case %d", ErrNotFound, id)
	}
	ix := e.ix
	outs := make([]uint64, 0, len(c.live))
	for o := range c.live {
		outs = append(outs, o)
	}
	slices.Sort(outs)
	v := &FundsView{CaseID: id, Height: -1, UnspentSat: c.sum.UnspentSat, UnspentOutputs: len(outs), Offset: offset, Limit: limit,
		Unspent: []FundOutput{}, ArrivedSat: c.sum.ArrivedSat, Arrivals: []FundArrival{}}
	if e.follow.ok {
		v.Height = int64(e.follow.height)
	}
	outpoint := func(o uint64) (string, uint32) {
		tx := ix.OutTx(o)
		first, _ := ix.TxOutputs(tx)
		return index.TxIDString(ix.TxHash(tx)), uint32(o - first)
	}
	for i := offset; i < len(outs) && len(v.Unspent) < limit; i++ {
		o := outs[i]
		lo := c.live[o]
		txid, vout := outpoint(o)
		addr := ix.OutAddr(o)
		st := "tracked"
		if lo.stop != taint.StopFollowed {
			st = lo.stop.String()
		}
		v.Unspent = append(v.Unspent, FundOutput{TxID: txid, Vout: vout, Address: ix.AddrString(addr), ValueSat: ix.OutValue(o), TaintSat: lo.taint,
			Segments: lo.segs, Hops: int(lo.hops), Height: ix.TxHeight(ix.OutTx(o)), Status: st, Watched: slices.Contains(e.book.watchers(addr), id)})
	}
	err := scanPrefix(e.st, keyU32(kArrival, id), func(k, val []byte) error {
		if len(k) != 14 {
			return fmt.Errorf("%w: arrival key %x", ErrCorrupt, k)
		}
		a, err := decodeArrival(val)
		if err != nil {
			return err
		}
		o := binary.BigEndian.Uint64(k[6:])
		txid, vout := outpoint(o)
		v.Arrivals = append(v.Arrivals, FundArrival{TxID: txid, Vout: vout, Address: ix.AddrString(ix.OutAddr(o)), TaintSat: a.taint,
			Hops: int(a.hops), Height: a.height, Label: a.label, Category: a.category})
		return nil
	})
	return v, err
}
