package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/kv"
	"github.com/cointrail/cointrail/pattern"
)

// Stats summarise a Build or Update run and the clustering it left.
type Stats struct {
	FromHeight    int64         `json:"from_height"` // first block clustered by this run, -1 if none
	Height        int64         `json:"height"`      // the clustered tip, -1 if empty
	Blocks        uint64        `json:"blocks"`      // clustered by this run
	Txs           uint64        `json:"txs"`
	Inputs        uint64        `json:"inputs"`
	CoinJoins     uint64        `json:"coinjoins"` // skipped by the heuristics
	InputMerges   uint64        `json:"input_merges"`
	ChangeMerges  uint64        `json:"change_merges"`
	Merges        uint64        `json:"merges_total"` // recorded since Build
	Addresses     uint32        `json:"addresses"`
	Clusters      uint32        `json:"clusters"`  // of two or more addresses
	Clustered     uint32        `json:"clustered"` // addresses in them
	Largest       ClusterSize   `json:"largest"`
	Superclusters []ClusterSize `json:"superclusters"` // at or above Options.SuperclusterSize, largest first
	MemoryBytes   int64         `json:"memory_bytes"`
	Elapsed       time.Duration `json:"elapsed_ns"`
}

// ClusterSize names a cluster and its size.
type ClusterSize struct {
	ID   ClusterID `json:"id"`
	Size uint32    `json:"size"`
}

// ClusterID identifies a cluster: the address id of its root member.
type ClusterID uint32

// commitOps bounds the row operations one commit carries (a variable so
// tests can force many commits).
var commitOps = 1 << 20

// Clusterer is a clustering loaded for updating. A long-running process
// keeps one and calls Update as blocks arrive; the package function Update
// loads, runs and closes one. It holds the union-find in scratch files
// (8 B per address, unit.go) and, between commits, the aggregates of the
// clusters touched since the last commit; everything else is read from the
// stored rows when needed.
type Clusterer struct {
	ix        *index.Index
	opts      Options
	optsDirty bool
	log       *slog.Logger
	f         *forest
	tip       tipRec
	cf        changeFinder
	view      pattern.TxView
	inTypes   []uint8
	run       Stats
	newMerges uint64 // merges since the last block boundary
	broken    error

	// build is set while Build runs: merges go to the spill file and
	// nothing else is tracked (the rows are written from the final forest).
	build *buildState

	// Changes since the last commit (update mode, commit.go): addresses
	// that had no rows at the last commit and joined a cluster since, the
	// merges (their retired clusters' member rows move), the current
	// aggregates of every cluster of two or more touched, and an estimate of
	// the member rows the retired clusters hold.
	singles  []uint32
	merges   []mergeRec
	pending  map[uint32]agg
	relabels int
}

// Update clusters the blocks the index gained since the last Build or
// Update. opts must name the heuristics the clustering was built with; a
// nonzero SuperclusterSize replaces the stored one.
func Update(ctx context.Context, ix *index.Index, opts Options, log *slog.Logger) (*Stats, error) {
	c, err := Load(ctx, ix, opts, log)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Update(ctx)
}

// LoadStored is Load with the heuristics the clustering was built with
// (what `cointrail cluster update` and a following server use).
func LoadStored(ctx context.Context, ix *index.Index, log *slog.Logger) (*Clusterer, error) {
	r, err := Open(ix)
	if err != nil {
		return nil, err
	}
	o := r.st.opts
	return Load(ctx, ix, Options{Change: o.Change, PowerOfTenDigits: o.PowerOfTenDigits}, log)
}

func newClusterer(ix *index.Index, opts Options, log *slog.Logger) *Clusterer {
	return &Clusterer{ix: ix, opts: opts, log: log, cf: newChangeFinder(opts), pending: map[uint32]agg{}}
}

// Close releases the union-find's scratch files.
func (c *Clusterer) Close() error {
	err := c.f.close()
	c.f = nil
	if c.broken == nil {
		c.broken = errors.New("closed")
	}
	return err
}

