package cluster

import (
	"context"
	"fmt"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/shareddata"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/pattern"
)

func mainnet(t testing.TB) chain.Network {
	n, err := chain.NetworkByName("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mainnetIndex ingests the first stop blocks (0: all 4,313) of mainnet.
func mainnetIndex(t testing.TB, stop int) (*index.Index, string) {
	t.Helper()
	blocks := shareddata.BlocksDir(t, "blk00000-heights-0-4312.dat")
	ix, err := index.Open(t.TempDir(), mainnet(t), index.Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.IngestBlkDir(context.Background(), blocks, index.IngestOptions{StopAfter: stop}); err != nil {
		t.Fatal(err)
	}
	return ix, blocks
}

// dumpRows returns every row under the 'C' prefix as "key=value" hex lines.
func dumpRows(t testing.TB, ix *index.Index) []string {
	t.Helper()
	it, err := ix.Store.NewIter([]byte{prefix}, []byte{prefix + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, fmt.Sprintf("%x=%x", it.Key(), it.Value()))
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

// reference clusters the index the slow, obvious way: a map-based
// union-find with path compression over the same rules (skip coinbases and
// what pattern.Detect calls a CoinJoin, link the inputs, link the change
// output changeFinder names), applying the id rule (the larger cluster's
// id survives, the smaller id on a tie). It returns the cluster id of every
// address 1..n.
func reference(t testing.TB, ix *index.Index, opts Options) []uint32 {
	t.Helper()
	opts, err := opts.normalized()
	if err != nil {
		t.Fatal(err)
	}
	cf := newChangeFinder(opts)
	parent := map[uint32]uint32{}
	size := map[uint32]uint32{}
	var find func(a uint32) uint32
	find = func(a uint32) uint32 {
		p, ok := parent[a]
		if !ok || p == a {
			return a
		}
		r := find(p)
		parent[a] = r
		return r
	}
	sz := func(r uint32) uint32 {
		if s, ok := size[r]; ok {
			return s
		}
		return 1
	}
	union := func(a, b uint32) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		s, r := ra, rb
		if sz(r) > sz(s) || (sz(r) == sz(s) && r < s) {
			s, r = r, s
		}
		parent[r] = s
		size[s] = sz(s) + sz(r)
	}
	var v pattern.TxView
	var maxAddr uint32
	for tx := uint32(0); tx < ix.NumTxs(); tx++ {
		pattern.ViewOf(ix, tx, &v)
		fresh := maxAddr + 1
		for _, a := range v.OutAddrs {
			maxAddr = max(maxAddr, a)
		}
		if len(v.InAddrs) == 0 || pattern.Detect(v).IsCoinJoin() {
			continue
		}
		for _, a := range v.InAddrs[1:] {
			union(v.InAddrs[0], a)
		}
		var types []uint8
		first, n := ix.TxInputs(tx)
		for in := first; in < first+uint64(n); in++ {
			types = append(types, ix.OutType(ix.InputPrevOut(in)))
		}
		if j := cf.find(&v, types, fresh); j >= 0 {
			union(v.InAddrs[0], v.OutAddrs[j])
		}
	}
	out := make([]uint32, maxAddr+1)
	for a := uint32(1); a <= maxAddr; a++ {
		out[a] = find(a)
	}
	return out
}
