package cluster

import (
	"cmp"
	"slices"
)

// pendingOps estimates the row operations the next commit carries.
func (c *Clusterer) pendingOps() int {
	f := c.f
	return 3*len(f.dirtyAddrs) + len(f.dirtyClus) + 2*len(f.merges)
}

// commit writes the changes since the last commit and the tip in one batch:
// for every address whose cluster changed, its address row is rewritten and
// its member row moves from the cluster its rows named to its root; the
// aggregates of every changed cluster are rewritten (deleted once retired);
// every merge gets its record and its reverse row. Rows go in key order
// (prefixes a < c < j < m < r, integers sorted within each), which the
// memtable inserts several times faster than random order; no key is both
// set and deleted, since a retired cluster is never a root again.
func (c *Clusterer) commit(sync bool) error {
	f := c.f
	b := c.ix.Store.NewBatch()
	defer b.Close()
	slices.SortFunc(f.dirtyAddrs, func(x, y dirtyAddr) int { return cmp.Compare(x.addr, y.addr) })
	for _, d := range f.dirtyAddrs {
		b.Set(keyU32(kAddr, d.addr), u32le(f.parent[d.addr]))
	}
	slices.Sort(f.dirtyClus)
	for _, r := range f.dirtyClus {
		if f.parent[r] != r {
			b.Delete(keyU32(kAgg, r))
		} else {
			b.Set(keyU32(kAgg, r), f.aggOf(r).encode())
		}
	}
	slices.SortFunc(f.merges, func(x, y mergeRec) int {
		return cmp.Or(cmp.Compare(x.Survivor, y.Survivor), cmp.Compare(x.Retired, y.Retired))
	})
	for _, m := range f.merges {
		b.Set(keyU32x2(kJoined, m.Survivor, m.Retired), nil)
	}
	type memberOp struct {
		cluster, addr uint32
		del           bool
	}
	ops := make([]memberOp, 0, len(f.dirtyAddrs)*2)
	for _, d := range f.dirtyAddrs {
		root := f.parent[d.addr]
		if d.prev != 0 && d.prev != root {
			ops = append(ops, memberOp{d.prev, d.addr, true})
		}
		ops = append(ops, memberOp{root, d.addr, false})
	}
	slices.SortFunc(ops, func(x, y memberOp) int { return cmp.Or(cmp.Compare(x.cluster, y.cluster), cmp.Compare(x.addr, y.addr)) })
	for _, op := range ops {
		if op.del {
			b.Delete(keyU32x2(kMember, op.cluster, op.addr))
		} else {
			b.Set(keyU32x2(kMember, op.cluster, op.addr), nil)
		}
	}
	slices.SortFunc(f.merges, func(x, y mergeRec) int { return cmp.Compare(x.Retired, y.Retired) })
	for _, m := range f.merges {
		b.Set(keyU32(kRetired, m.Retired), m.encode())
	}
	if c.optsDirty {
		b.Set(key1(kOptions), encodeOptions(c.opts))
	}
	b.Set(key1(kTip), c.tip.encode())
	if err := b.Commit(sync); err != nil {
		return err
	}
	c.optsDirty = false
	c.counted = 0
	f.clearDirty()
	return nil
}

// summary counts the clusters after a run.
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
		s := ClusterSize{ClusterID(a), f.size[a]}
		st.Clusters++
		st.Clustered += s.Size
		if s.Size > st.Largest.Size {
			st.Largest = s
		}
		if s.Size >= c.opts.SuperclusterSize {
			st.Superclusters = append(st.Superclusters, s)
		}
	}
	slices.SortFunc(st.Superclusters, func(a, b ClusterSize) int { return cmp.Or(cmp.Compare(b.Size, a.Size), cmp.Compare(a.ID, b.ID)) })
	st.MemoryBytes = int64(f.memBytes())
	return &st
}