// Load reads the stored clustering for updating: the member rows of every
// cluster of two or more give the union-find (one sequential scan of the
// `Cm` rows; aggregates are read from the `Cc` rows only for the clusters
// a later update touches). It fails with ErrNotBuilt when there is none,
// ErrIncomplete when a build was interrupted, and ErrRebuild when it cannot
// be continued (other heuristics than opts, or the index rolled back below
// it).
func Load(ctx context.Context, ix *index.Index, opts Options, log *slog.Logger) (*Clusterer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	st, err := readState(ix)
	if err != nil {
		return nil, err
	}
	if st.opts.Change != opts.Change || st.opts.PowerOfTenDigits != opts.PowerOfTenDigits {
		return nil, fmt.Errorf("%w: the clustering was built with change heuristics %s (power-of-ten digits %d), not %s (%d); update with the same or build again",
			ErrRebuild, st.opts.Change, st.opts.PowerOfTenDigits, opts.Change, opts.PowerOfTenDigits)
	}
	c := newClusterer(ix, st.opts, log)
	if opts.SuperclusterSize != 0 && opts.SuperclusterSize != st.opts.SuperclusterSize {
		c.opts.SuperclusterSize = opts.SuperclusterSize
		c.optsDirty = true
	}
	c.tip = st.tip
	start := time.Now()
	if c.f, err = loadForest(ctx, ix, st.tip.NAddr); err != nil {
		return nil, err
	}
	log.Info("cluster: loaded", "addresses", st.tip.NAddr, "txs", st.tip.NTx, "elapsed", time.Since(start))
	return c, nil
}

// state is what every reader of the clustering checks first.
type state struct {
	opts Options
	tip  tipRec
}

// readState reads version, options and tip, and checks that the index still
// holds the clustered tip.
func readState(ix *index.Index) (state, error) {
	if _, err := ix.Store.Get(key1(kIncomplete)); err == nil {
		return state{}, fmt.Errorf("%w: a cluster build was interrupted before it wrote all its rows; run `cointrail cluster build`", ErrIncomplete)
	} else if !errors.Is(err, kv.ErrNotFound) {
		return state{}, err
	}
	v, err := ix.Store.Get(key1(kVersion))
	if errors.Is(err, kv.ErrNotFound) {
		return state{}, fmt.Errorf("%w: no clustering in this data directory; run `cointrail cluster build`", ErrNotBuilt)
	}
	if err != nil {
		return state{}, err
	}
	if len(v) != 1 || v[0] != schemaVersion {
		return state{}, fmt.Errorf("%w: the clustering has schema version %x, this cointrail writes %d", ErrRebuild, v, schemaVersion)
	}
	var st state
	if v, err = ix.Store.Get(key1(kOptions)); err != nil {
		return state{}, fmt.Errorf("%w: options record: %w", ErrCorrupt, err)
	}
	if st.opts, err = decodeOptions(v); err != nil {
		return state{}, err
	}
	if v, err = ix.Store.Get(key1(kTip)); err != nil {
		return state{}, fmt.Errorf("%w: tip record: %w", ErrCorrupt, err)
	}
	if st.tip, err = decodeTip(v); err != nil {
		return state{}, err
	}
	return st, checkIndex(ix, st.tip)
}

// checkIndex fails with ErrRebuild unless the index still holds block
// t.Height with hash t.Hash.
func checkIndex(ix *index.Index, t tipRec) error {
	if t.NTx == 0 {
		return nil
	}
	b, err := ix.BlockAt(t.Height)
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("%w: the clustering covers blocks up to height %d but the index was rolled back to %s; run `cointrail cluster build`",
			ErrRebuild, t.Height, tipString(ix.Tip()))
	}
	if err != nil {
		return err
	}
	if b.Hash != t.Hash || b.FirstTx+b.NumTx != t.NTx {
		return fmt.Errorf("%w: the index has block %s at height %d, the clustering was made with %s (the index was rolled back and re-ingested); run `cointrail cluster build`",
			ErrRebuild, b.Hash, t.Height, index.TxIDString(t.Hash))
	}
	return nil
}

func tipString(t index.Tip) string {
	if t.Empty {
		return "empty"
	}
	return fmt.Sprintf("height %d", t.Height)
}

// loadForest rebuilds the union-find from the member rows.
func loadForest(ctx context.Context, ix *index.Index, n uint32) (f *forest, err error) {
	if f, err = newForest(ix.Path()); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.close()
			f = nil
		}
	}()
	if err := f.grow(n); err != nil {
		return nil, err
	}
	lo := key1(kMember)
	it, err := ix.Store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var cur, prev uint32
	rows := 0
	for ok := it.First(); ok; ok = it.Next() {
		if rows++; rows%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		k := it.Key()
		if len(k) != 10 {
			return nil, fmt.Errorf("%w: member key %x", ErrCorrupt, k)
		}
		c, a := binary.BigEndian.Uint32(k[2:]), binary.BigEndian.Uint32(k[6:])
		if c == 0 || a == 0 || c > n || a > n || f.parent[a] != a || (a != c && f.parent[c] != c) {
			return nil, fmt.Errorf("%w: member row (cluster %d, address %d) with %d addresses clustered", ErrCorrupt, c, a, n)
		}
		if c != cur {
			if cur != 0 && f.size[cur] < 2 {
				return nil, fmt.Errorf("%w: cluster %d has one member row", ErrCorrupt, cur)
			}
			cur, prev = c, 0
		}
		if a == c {
			continue // the root: already its own parent
		}
		if a <= prev || f.size[a] != 1 {
			return nil, fmt.Errorf("%w: member rows of cluster %d out of order", ErrCorrupt, c)
		}
		prev = a
		f.parent[a] = c
		f.size[c]++
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if cur != 0 && f.size[cur] < 2 {
		return nil, fmt.Errorf("%w: cluster %d has one member row", ErrCorrupt, cur)
	}
	return f, nil
}

