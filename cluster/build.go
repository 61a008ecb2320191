package cluster

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
	"unsafe"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/kv"
)

// Build clusters the whole index from scratch, replacing any stored
// clustering. It runs in two phases (docs/clustering.md, "Build"):
//
//  1. The union-find over every transaction, in scratch files only: the
//     stored clustering is not touched, so a process killed here leaves
//     the previous clustering as it was. The merges are appended to a
//     spill file.
//  2. Writing the rows: one synced batch deletes the old clustering and
//     sets the incomplete marker `Ci`; the rows follow in batches of
//     commitOps; the last batch writes the tip and deletes the marker, and
//     is synced. A process killed in this phase leaves the marker, and
//     every reader then fails with ErrIncomplete until the next Build.
//
// If ctx is cancelled during phase 1, Build stops at the block boundary and
// writes the clustering of the blocks done (which Update continues); the
// context's error is returned with the stats.
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
	start := time.Now()
	c := newClusterer(ix, opts, log)
	if c.f, err = newForest(ix.Path()); err != nil {
		return nil, err
	}
	defer c.Close()
	if c.build, err = newBuildState(ix.Path()); err != nil {
		return nil, err
	}
	defer c.build.close()
	log.Info("cluster: build", "heuristics", opts.Change.String())
	c.run = Stats{FromHeight: -1}
	itip := ix.Tip()
	_, _, _, nAddr := itip.Counts()
	if err := c.f.reserve(nAddr); err != nil {
		return nil, err
	}
	var runErr error
	for h := uint32(0); !itip.Empty && h <= itip.Height; h++ {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if err := c.block(h); err != nil {
			return nil, err
		}
		failpoint.Hit("cluster-block")
		if c.run.FromHeight < 0 {
			c.run.FromHeight = int64(h)
		}
		c.run.Blocks++
	}
	log.Info("cluster: union-find done", "blocks", c.run.Blocks, "addresses", c.f.n(), "merges", c.tip.Merges, "elapsed", time.Since(start))
	st, err := c.writeBuild()
	if err != nil {
		return nil, err
	}
	st.Elapsed = time.Since(start)
	log.Info("cluster: built", "height", st.Height, "blocks", st.Blocks, "txs", st.Txs, "merges", st.Merges,
		"coinjoins_skipped", st.CoinJoins, "clusters", st.Clusters, "largest", st.Largest.Size, "elapsed", st.Elapsed)
	for _, s := range st.Superclusters {
		log.Warn("cluster: supercluster", "id", s.ID, "size", s.Size, "limit", opts.SuperclusterSize)
	}
	return st, runErr
}

// buildState is what Build keeps beside the forest: the merges in a spill
// file (25 B each, written and read sequentially) and, in phase 2, the
// aggregates of the clusters of two or more (buildAgg, 32 B each, mapped).
type buildState struct {
	mf     *scratch // only its file is used, as a plain spill file
	w      *bufio.Writer
	n      uint64
	aggs   *scratch
	ixDir  string
	buf    [4 + mergeLen]byte
	rowsIn int
}

func newBuildState(ixDir string) (*buildState, error) {
	mf, err := newScratch(ixDir, 1)
	if err != nil {
		return nil, err
	}
	return &buildState{mf: mf, w: bufio.NewWriterSize(mf.f, 1<<20), ixDir: ixDir}, nil
}

func (b *buildState) close() error {
	if b == nil {
		return nil
	}
	err := b.mf.close()
	if e := b.aggs.close(); err == nil {
		err = e
	}
	return err
}

func (b *buildState) spill(m mergeRec) error {
	binary.LittleEndian.PutUint32(b.buf[:], m.Retired)
	copy(b.buf[4:], m.encode())
	if _, err := b.w.Write(b.buf[:]); err != nil {
		return fmt.Errorf("cluster: spilling merges: %w", err)
	}
	b.n++
	return nil
}

// buildAgg is a cluster's aggregates while Build totals them, with its root.
type buildAgg struct {
	Size, Root        uint32
	Balance, Received int64
	First, Last       uint32
}

