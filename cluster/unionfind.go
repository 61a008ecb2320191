package cluster

import "slices"

// forest is the union-find over address ids 1..n (index 0, "no address", is
// unused). Every address points straight at its cluster's root: a union
// relabels the smaller cluster, walking its circular member list, so a find
// is one array read and each address is relabelled at most log2(n) times.
// The root's id is the cluster id. Aggregates are kept at the roots.
//
// Memory per address: parent, size, next (4 B each), balance and received
// (8 B each), first and last height (4 B each): 36 B, plus two dirty bits.
type forest struct {
	parent, size, next []uint32
	bal, recv          []int64
	first, last        []uint32

	// Changes since the last commit (see commit.go): addresses whose
	// cluster changed, with the cluster their stored rows name (0: none),
	// clusters whose aggregates changed, and the merges.
	addrDirty, clusDirty []uint64
	dirtyAddrs           []dirtyAddr
	dirtyClus            []uint32
	merges               []mergeRec
}

type dirtyAddr struct{ addr, prev uint32 }

const noHeight = ^uint32(0)

// n is the highest address id covered.
func (f *forest) n() uint32 { return uint32(len(f.parent)) - 1 }

func newForest() *forest {
	f := &forest{}
	f.grow(0)
	return f
}

// grow covers addresses up to n, each its own cluster.
func (f *forest) grow(n uint32) {
	for a := uint32(len(f.parent)); a <= n; a++ {
		f.parent = append(f.parent, a)
		f.size = append(f.size, 1)
		f.next = append(f.next, a)
		f.bal = append(f.bal, 0)
		f.recv = append(f.recv, 0)
		f.first = append(f.first, noHeight)
		f.last = append(f.last, 0)
	}
	for w := (int(n) + 64) / 64; len(f.addrDirty) < w; {
		f.addrDirty = append(f.addrDirty, 0)
		f.clusDirty = append(f.clusDirty, 0)
	}
}

// reserve makes room for addresses up to n without reallocating.
func (f *forest) reserve(n uint32) {
	k := int(n) + 1 - len(f.parent)
	if k <= 0 {
		return
	}
	f.parent, f.size, f.next = slices.Grow(f.parent, k), slices.Grow(f.size, k), slices.Grow(f.next, k)
	f.bal, f.recv = slices.Grow(f.bal, k), slices.Grow(f.recv, k)
	f.first, f.last = slices.Grow(f.first, k), slices.Grow(f.last, k)
}

// touch records activity of cluster r at height h.
func (f *forest) touch(r, h uint32) {
	f.first[r] = min(f.first[r], h)
	f.last[r] = max(f.last[r], h)
}

func testAndSet(bs []uint64, i uint32) bool {
	w, m := i/64, uint64(1)<<(i%64)
	was := bs[w]&m != 0
	bs[w] |= m
	return was
}

func (f *forest) markCluster(r uint32) {
	if !testAndSet(f.clusDirty, r) {
		f.dirtyClus = append(f.dirtyClus, r)
	}
}

// markAddr records that a's cluster is about to change from r. Its stored
// rows name r exactly when a has not been marked since the last commit and
// r had two or more members: an unmarked address has the root it had at the
// commit, and a singleton that grew since would have been marked.
func (f *forest) markAddr(a, r uint32) {
	if testAndSet(f.addrDirty, a) {
		return
	}
	prev := r
	if f.size[r] < 2 {
		prev = 0
	}
	f.dirtyAddrs = append(f.dirtyAddrs, dirtyAddr{a, prev})
}

// union links the clusters of a and b; it reports whether they were apart.
// The larger cluster survives and keeps its id; on equal sizes the one with
// the smaller id (the older) does.
func (f *forest) union(a, b uint32, cause Cause, height, tx uint32) bool {
	s, r := f.parent[a], f.parent[b]
	if s == r {
		return false
	}
	if f.size[r] > f.size[s] || (f.size[r] == f.size[s] && r < s) {
		s, r = r, s
	}
	f.merges = append(f.merges, mergeRec{Retired: r, Survivor: s, Height: height, Tx: tx, Cause: cause,
		RetiredSize: f.size[r], SurvivorSize: f.size[s]})
	if f.size[s] == 1 {
		f.markAddr(s, s)
	}
	for y := r; ; {
		f.markAddr(y, r)
		f.parent[y] = s
		if y = f.next[y]; y == r {
			break
		}
	}
	f.next[r], f.next[s] = f.next[s], f.next[r]
	f.size[s] += f.size[r]
	f.bal[s] += f.bal[r]
	f.recv[s] += f.recv[r]
	f.first[s] = min(f.first[s], f.first[r])
	f.last[s] = max(f.last[s], f.last[r])
	f.markCluster(s)
	f.markCluster(r)
	return true
}

// clearDirty forgets the changes after a commit.
func (f *forest) clearDirty() {
	for _, d := range f.dirtyAddrs {
		f.addrDirty[d.addr/64] &^= 1 << (d.addr % 64)
	}
	for _, c := range f.dirtyClus {
		f.clusDirty[c/64] &^= 1 << (c % 64)
	}
	f.dirtyAddrs, f.dirtyClus, f.merges = f.dirtyAddrs[:0], f.dirtyClus[:0], f.merges[:0]
}

func (f *forest) aggOf(r uint32) agg {
	return agg{Size: f.size[r], Balance: f.bal[r], Received: f.recv[r], First: f.first[r], Last: f.last[r]}
}

// memBytes is the memory the union-find holds (36 B per address and the
// dirty bits); the changes pending a commit add at most about 8 B per row
// operation, and Update commits every commitOps of them.
func (f *forest) memBytes() int {
	return cap(f.parent)*4 + cap(f.size)*4 + cap(f.next)*4 + cap(f.bal)*8 + cap(f.recv)*8 + cap(f.first)*4 + cap(f.last)*4 +
		cap(f.addrDirty)*8 + cap(f.clusDirty)*8
}