// processTx folds transaction tx at height h into the forest: the merges
// the heuristics make and, when updating, the aggregates of the clusters of
// two or more it touches. The caller holds the index's read lock.
func (c *Clusterer) processTx(tx, h uint32) error {
	f, v := c.f, &c.view
	pattern.ViewOf(c.ix, tx, v)
	fresh := f.n() + 1
	for j, a := range v.OutAddrs {
		if a > f.n() {
			if a != f.n()+1 {
				return fmt.Errorf("%w: output %d of tx %d pays address id %d, %d addresses known", ErrCorrupt, j, tx, a, f.n())
			}
			if err := f.grow(a); err != nil {
				return err
			}
		}
	}
	for i, a := range v.InAddrs {
		if a >= fresh {
			return fmt.Errorf("%w: input %d of tx %d spends address id %d, first paid later", ErrCorrupt, i, tx, a)
		}
	}
	if c.build == nil {
		for i, a := range v.InAddrs {
			if err := c.touch(a, tx, h, -v.InValues[i], 0); err != nil {
				return err
			}
		}
		for j, a := range v.OutAddrs {
			if err := c.touch(a, tx, h, v.OutValues[j], v.OutValues[j]); err != nil {
				return err
			}
		}
	}
	if len(v.InAddrs) == 0 {
		return nil
	}
	c.run.Txs++
	c.run.Inputs += uint64(len(v.InAddrs))
	if pattern.Detect(*v).IsCoinJoin() {
		c.run.CoinJoins++
		return nil
	}
	anchor := uint32(0)
	for _, a := range v.InAddrs {
		if a == 0 {
			continue
		}
		if anchor == 0 {
			anchor = a
		} else if ok, err := c.union(anchor, a, CauseInputs, h, tx); err != nil {
			return err
		} else if ok {
			c.run.InputMerges++
		}
	}
	if anchor == 0 || c.opts.Change == 0 {
		return nil
	}
	c.inTypes = c.inTypes[:0]
	first, n := c.ix.TxInputs(tx)
	for in := first; in < first+uint64(n); in++ {
		c.inTypes = append(c.inTypes, c.ix.OutType(c.ix.InputPrevOut(in)))
	}
	if j := c.cf.find(v, c.inTypes, fresh); j >= 0 {
		ok, err := c.union(anchor, v.OutAddrs[j], CauseChange, h, tx)
		if err != nil {
			return err
		}
		if ok {
			c.run.ChangeMerges++
		}
	}
	return nil
}

// touch adds a payment (recv > 0) or spend to the aggregates of a's
// cluster if it has two or more members; a cluster of one has no stored
// aggregates and gets them from the index when it first joins another.
func (c *Clusterer) touch(a, tx, h uint32, bal, recv int64) error {
	if a == 0 {
		return nil
	}
	r := c.f.find(a)
	if c.f.size[r] < 2 {
		return nil
	}
	g, err := c.aggOf(r, tx)
	if err != nil {
		return err
	}
	g.Balance += bal
	g.Received += recv
	touchAgg(&g, h)
	c.pending[r] = g
	return nil
}

// aggOf returns the current aggregates of root r while tx is processed:
// the pending ones, else (a cluster of two or more untouched since the last
// commit) its stored row, else (a cluster of one) its address's history up
// to and including tx, read from the index.
func (c *Clusterer) aggOf(r, tx uint32) (agg, error) {
	if g, ok := c.pending[r]; ok {
		return g, nil
	}
	if c.f.size[r] >= 2 {
		v, err := c.ix.Store.Get(keyU32(kAgg, r))
		if errors.Is(err, kv.ErrNotFound) {
			return agg{}, fmt.Errorf("%w: cluster %d of %d addresses has no aggregates row", ErrCorrupt, r, c.f.size[r])
		}
		if err != nil {
			return agg{}, err
		}
		return decodeAgg(r, v)
	}
	first, n := c.ix.TxOutputs(tx)
	limit := first + uint64(n)
	g := agg{Size: 1, First: noHeight}
	prev := index.NoOut
	for o := c.ix.AddrHead(r); o != index.NoOut; o = c.ix.OutPrevSame(o) {
		if o >= prev || o >= c.ix.NumOuts() {
			return agg{}, fmt.Errorf("%w: the output chain of address %d is not decreasing at output %d", ErrCorrupt, r, o)
		}
		prev = o
		if o >= limit {
			continue
		}
		v := c.ix.OutValue(o)
		g.Received += v
		touchAgg(&g, c.ix.TxHeight(c.ix.OutTx(o)))
		if sp := c.ix.OutSpender(o); sp != index.NoTx && sp <= tx {
			touchAgg(&g, c.ix.TxHeight(sp))
		} else {
			g.Balance += v
		}
	}
	return g, nil
}

