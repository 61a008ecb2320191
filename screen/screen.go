package screen

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// Options configure screening.
type Options struct {
	// Hops is how many transactions back indirect exposure looks: 1 counts
	// only the direct payers. 0 means DefaultHops.
	Hops int
	// Policy turns exposure into risk; nil means DefaultPolicy().
	Policy *Policy
	// MaxReceipts bounds the outputs an address received that are
	// screened, newest first (0: DefaultMaxReceipts).
	MaxReceipts int
	// MaxTxs bounds the transactions one backward trace visits; a trace
	// that reaches it is reported truncated (0: DefaultMaxTxs).
	MaxTxs int
	// MaxSources bounds the sources listed in a report, largest first
	// (0: DefaultMaxSources); totals always count them all.
	MaxSources int
}

// Defaults and limits of Options.
const (
	DefaultHops        = 3
	MaxHops            = 10
	DefaultMaxReceipts = 1000
	DefaultMaxTxs      = 20_000
	DefaultMaxSources  = 100
)

func (o Options) normalized() (Options, error) {
	if o.Hops == 0 {
		o.Hops = DefaultHops
	}
	if o.Hops < 1 || o.Hops > MaxHops {
		return o, fmt.Errorf("%w: hops %d (want 1..%d)", ErrBadInput, o.Hops, MaxHops)
	}
	if o.Policy == nil {
		o.Policy = DefaultPolicy()
	}
	if err := o.Policy.Validate(); err != nil {
		return o, err
	}
	if o.MaxReceipts == 0 {
		o.MaxReceipts = DefaultMaxReceipts
	}
	if o.MaxTxs == 0 {
		o.MaxTxs = DefaultMaxTxs
	}
	if o.MaxSources == 0 {
		o.MaxSources = DefaultMaxSources
	}
	if o.MaxReceipts < 1 || o.MaxTxs < 1 || o.MaxSources < 1 {
		return o, fmt.Errorf("%w: max receipts %d, max txs %d, max sources %d (want ≥ 1 each)", ErrBadInput, o.MaxReceipts, o.MaxTxs, o.MaxSources)
	}
	return o, nil
}

// Report is the result of screening one target.
type Report struct {
	Target      string       `json:"target"`
	Kind        string       `json:"kind"` // "address" or "tx"
	Network     string       `json:"network"`
	TipHeight   int64        `json:"tip_height"`
	Hops        int          `json:"hops"`
	Risk        Level        `json:"risk"`
	TopCategory string       `json:"top_category"`
	TopLabel    string       `json:"top_label"`
	Reasons     []Reason     `json:"reasons"`   // every rule that gave a level above none, highest first
	ValueSat    int64        `json:"value_sat"` // value screened: what the address received (its own change counted once), or what the tx spent
	Outputs     int          `json:"outputs"`   // outputs screened: received by the address, or spent by the tx
	Cluster     *ClusterInfo `json:"cluster"`
	Direct      Direct       `json:"direct"`
	Indirect    Indirect     `json:"indirect"`
	Truncated   bool         `json:"truncated"` // receipts or the trace were cut at their limit
	Notes       []string     `json:"notes"`
}

// Reason is one rule firing.
type Reason struct {
	Exposure string  `json:"exposure"` // "direct" or "indirect"
	Category string  `json:"category"`
	Sat      int64   `json:"sat"`
	Share    float64 `json:"share"`
	Level    Level   `json:"level"`
}

// ClusterInfo is the target address's cluster.
type ClusterInfo struct {
	ID       cluster.ClusterID `json:"id"`
	Entities []string          `json:"entities"`
	Conflict bool              `json:"conflict"`
}

// Direct is the exposure of the target itself.
type Direct struct {
	Sat    int64      `json:"sat"`   // all it received, when labelled
	Share  float64    `json:"share"` // 1 when labelled
	Labels []LabelRef `json:"labels"`
}

// LabelRef is a label and how it reaches the target.
type LabelRef struct {
	Via        string `json:"via"` // "address", "cluster" or "tx"
	Address    string `json:"address,omitempty"`
	Label      string `json:"label"`
	Category   string `json:"category"`
	Abuse      string `json:"abuse,omitempty"`
	Source     string `json:"source"`
	Confidence string `json:"confidence"`
}