// rowWriter writes rows in batches of commitOps unsynced operations.
type rowWriter struct {
	store kv.Store
	b     kv.Batch
	ops   int
}

func (w *rowWriter) set(k, v []byte) error {
	w.b.Set(k, v)
	return w.count()
}

func (w *rowWriter) count() error {
	if w.ops++; w.ops < commitOps {
		return nil
	}
	if err := w.b.Commit(false); err != nil {
		return err
	}
	w.b.Close()
	failpoint.Hit("cluster-rows")
	w.b, w.ops = w.store.NewBatch(), 0
	return nil
}

// writeBuild is phase 2 of Build: the rows of the final forest, the
// aggregates from one pass over the outputs, the spilled merges, and the
// tip last.
func (c *Clusterer) writeBuild() (*Stats, error) {
	f, bs := c.f, c.build
	n := f.n()
	st := c.run
	st.Height = int64(c.tip.Height)
	if c.tip.NTx == 0 {
		st.Height = -1
	}
	st.Merges = c.tip.Merges
	st.Addresses = n
	st.Superclusters = []ClusterSize{}
	if bs.n != c.tip.Merges {
		return nil, fmt.Errorf("%w: %d merges spilled, the tip counts %d", ErrInternal, bs.n, c.tip.Merges)
	}
	// Flatten the forest and number the clusters of two or more in root
	// order; then parent[a] becomes the number of a's cluster (0: a cluster
	// of one) and the size array is free for the members (below).
	var k uint32
	for a := uint32(1); a <= n; a++ {
		f.parent[a] = f.find(a)
		if f.parent[a] == a && f.size[a] >= 2 {
			k++
		}
	}
	var err error
	if bs.aggs, err = newScratch(bs.ixDir, int(unsafe.Sizeof(buildAgg{}))); err != nil {
		return nil, err
	}
	if err := bs.aggs.ensure(int(k) + 1); err != nil {
		return nil, err
	}
	aggs := bs.aggs.buildAggs()
	k = 0
	for a := uint32(1); a <= n; a++ {
		if f.parent[a] != a {
			continue
		}
		if f.size[a] < 2 {
			f.size[a] = 0
			continue
		}
		k++
		aggs[k] = buildAgg{Size: f.size[a], Root: a, First: noHeight}
		f.size[a] = k
	}
	nc := k
	for a := uint32(1); a <= n; a++ {
		f.parent[a] = f.size[f.parent[a]]
	}
	if err := c.totalOutputs(aggs); err != nil {
		return nil, err
	}

	b := c.ix.Store.NewBatch()
	b.DeleteRange([]byte{prefix}, []byte{prefix + 1})
	b.Set(key1(kVersion), []byte{schemaVersion})
	b.Set(key1(kOptions), encodeOptions(c.opts))
	b.Set(key1(kIncomplete), nil)
	err = b.Commit(true)
	b.Close()
	if err != nil {
		return nil, err
	}
	failpoint.Hit("cluster-wipe")
	// Rows in key order within each kind: addresses, clusters, members
	// (counting sort into the free size array), then the merges in sorted
	// chunks.
	w := &rowWriter{store: c.ix.Store, b: c.ix.Store.NewBatch()}
	defer func() { w.b.Close() }()
	for a := uint32(1); a <= n; a++ {
		if k := f.parent[a]; k != 0 {
			if err := w.set(keyU32(kAddr, a), u32le(aggs[k].Root)); err != nil {
				return nil, err
			}
		}
	}
	var off uint32
	for k := uint32(1); k <= nc; k++ {
		g := &aggs[k]
		if err := w.set(keyU32(kAgg, g.Root), agg{Size: g.Size, Balance: g.Balance, Received: g.Received, First: g.First, Last: g.Last}.encode()); err != nil {
			return nil, err
		}
		st.addCluster(ClusterSize{ClusterID(g.Root), g.Size}, c.opts.SuperclusterSize)
		g.Size, off = off, off+g.Size // from here on: the cluster's next slot in members
	}
	st.sortSuper()
	members := f.size
	for a := uint32(1); a <= n; a++ {
		if k := f.parent[a]; k != 0 {
			members[aggs[k].Size] = a
			aggs[k].Size++
		}
	}
	off = 0
	for k := uint32(1); k <= nc; k++ {
		for ; off < aggs[k].Size; off++ {
			if err := w.set(keyU32x2(kMember, aggs[k].Root, members[off]), nil); err != nil {
				return nil, err
			}
		}
	}
	if err := bs.w.Flush(); err != nil {
		return nil, fmt.Errorf("cluster: spilling merges: %w", err)
	}
	if _, err := bs.mf.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("cluster: reading spilled merges: %w", err)
	}
	rd := bufio.NewReaderSize(bs.mf.f, 1<<20)
	chunk := make([]mergeRec, 0, max(1, min(commitOps/2, 1<<19)))
	for i := uint64(0); i < bs.n; {
		chunk = chunk[:0]
		for ; i < bs.n && len(chunk) < cap(chunk); i++ {
			if _, err := io.ReadFull(rd, bs.buf[:]); err != nil {
				return nil, fmt.Errorf("cluster: reading spilled merges: %w", err)
			}
			m, err := decodeMerge(binary.LittleEndian.Uint32(bs.buf[:]), bs.buf[4:])
			if err != nil {
				return nil, err
			}
			chunk = append(chunk, m)
		}
		slices.SortFunc(chunk, func(x, y mergeRec) int {
			return cmp.Or(cmp.Compare(x.Survivor, y.Survivor), cmp.Compare(x.Retired, y.Retired))
		})
		for _, m := range chunk {
			if err := w.set(keyU32x2(kJoined, m.Survivor, m.Retired), nil); err != nil {
				return nil, err
			}
		}
		slices.SortFunc(chunk, func(x, y mergeRec) int { return cmp.Compare(x.Retired, y.Retired) })
		for _, m := range chunk {
			if err := w.set(keyU32(kRetired, m.Retired), m.encode()); err != nil {
				return nil, err
			}
		}
	}
	w.b.Set(key1(kTip), c.tip.encode())
	w.b.Delete(key1(kIncomplete))
	failpoint.Hit("cluster-tip")
	if err := w.b.Commit(true); err != nil {
		return nil, err
	}
	st.MemoryBytes = int64(f.memBytes() + bs.aggs.bytes())
	return &st, nil
}

