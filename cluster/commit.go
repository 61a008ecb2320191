package cluster

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cointrail/cointrail/internal/failpoint"
	"github.com/cointrail/cointrail/kv"
)

// pendingOps estimates the row operations the next commit carries.
func (c *Clusterer) pendingOps() int {
	return 3*len(c.singles) + 3*c.relabels + len(c.pending) + 2*len(c.merges)
}

// dirtyAddr is an address whose cluster changed since the last commit and
// the cluster its stored rows name (0: it has none).
type dirtyAddr struct{ addr, prev uint32 }

// changedAddrs lists the addresses whose cluster changed since the last
// commit: those that had no rows (clusters of one that joined another) and
// the stored members of every cluster retired since — read from their
// member rows, which still describe the last commit. The two sets are
// disjoint, and no address is a stored member of two clusters.
func (c *Clusterer) changedAddrs() ([]dirtyAddr, error) {
	out := make([]dirtyAddr, 0, len(c.singles)+c.relabels)
	for _, a := range c.singles {
		out = append(out, dirtyAddr{a, 0})
	}
	for _, m := range c.merges {
		lo := keyU32(kMember, m.Retired)
		it, err := c.ix.Store.NewIter(lo, kv.PrefixEnd(lo))
		if err != nil {
			return nil, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if len(k) != 10 {
				it.Close()
				return nil, fmt.Errorf("%w: member key %x", ErrCorrupt, k)
			}
			out = append(out, dirtyAddr{binary.BigEndian.Uint32(k[6:]), m.Retired})
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// commit writes the changes since the last commit and the tip in one batch:
// for every address whose cluster changed, its address row is rewritten and
// its member row moves from the cluster its rows named to its root; the
// aggregates of every changed cluster are rewritten (deleted once retired);
// every merge gets its record and its reverse row. Rows go in key order
// (prefixes a < c < j < m < r, integers sorted within each), which the
// memtable inserts several times faster than random order; no key is both
// set and deleted, since a retired cluster is never a root again.
//
// The batch is the unit of crash safety of Update: it leaves the stored
// clustering complete as of the block boundary it names, and a process
// killed (or a machine losing power) before it commits leaves the previous
// commit's — the union-find in the scratch files is lost with the process
// and rebuilt by Load. Update syncs every commit, so the work of a killed
// update up to its last commit is kept.
func (c *Clusterer) commit(sync bool) error {
	f := c.f
	dirty, err := c.changedAddrs()
	if err != nil {
		return err
	}
	b := c.ix.Store.NewBatch()
	defer b.Close()
	slices.SortFunc(dirty, func(x, y dirtyAddr) int { return cmp.Compare(x.addr, y.addr) })
	roots := make([]uint32, len(dirty))
	for i, d := range dirty {
		roots[i] = f.find(d.addr)
		b.Set(keyU32(kAddr, d.addr), u32le(roots[i]))
	}
	type aggOp struct {
		cluster uint32
		del     bool
	}
	aggs := make([]aggOp, 0, len(c.pending)+len(c.merges))
	for r := range c.pending {
		if f.parent[r] == r && f.size[r] >= 2 {
			aggs = append(aggs, aggOp{r, false})
		}
	}
	for _, m := range c.merges {
		aggs = append(aggs, aggOp{m.Retired, true})
	}
	slices.SortFunc(aggs, func(x, y aggOp) int { return cmp.Compare(x.cluster, y.cluster) })
	for _, op := range aggs {
		if op.del {
			b.Delete(keyU32(kAgg, op.cluster))
			continue
		}
		g := c.pending[op.cluster]
		if g.Size != f.size[op.cluster] {
			return fmt.Errorf("%w: cluster %d: aggregates count %d addresses, the union-find %d", ErrInternal, op.cluster, g.Size, f.size[op.cluster])
		}
		b.Set(keyU32(kAgg, op.cluster), g.encode())
	}
	slices.SortFunc(c.merges, func(x, y mergeRec) int {
		return cmp.Or(cmp.Compare(x.Survivor, y.Survivor), cmp.Compare(x.Retired, y.Retired))
	})
	for _, m := range c.merges {
		b.Set(keyU32x2(kJoined, m.Survivor, m.Retired), nil)
	}
	type memberOp struct {
		cluster, addr uint32
		del           bool
	}
	ops := make([]memberOp, 0, len(dirty)*2)
	for i, d := range dirty {
		if d.prev != 0 && d.prev != roots[i] {
			ops = append(ops, memberOp{d.prev, d.addr, true})
		}
		ops = append(ops, memberOp{roots[i], d.addr, false})
	}
	dirty, roots = nil, nil
	slices.SortFunc(ops, func(x, y memberOp) int { return cmp.Or(cmp.Compare(x.cluster, y.cluster), cmp.Compare(x.addr, y.addr)) })
	for _, op := range ops {
		if op.del {
			b.Delete(keyU32x2(kMember, op.cluster, op.addr))
		} else {
			b.Set(keyU32x2(kMember, op.cluster, op.addr), nil)
		}
	}
	slices.SortFunc(c.merges, func(x, y mergeRec) int { return cmp.Compare(x.Retired, y.Retired) })
	for _, m := range c.merges {
		b.Set(keyU32(kRetired, m.Retired), m.encode())
	}
	if c.optsDirty {
		b.Set(key1(kOptions), encodeOptions(c.opts))
	}
	b.Set(key1(kTip), c.tip.encode())
	failpoint.Hit("cluster-commit")
	if err := b.Commit(sync); err != nil {
		return err
	}
	c.optsDirty = false
	c.singles, c.merges, c.relabels = c.singles[:0], c.merges[:0], 0
	clear(c.pending)
	return nil
}

// summary counts the clusters after an update: one sequential sweep of
// the union-find.
func (c *Clusterer) summary() *Stats {
	st := c.run
	f := c.f
	st.Height = int64(c.tip.Height)
	if c.tip.NTx == 0 {
		st.Height = -1
	}
	st.Merges = c.tip.Merges
	st.Addresses = f.n()
	st.Superclusters = []ClusterSize{}
	for a := uint32(1); a <= f.n(); a++ {
		if f.parent[a] != a || f.size[a] < 2 {
			continue
		}
		st.addCluster(ClusterSize{ClusterID(a), f.size[a]}, c.opts.SuperclusterSize)
	}
	st.sortSuper()
	st.MemoryBytes = int64(f.memBytes())
	return &st
}

func (st *Stats) addCluster(s ClusterSize, super uint32) {
	st.Clusters++
	st.Clustered += s.Size
	if s.Size > st.Largest.Size {
		st.Largest = s
	}
	if s.Size >= super {
		st.Superclusters = append(st.Superclusters, s)
	}
}

func (st *Stats) sortSuper() {
	slices.SortFunc(st.Superclusters, func(a, b ClusterSize) int { return cmp.Or(cmp.Compare(b.Size, a.Size), cmp.Compare(a.ID, b.ID)) })
}