// Indirect is the exposure through the value received.
type Indirect struct {
	Sat             int64              `json:"sat"` // from labelled sources within the hops
	Share           float64            `json:"share"`
	MinedSat        int64              `json:"mined_sat"`        // from coinbases
	UnattributedSat int64              `json:"unattributed_sat"` // neither, within the hops
	ByCategory      []CategoryExposure `json:"by_category"`
	Sources         []Source           `json:"sources"` // largest first, at most MaxSources
	SourcesOmitted  int                `json:"sources_omitted"`
}

// CategoryExposure is the indirect exposure to one category and the label
// of that category that accounts for most of it.
type CategoryExposure struct {
	Category string  `json:"category"`
	Sat      int64   `json:"sat"`
	Share    float64 `json:"share"`
	Level    Level   `json:"level"`
	TopLabel string  `json:"top_label"`
}

// Source is a labelled output the received value came from, and the path
// of transactions (by txid) that carried it to the target, the last being
// the transaction that paid the target.
type Source struct {
	TxID       string   `json:"txid"`
	Vout       uint32   `json:"vout"`
	Address    string   `json:"address"`
	Hops       int      `json:"hops"`
	Sat        int64    `json:"sat"`
	Labels     []string `json:"labels"`
	Categories []string `json:"categories"`
	Path       []string `json:"path"`
}

// Screener screens many targets against one load of the labels.
type Screener struct {
	ix   *index.Index
	opts Options
	attr *cluster.Attribution
	cr   *cluster.Reader
	note string
	log  *slog.Logger
}

// New loads the labels of ix's network (and the clustering, if there is a
// usable one) for screening with opts.
func New(ix *index.Index, opts Options, log *slog.Logger) (*Screener, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	s := &Screener{ix: ix, opts: opts, log: log}
	s.cr, err = cluster.Open(ix)
	if errors.Is(err, cluster.ErrNotBuilt) || errors.Is(err, cluster.ErrRebuild) {
		s.cr, s.note = nil, "labels name their own addresses only: "+err.Error()
		log.Info("screen: without clustering", "reason", err)
	} else if err != nil {
		return nil, err
	}
	if s.attr, err = cluster.LoadAttribution(ix, s.cr); err != nil {
		return nil, err
	}
	return s, nil
}

// Screen screens one target (see Screener.Screen).
func Screen(ctx context.Context, ix *index.Index, target string, opts Options, log *slog.Logger) (*Report, error) {
	s, err := New(ix, opts, log)
	if err != nil {
		return nil, err
	}
	return s.Screen(ctx, target)
}

// Screen screens an address of the index's network or a txid. An address
// the index has never seen is screened by its labels alone.
func (s *Screener) Screen(ctx context.Context, target string) (*Report, error) {
	target = strings.TrimSpace(target)
	t := s.ix.Tip()
	rep := &Report{Target: target, Network: s.ix.Net.Name, TipHeight: -1, Hops: s.opts.Hops, Reasons: []Reason{},
		Direct: Direct{Labels: []LabelRef{}}, Indirect: Indirect{ByCategory: []CategoryExposure{}, Sources: []Source{}}, Notes: []string{}}
	if !t.Empty {
		rep.TipHeight = int64(t.Height)
	}
	if s.note != "" {
		rep.Notes = append(rep.Notes, s.note)
	}
	var seeds []taint.Seed
	var err error
	offset, suffix := 0, []string{}
	if isTxID(target) {
		rep.Kind = "tx"
		seeds, err = s.txTarget(rep, target)
		offset, suffix = 1, []string{strings.ToLower(target)}
	} else {
		rep.Kind = "address"
		seeds, err = s.addrTarget(rep, target)
	}
	if err != nil {
		return nil, err
	}
	rep.Outputs = len(seeds)
	if len(seeds) > 0 {
		if err := s.trace(ctx, rep, seeds, offset, suffix); err != nil {
			return nil, err
		}
	}
	if len(rep.Direct.Labels) > 0 {
		rep.Direct.Sat, rep.Direct.Share = rep.ValueSat, 1
	}
	s.rate(rep)
	return rep, nil
}

func isTxID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func labelRef(via string, l labels.Label) LabelRef {
	return LabelRef{Via: via, Address: l.Address, Label: l.Label, Category: l.Category, Abuse: l.Abuse, Source: l.Source, Confidence: l.Confidence}
}

