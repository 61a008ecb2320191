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

// Clusterer is a clustering loaded in memory. A long-running process keeps
// one and calls Update as blocks arrive; the package functions Build and
// Update load, run and drop one.
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
	counted   int // of f.merges, how many tip.Merges includes
	broken    error
}

// Build clusters the whole index from scratch, replacing any stored clustering.
func Build(ctx context.Context, ix *index.Index, opts Options, log *slog.Logger) (*Stats, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	if opts.SuperclusterSize == 0 {
		opts.SuperclusterSize = DefaultSuperclusterSize
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := ix.Store.NewBatch()
	defer b.Close()
	b.DeleteRange([]byte{prefix}, []byte{prefix + 1})
	b.Set(key1(kVersion), []byte{schemaVersion})
	b.Set(key1(kOptions), encodeOptions(opts))
	b.Set(key1(kTip), tipRec{}.encode())
	if err := b.Commit(true); err != nil {
		return nil, err
	}
	c := newClusterer(ix, opts, log)
	c.f = newForest()
	log.Info("cluster: build", "heuristics", opts.Change.String())
	return c.Update(ctx)
}

// Update clusters the blocks the index gained since the last Build or
// Update. opts must name the heuristics the clustering was built with; a
// nonzero SuperclusterSize replaces the stored one.
func Update(ctx context.Context, ix *index.Index, opts Options, log *slog.Logger) (*Stats, error) {
	c, err := Load(ctx, ix, opts, log)
	if err != nil {
		return nil, err
	}
	return c.Update(ctx)
}

func newClusterer(ix *index.Index, opts Options, log *slog.Logger) *Clusterer {
	return &Clusterer{ix: ix, opts: opts, log: log, cf: newChangeFinder(opts)}
}

// Load reads the stored clustering into memory: the members of every
// cluster of two or more, then one pass over the clustered transactions to
// total each cluster's balance and activity. It fails with ErrNotBuilt
// when there is none and ErrRebuild when it cannot be continued (other
// heuristics than opts, or the index rolled back below it).
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
	if c.f, err = loadForest(ix.Store, st.tip.NAddr); err != nil {
		return nil, err
	}
	if err := c.rescan(ctx); err != nil {
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
func loadForest(store kv.Store, n uint32) (*forest, error) {
	f := newForest()
	f.grow(n)
	lo := key1(kMember)
	it, err := store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var cur, prev uint32
	for ok := it.First(); ok; ok = it.Next() {
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
			continue // the root: already its own parent, in its own list
		}
		if a <= prev {
			return nil, fmt.Errorf("%w: member rows of cluster %d out of order", ErrCorrupt, c)
		}
		prev = a
		f.parent[a] = c
		f.next[a], f.next[c] = f.next[c], a
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

// rescan totals balance, received and activity per cluster over the
// clustered transactions.
func (c *Clusterer) rescan(ctx context.Context) error {
	const chunk = 4096
	for tx := uint32(0); tx < c.tip.NTx; {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(tx+chunk, c.tip.NTx)
		c.ix.ReadLock()
		if c.ix.NumTxs() < end {
			c.ix.ReadUnlock()
			return fmt.Errorf("%w: the index was rolled back below the clustered tip during load", ErrRebuild)
		}
		for ; tx < end; tx++ {
			if err := c.processTx(tx, c.ix.TxHeight(tx), false); err != nil {
				c.ix.ReadUnlock()
				return err
			}
		}
		c.ix.ReadUnlock()
	}
	return nil
}

// processTx folds transaction tx at height h into the forest: the balance
// and activity of the clusters it touches and, with link, the merges the
// heuristics make. The caller holds the index's read lock.
func (c *Clusterer) processTx(tx, h uint32, link bool) error {
	f, v := c.f, &c.view
	pattern.ViewOf(c.ix, tx, v)
	fresh := f.n() + 1
	for j, a := range v.OutAddrs {
		if a > f.n() {
			if !link || a != f.n()+1 {
				return fmt.Errorf("%w: output %d of tx %d pays address id %d, %d addresses known", ErrCorrupt, j, tx, a, f.n())
			}
			f.grow(a)
		}
	}
	for i, a := range v.InAddrs {
		if a == 0 {
			continue
		}
		if a >= fresh {
			return fmt.Errorf("%w: input %d of tx %d spends address id %d, first paid later", ErrCorrupt, i, tx, a)
		}
		r := f.parent[a]
		f.bal[r] -= v.InValues[i]
		f.touch(r, h)
		if link && f.size[r] > 1 {
			f.markCluster(r)
		}
	}
	for j, a := range v.OutAddrs {
		if a == 0 {
			continue
		}
		r := f.parent[a]
		f.bal[r] += v.OutValues[j]
		f.recv[r] += v.OutValues[j]
		f.touch(r, h)
		if link && f.size[r] > 1 {
			f.markCluster(r)
		}
	}
	if !link || len(v.InAddrs) == 0 {
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
		} else if f.union(anchor, a, CauseInputs, h, tx) {
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
	if j := c.cf.find(v, c.inTypes, fresh); j >= 0 && f.union(anchor, v.OutAddrs[j], CauseChange, h, tx) {
		c.run.ChangeMerges++
	}
	return nil
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
	c.f.reserve(nAddr)
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
			if err := c.commit(false); err != nil {
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
		if err := c.processTx(tx, h, true); err != nil {
			return err
		}
	}
	c.tip = tipRec{Height: h, Hash: b.Hash, NTx: end, NAddr: c.f.n(), Merges: c.tip.Merges + uint64(len(c.f.merges)-c.counted)}
	c.counted = len(c.f.merges)
	return nil
}