// union links the clusters of a and b; it reports whether they were apart.
// The larger cluster survives and keeps its id; on equal sizes the one with
// the smaller id (the older) does.
func (c *Clusterer) union(a, b uint32, cause Cause, height, tx uint32) (bool, error) {
	f := c.f
	s, r, ok := f.pick(a, b)
	if !ok {
		return false, nil
	}
	m := mergeRec{Retired: r, Survivor: s, Height: height, Tx: tx, Cause: cause, RetiredSize: f.size[r], SurvivorSize: f.size[s]}
	if c.build != nil {
		if err := c.build.spill(m); err != nil {
			return false, err
		}
	} else {
		gs, err := c.aggOf(s, tx)
		if err != nil {
			return false, err
		}
		gr, err := c.aggOf(r, tx)
		if err != nil {
			return false, err
		}
		gs.Size += gr.Size
		gs.Balance += gr.Balance
		gs.Received += gr.Received
		gs.First, gs.Last = min(gs.First, gr.First), max(gs.Last, gr.Last)
		c.pending[s] = gs
		delete(c.pending, r)
		for _, x := range [2]uint32{s, r} {
			if f.size[x] == 1 { // a cluster of one has no rows yet
				c.singles = append(c.singles, x)
			}
		}
		if f.size[r] >= 2 {
			c.relabels += int(f.size[r])
		}
		c.merges = append(c.merges, m)
	}
	f.link(s, r)
	c.newMerges++
	return true, nil
}

// Update clusters the blocks the index gained since the clusterer's tip,
// committing every commitOps row changes and at the end. If ctx is
// cancelled it commits the blocks done and returns the context's error.
func (c *Clusterer) Update(ctx context.Context) (*Stats, error) {
	if c.broken != nil {
		return nil, fmt.Errorf("%w: the clusterer failed before (%v); load it again", ErrInternal, c.broken)
	}
	start := time.Now()
	c.run = Stats{FromHeight: -1}
	if err := checkIndex(c.ix, c.tip); err != nil {
		return nil, err
	}
	itip := c.ix.Tip()
	_, _, _, nAddr := itip.Counts()
	if err := c.f.reserve(nAddr); err != nil {
		return nil, err
	}
	h := c.tip.Height + 1
	if c.tip.NTx == 0 {
		h = 0
	}
	var runErr error
	for !itip.Empty && h <= itip.Height {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if err := c.block(h); err != nil {
			c.broken = err
			return nil, err
		}
		if c.run.FromHeight < 0 {
			c.run.FromHeight = int64(h)
		}
		c.run.Blocks++
		if c.pendingOps() >= commitOps {
			if err := c.commit(true); err != nil {
				c.broken = err
				return nil, err
			}
		}
		h++
	}
	if err := c.commit(true); err != nil {
		c.broken = err
		return nil, err
	}
	st := c.summary()
	st.Elapsed = time.Since(start)
	c.log.Info("cluster: updated", "height", st.Height, "blocks", st.Blocks, "txs", st.Txs, "merges", st.InputMerges+st.ChangeMerges,
		"coinjoins_skipped", st.CoinJoins, "clusters", st.Clusters, "largest", st.Largest.Size, "elapsed", st.Elapsed)
	for _, s := range st.Superclusters {
		c.log.Warn("cluster: supercluster", "id", s.ID, "size", s.Size, "limit", c.opts.SuperclusterSize)
	}
	return st, runErr
}

// block clusters the block at height h.
func (c *Clusterer) block(h uint32) error {
	b, err := c.ix.BlockAt(h)
	if err != nil {
		return err
	}
	if b.FirstTx != c.tip.NTx {
		return fmt.Errorf("%w: block %d starts at tx %d, the clustering covers %d txs", ErrCorrupt, h, b.FirstTx, c.tip.NTx)
	}
	end := b.FirstTx + b.NumTx
	c.ix.ReadLock()
	defer c.ix.ReadUnlock()
	if c.ix.NumTxs() < end {
		return fmt.Errorf("%w: the index was rolled back below height %d during the update", ErrRebuild, h)
	}
	for tx := b.FirstTx; tx < end; tx++ {
		if err := c.processTx(tx, h); err != nil {
			return err
		}
	}
	c.tip = tipRec{Height: h, Hash: b.Hash, NTx: end, NAddr: c.f.n(), Merges: c.tip.Merges + c.newMerges}
	c.newMerges = 0
	return nil
}