// txTarget: the transaction's own labels are direct; the outputs it spends
// are the value screened, and their addresses (the payers) the first hop.
func (s *Screener) txTarget(rep *Report, txid string) ([]taint.Seed, error) {
	h, err := index.ParseTxID(txid)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	tx, err := s.ix.FindTx(h)
	if errors.Is(err, index.ErrNotFound) {
		return nil, fmt.Errorf("%w: transaction %s is not in the index (tip %d)", ErrNotFound, txid, rep.TipHeight)
	}
	if err != nil {
		return nil, err
	}
	ls, err := labels.List(s.ix.Store, s.ix.Net, labels.Query{Address: txid})
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		rep.Direct.Labels = append(rep.Direct.Labels, labelRef("tx", l))
	}
	var seeds []taint.Seed
	s.ix.ReadLock()
	first, n := s.ix.TxInputs(tx)
	for in := first; in < first+uint64(n); in++ {
		if o := s.ix.InputPrevOut(in); s.ix.OutValue(o) > 0 {
			seeds = append(seeds, taint.Seed{Out: o})
		}
	}
	s.ix.ReadUnlock()
	if n == 0 {
		rep.Notes = append(rep.Notes, "a coinbase transaction spends nothing")
	}
	return seeds, nil
}

// addrTarget: the address's labels and its cluster's cluster-defining
// labels are direct; the newest MaxReceipts outputs it received are the
// value screened.
func (s *Screener) addrTarget(rep *Report, addr string) ([]taint.Seed, error) {
	key, err := chain.ParseAddress(s.ix.Net, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	id, err := s.ix.AddrID(key)
	if errors.Is(err, index.ErrNotFound) {
		rep.Notes = append(rep.Notes, "the address has no transactions in the index")
		ls, err := labels.ForAddress(s.ix.Store, s.ix.Net, key)
		for _, l := range ls {
			rep.Direct.Labels = append(rep.Direct.Labels, labelRef("address", l))
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	own, c, cl, err := s.attr.Lookup(id)
	if err != nil {
		return nil, err
	}
	for _, l := range own {
		rep.Direct.Labels = append(rep.Direct.Labels, labelRef("address", l))
	}
	for _, l := range cl {
		if l.Key != key { // its own cluster-defining labels are listed above
			rep.Direct.Labels = append(rep.Direct.Labels, labelRef("cluster", l))
		}
	}
	if s.attr.Clustered() {
		ents := s.attr.Entities(c)
		rep.Cluster = &ClusterInfo{ID: c, Entities: ents, Conflict: len(ents) > 1}
	}
	// The address's outputs, newest first (index SCHEMA.md: its chain of outputs).
	var seeds []taint.Seed
	s.ix.ReadLock()
	o := s.ix.AddrHead(id)
	for ; o != index.NoOut && len(seeds) < s.opts.MaxReceipts; o = s.ix.OutPrevSame(o) {
		if s.ix.OutValue(o) > 0 {
			seeds = append(seeds, taint.Seed{Out: o})
		}
	}
	s.ix.ReadUnlock()
	if o != index.NoOut {
		rep.Truncated = true
		rep.Notes = append(rep.Notes, fmt.Sprintf("screened the newest %d outputs the address received", s.opts.MaxReceipts))
	}
	return seeds, nil
}

// graph is the index as the tracer reads it under the index's read lock:
// AddrString would take the lock again, so it answers "" and the report
// fills in the addresses it shows afterwards. Reads are checked
// (index.Graph): a corrupt record ends the trace with index.ErrCorrupt.
type graph struct{ *index.Graph }

func (g graph) AddrString(uint32) string { return "" }

// attribution tells the tracer which addresses are labelled: by their own
// labels or their cluster's cluster-defining ones. The entity it names is
// the label whose categories rate highest under the policy.
type attribution struct {
	s     *Screener
	cache map[uint32]attrHit
	err   error
}

type attrHit struct {
	ok bool
	e  taint.Entity
	ls []labels.Label
}

func (a *attribution) lookup(addr uint32) attrHit {
	if h, ok := a.cache[addr]; ok {
		return h
	}
	own, _, cl, err := a.s.attr.Lookup(addr)
	if err != nil && a.err == nil {
		a.err = err
	}
	h := attrHit{ls: append(slices.Clip(own), cl...)}
	if len(h.ls) > 0 {
		h.ok = true
		best := a.s.primary(h.ls)
		h.e = taint.Entity{Label: best.Label, Category: best.Category, Source: best.Source, Confidence: best.ConfidenceLevel}
	}
	a.cache[addr] = h
	return h
}

func (a *attribution) Entity(addr uint32) (taint.Entity, bool) {
	h := a.lookup(addr)
	return h.e, h.ok
}

// categories of a label: its category and its abuse.
func categories(l labels.Label) []string {
	out := []string{}
	for _, c := range []string{l.Category, l.Abuse} {
		if c = norm(c); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// labelLevel is the direct level a label gives under the policy.
func (s *Screener) labelLevel(l labels.Label) Level {
	lv := None
	for _, c := range categories(l) {
		lv = max(lv, s.opts.Policy.DirectLevel(c))
	}
	return lv
}

// primary is the label that rates highest, then the most confident, then
// the first by label text.
func (s *Screener) primary(ls []labels.Label) labels.Label {
	return slices.MinFunc(ls, func(a, b labels.Label) int {
		return cmp.Or(cmp.Compare(s.labelLevel(b), s.labelLevel(a)), cmp.Compare(b.ConfidenceLevel, a.ConfidenceLevel),
			strings.Compare(a.Label, b.Label), strings.Compare(a.Category, b.Category))
	})
}

// trace runs the backward haircut trace from the seeds and totals what it
// stops at within the screened hops. offset is the hop of the seeds
// themselves: 0 for an address's received outputs (a labelled seed is the
// target's own label, direct exposure), 1 for the outputs a transaction
// spends (a labelled seed is a payer). suffix ends every source's path.
func (s *Screener) trace(ctx context.Context, rep *Report, seeds []taint.Seed, offset int, suffix []string) error {
	attr := &attribution{s: s, cache: map[uint32]attrHit{}}
	// A transaction's seeds are its payers: their labels are the answer.
	// An address's seeds are its own receipts: its own entity (an
	// exchange screening its deposit address) is where the look-back starts.
	p := taint.Params{Model: taint.Haircut, Direction: taint.Backward, MaxHops: max(1, s.opts.Hops-offset), MaxTxs: s.opts.MaxTxs,
		StopAtService: true, StopAtSeedEntity: offset == 1}
	s.ix.ReadLock()
	res, err := taint.Trace(ctx, graph{&index.Graph{Index: s.ix}}, attr, seeds, p, s.log)
	var addrs []uint32
	if res != nil {
		addrs = make([]uint32, len(res.Outputs))
		for i, o := range res.Outputs {
			addrs[i] = s.ix.OutAddr(o.Out)
		}
	}
	s.ix.ReadUnlock()
	if errors.Is(err, taint.ErrLimit) {
		rep.Truncated = true
		rep.Notes = append(rep.Notes, fmt.Sprintf("the backward trace stopped after %d transactions", s.opts.MaxTxs))
	} else if err != nil {
		return err
	}
	if attr.err != nil {
		return attr.err
	}
	rep.ValueSat = res.Summary.TracedSat
	byCat := map[string]int64{}
	byCatLabel := map[[2]string]int64{} // (category, label) → sats
	edges := map[taint.Hash][]taint.Edge{}
	for _, e := range res.Edges {
		edges[e.FromTx] = append(edges[e.FromTx], e)
	}
	seedTxs := map[taint.Hash]bool{}
	for _, sd := range res.Seeds {
		seedTxs[sd.TxID] = true
	}
	var sources []Source
	for i, o := range res.Outputs {
		hop := o.Hops + offset
		switch {
		case hop > s.opts.Hops:
			continue
		case o.Stop == taint.StopMined:
			rep.Indirect.MinedSat += o.TaintSat
			continue
		case o.Stop != taint.StopArrival:
			continue
		}
		h := attr.lookup(addrs[i])
		src := Source{TxID: o.TxID.String(), Vout: o.Vout, Address: s.ix.AddrString(addrs[i]), Hops: hop, Sat: o.TaintSat,
			Labels: []string{}, Categories: []string{}, Path: append(path(edges, seedTxs, o.TxID, o.Vout), suffix...)}
		counted := map[[2]string]bool{}
		for _, l := range h.ls {
			if !slices.Contains(src.Labels, l.Label) {
				src.Labels = append(src.Labels, l.Label)
			}
			for _, c := range categories(l) {
				if !slices.Contains(src.Categories, c) {
					src.Categories = append(src.Categories, c)
				}
				if k := [2]string{c, l.Label}; !counted[k] {
					counted[k] = true
					byCatLabel[k] += src.Sat
				}
			}
		}
		slices.Sort(src.Labels)
		slices.Sort(src.Categories)
		for _, c := range src.Categories {
			byCat[c] += src.Sat
		}
		rep.Indirect.Sat += src.Sat
		sources = append(sources, src)
	}
	rep.Indirect.UnattributedSat = rep.ValueSat - rep.Indirect.Sat - rep.Indirect.MinedSat
	rep.Indirect.Share = share(rep.Indirect.Sat, rep.ValueSat)
	for c, sat := range byCat {
		sh := share(sat, rep.ValueSat)
		ce := CategoryExposure{Category: c, Sat: sat, Share: sh, Level: s.opts.Policy.IndirectLevel(c, sh, sat)}
		var best int64
		for k, n := range byCatLabel {
			if k[0] == c && (n > best || (n == best && k[1] < ce.TopLabel)) {
				best, ce.TopLabel = n, k[1]
			}
		}
		rep.Indirect.ByCategory = append(rep.Indirect.ByCategory, ce)
	}
	slices.SortFunc(rep.Indirect.ByCategory, func(a, b CategoryExposure) int {
		return cmp.Or(cmp.Compare(b.Level, a.Level), cmp.Compare(b.Sat, a.Sat), strings.Compare(a.Category, b.Category))
	})
	slices.SortFunc(sources, func(a, b Source) int {
		return cmp.Or(cmp.Compare(b.Sat, a.Sat), cmp.Compare(a.Hops, b.Hops), strings.Compare(a.TxID, b.TxID), cmp.Compare(a.Vout, b.Vout))
	})
	if len(sources) > s.opts.MaxSources {
		rep.Indirect.SourcesOmitted = len(sources) - s.opts.MaxSources
		sources = sources[:s.opts.MaxSources]
	}
	rep.Indirect.Sources = append(rep.Indirect.Sources, sources...)
	return nil
}

// path is the shortest chain of transactions the backward edges lead
// along from output vout of tx txid to a transaction that made a seed (one
// that paid the target); among equally short ones, the first in edge order.
func path(edges map[taint.Hash][]taint.Edge, seedTxs map[taint.Hash]bool, txid taint.Hash, vout uint32) []string {
	var start taint.Hash
	found := false
	for _, e := range edges[txid] {
		if e.Vout == vout {
			start, found = e.ToTx, true
			break
		}
	}
	if !found {
		return []string{}
	}
	prev := map[taint.Hash]taint.Hash{start: start}
	queue := []taint.Hash{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if seedTxs[cur] {
			var p []string
			for ; ; cur = prev[cur] {
				p = append(p, cur.String())
				if cur == start {
					break
				}
			}
			slices.Reverse(p)
			return p
		}
		for _, e := range edges[cur] {
			if _, seen := prev[e.ToTx]; !seen {
				prev[e.ToTx] = cur
				queue = append(queue, e.ToTx)
			}
		}
	}
	return []string{}
}

func share(part, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return float64(part) / float64(total)
}

// rate applies the policy: the risk is the highest level of any reason.
func (s *Screener) rate(rep *Report) {
	pol := s.opts.Policy
	type cand struct {
		r     Reason
		label string
	}
	var cands []cand
	for _, l := range rep.Direct.Labels {
		for _, c := range categories(labels.Label{Category: l.Category, Abuse: l.Abuse}) {
			cands = append(cands, cand{Reason{Exposure: "direct", Category: c, Sat: rep.Direct.Sat, Share: rep.Direct.Share, Level: pol.DirectLevel(c)}, l.Label})
		}
	}
	for _, ce := range rep.Indirect.ByCategory {
		cands = append(cands, cand{Reason{Exposure: "indirect", Category: ce.Category, Sat: ce.Sat, Share: ce.Share, Level: ce.Level}, ce.TopLabel})
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.r.Level, a.r.Level), strings.Compare(a.r.Exposure, b.r.Exposure), cmp.Compare(b.r.Sat, a.r.Sat),
			strings.Compare(a.r.Category, b.r.Category), strings.Compare(a.label, b.label))
	})
	seen := map[Reason]bool{}
	for _, c := range cands {
		if c.r.Level > None && !seen[c.r] {
			seen[c.r] = true
			rep.Reasons = append(rep.Reasons, c.r)
		}
	}
	if len(cands) > 0 {
		rep.Risk, rep.TopCategory, rep.TopLabel = cands[0].r.Level, cands[0].r.Category, cands[0].label
	}
}
