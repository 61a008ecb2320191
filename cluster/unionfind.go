package cluster

// forest is the union-find over address ids 1..n (index 0, "no address", is
// unused): a parent and a size per address, both u32 arrays in
// memory-mapped scratch files (mmap.go), 8 bytes per address and nothing
// else per address — mainnet's ~1.4 billion addresses take ~11 GB of
// file-backed pages that the kernel may evict, not 50 GB of heap.
//
// Union is by size with the package's id rule (the larger cluster's root
// survives, on equal sizes the smaller id), find uses path halving. The
// id rule only looks at roots and sizes, so the merges and ids are those of
// any union-find that applies the same rule — the former design relabelled
// every member on each union and gives the same rows. size is only
// meaningful at roots.
type forest struct {
	pf, sf       *scratch
	parent, size []uint32 // views of pf and sf; len is the capacity
	nAddr        uint32
}

const noHeight = ^uint32(0)

// n is the highest address id covered.
func (f *forest) n() uint32 { return f.nAddr }

func newForest(ixDir string) (*forest, error) {
	f := &forest{}
	var err error
	if f.pf, err = newScratch(ixDir, 4); err != nil {
		return nil, err
	}
	if f.sf, err = newScratch(ixDir, 4); err != nil {
		f.pf.close()
		return nil, err
	}
	if err := f.reserve(0); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *forest) close() error {
	if f == nil {
		return nil
	}
	err := f.pf.close()
	if e := f.sf.close(); err == nil {
		err = e
	}
	f.parent, f.size = nil, nil
	return err
}

// reserve maps room for addresses up to n.
func (f *forest) reserve(n uint32) error {
	if int(n) < len(f.parent) {
		return nil
	}
	if err := f.pf.ensure(int(n) + 1); err != nil {
		return err
	}
	if err := f.sf.ensure(int(n) + 1); err != nil {
		return err
	}
	f.parent, f.size = f.pf.u32s(), f.sf.u32s()
	return nil
}

// grow covers addresses up to n, each its own cluster.
func (f *forest) grow(n uint32) error {
	if n <= f.nAddr {
		return nil
	}
	if err := f.reserve(n); err != nil {
		return err
	}
	for a := f.nAddr + 1; a <= n; a++ {
		f.parent[a], f.size[a] = a, 1
	}
	f.nAddr = n
	return nil
}

// find returns a's root, halving the path on the way.
func (f *forest) find(a uint32) uint32 {
	p := f.parent
	for p[a] != a {
		p[a] = p[p[a]]
		a = p[a]
	}
	return a
}

// pick returns the root that survives a union of the clusters of a and b
// and the root it retires; ok is false if they are one cluster.
func (f *forest) pick(a, b uint32) (s, r uint32, ok bool) {
	s, r = f.find(a), f.find(b)
	if s == r {
		return 0, 0, false
	}
	if f.size[r] > f.size[s] || (f.size[r] == f.size[s] && r < s) {
		s, r = r, s
	}
	return s, r, true
}

// link retires root r into root s.
func (f *forest) link(s, r uint32) {
	f.parent[r] = s
	f.size[s] += f.size[r]
}

// memBytes is what the forest maps: 8 B per address of capacity.
func (f *forest) memBytes() int { return f.pf.bytes() + f.sf.bytes() }

func touchAgg(a *agg, h uint32) {
	a.First = min(a.First, h)
	a.Last = max(a.Last, h)
}