// totalOutputs sums every clustered output into the aggregates of its
// cluster: received, balance (unless spent within the clustered
// transactions) and the heights of the transactions that paid or spent it.
// It reads the outputs in order, a sequential pass over outs.col.
func (c *Clusterer) totalOutputs(aggs []buildAgg) error {
	f, ix := c.f, c.ix
	const chunk = 4096
	for tx := uint32(0); tx < c.tip.NTx; {
		end := min(tx+chunk, c.tip.NTx)
		ix.ReadLock()
		if ix.NumTxs() < end {
			ix.ReadUnlock()
			return fmt.Errorf("%w: the index was rolled back below the clustered tip during the build", ErrRebuild)
		}
		for ; tx < end; tx++ {
			h := ix.TxHeight(tx)
			first, no := ix.TxOutputs(tx)
			for o := first; o < first+uint64(no); o++ {
				a := ix.OutAddr(o)
				if a == 0 {
					continue
				}
				if a > f.n() {
					ix.ReadUnlock()
					return fmt.Errorf("%w: output %d pays address id %d, %d addresses clustered", ErrCorrupt, o, a, f.n())
				}
				k := f.parent[a]
				if k == 0 {
					continue
				}
				g := &aggs[k]
				v := ix.OutValue(o)
				g.Received += v
				g.First, g.Last = min(g.First, h), max(g.Last, h)
				if sp := ix.OutSpender(o); sp != index.NoTx && sp < c.tip.NTx {
					hs := ix.TxHeight(sp)
					g.First, g.Last = min(g.First, hs), max(g.Last, hs)
				} else {
					g.Balance += v
				}
			}
		}
		ix.ReadUnlock()
	}
	return nil
}
