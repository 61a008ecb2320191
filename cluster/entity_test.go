package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/labels"
)

// labelled builds the clustering of the mainnet blocks and imports a TagPack
// that puts two cluster-defining labels of different actors on the largest
// cluster (a conflict), one on the second largest, and a plain label on a
// member of the largest.
func labelled(t *testing.T) (ix *index.Index, st *Stats, big, second ClusterID, bigMembers []uint32) {
	t.Helper()
	ix, _ = mainnetIndex(t, 0)
	st, err := Build(context.Background(), ix, Options{SuperclusterSize: 40}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	ref := reference(t, ix, Options{})
	sizes := map[uint32]int{}
	for _, c := range ref[1:] {
		sizes[c]++
	}
	ids := slices.Collect(maps.Keys(sizes))
	slices.SortFunc(ids, func(a, b uint32) int {
		if sizes[a] != sizes[b] {
			return sizes[b] - sizes[a]
		}
		return int(a) - int(b)
	})
	big, second = ClusterID(ids[0]), ClusterID(ids[1])
	if bigMembers, err = r.Members(big, 0, MaxPage); err != nil {
		t.Fatal(err)
	}
	secondMembers, err := r.Members(second, 0, MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	addr := func(a uint32) string { return ix.AddrString(a) }
	pack := fmt.Sprintf(`title: test
creator: cluster tests
source: https://example.org/test
currency: BTC
confidence: ownership
lastmod: 2024-01-01
tags:
- address: %s
  label: Alpha Exchange hot wallet
  actor: alpha
  category: exchange
  is_cluster_definer: true
- address: %s
  label: Beta Pool
  actor: Beta
  category: miner
  is_cluster_definer: true
- address: %s
  label: seen paying a shop
  category: user
- address: %s
  label: Gamma
  category: exchange
  is_cluster_definer: true
`, addr(bigMembers[1]), addr(bigMembers[len(bigMembers)-1]), addr(bigMembers[2]), addr(secondMembers[0]))
	path := filepath.Join(t.TempDir(), "pack.yaml")
	if err := os.WriteFile(path, []byte(pack), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := labels.Import(ix.Store, ix.Net, []string{path}, time.Unix(1700000000, 0), testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	return ix, st, big, second, bigMembers
}

func TestEntity(t *testing.T) {
	ix, st, big, second, members := labelled(t)
	if st.Largest.ID != big || st.Largest.Size != uint32(len(members)) {
		t.Fatalf("largest %+v, want cluster %d of %d", st.Largest, big, len(members))
	}
	r, err := Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	byAddr, err := r.Entity(ix.AddrString(members[3]), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := r.Entity(strconv.Itoa(int(big)), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	byAddr.Query = byID.Query
	if fmt.Sprint(byAddr) != fmt.Sprint(byID) {
		t.Fatalf("by address %+v\nby id %+v", byAddr, byID)
	}
	v := byID
	if v.ClusterID != big || v.Size != uint32(len(members)) || !v.Supercluster || len(v.ResolvedVia) != 0 {
		t.Fatalf("entity %+v", v)
	}
	if !v.Conflict || !slices.Equal(v.Entities, []string{"alpha", "beta"}) || len(v.Labels) != 2 || len(v.MemberLabels) != 1 ||
		v.MemberLabels[0].Label != "seen paying a shop" {
		t.Fatalf("labels %+v / %+v / %v", v.Labels, v.MemberLabels, v.Entities)
	}
	// Balance and activity against the members' own histories.
	var bal, recv int64
	first, last := noHeight, uint32(0)
	for _, m := range members {
		av, err := ix.Address(m, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		bal, recv = bal+av.BalanceSat, recv+av.ReceivedSat
		first, last = min(first, av.FirstHeight), max(last, av.LastHeight)
	}
	if v.BalanceSat != bal || v.ReceivedSat != recv || v.SentSat != recv-bal || v.FirstHeight != first || v.LastHeight != last ||
		v.FirstTime != ix.BlockTime(first) || v.AsOf != 4312 {
		t.Fatalf("aggregates %+v; members: balance %d received %d heights %d..%d", v, bal, recv, first, last)
	}
	// Pages concatenate to every member in id order.
	var all []string
	for off := 0; ; off += 7 {
		p, err := r.Entity(strconv.Itoa(int(big)), off, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Addresses) == 0 {
			break
		}
		all = append(all, p.Addresses...)
	}
	var want []string
	for _, m := range members {
		want = append(want, ix.AddrString(m))
	}
	if !slices.Equal(all, want) {
		t.Fatalf("pages %v\nwant %v", all, want)
	}
	// A member's id as a cluster id resolves through its merges.
	old, err := r.Entity(strconv.Itoa(int(members[len(members)-1])), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if old.ClusterID != big || len(old.ResolvedVia) == 0 || old.ResolvedVia[len(old.ResolvedVia)-1].Survivor != big ||
		old.ResolvedVia[0].Retired != ClusterID(members[len(members)-1]) {
		t.Fatalf("retired id resolves to %d via %+v", old.ClusterID, old.ResolvedVia)
	}
	sv, err := r.Entity(strconv.Itoa(int(second)), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sv.Conflict || !slices.Equal(sv.Entities, []string{"gamma"}) || sv.Supercluster {
		t.Fatalf("second cluster %+v", sv)
	}
	// Both ways of finding a cluster's labels agree on every cluster.
	for c := range uniqueClusters(t, r, ix) {
		a, err := r.labelsByMember(c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.labelsByScan(c)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("cluster %d: labels by member %v, by scan %v", c, a, b)
		}
	}
	// Attribution propagates exactly the cluster-defining labels.
	at, err := LoadAttribution(ix, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := at.Cluster(big); fmt.Sprint(got) != fmt.Sprint(v.Labels) || !slices.Equal(at.Entities(big), v.Entities) {
		t.Fatalf("attribution of cluster %d: %v", big, got)
	}
	if len(at.Address(members[2])) != 1 || len(at.Address(members[3])) != 0 {
		t.Fatalf("address labels %v / %v", at.Address(members[2]), at.Address(members[3]))
	}
}

func uniqueClusters(t *testing.T, r *Reader, ix *index.Index) map[ClusterID]bool {
	out := map[ClusterID]bool{}
	for a := uint32(1); a <= r.Tip().Addrs; a++ {
		c, err := r.ClusterOf(a)
		if err != nil {
			t.Fatal(err)
		}
		out[c] = true
	}
	return out
}

func TestMergesView(t *testing.T) {
	ix, _, big, _, members := labelled(t)
	r, err := Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.Merges(big, 0, MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	if root.MergedInto != nil || len(root.Absorbed) == 0 || root.More {
		t.Fatalf("merges of %d: %+v", big, root)
	}
	absorbed := 0
	for _, m := range root.Absorbed {
		if m.Survivor != big || m.Height > 4312 || len(m.TxID) != 64 {
			t.Fatalf("merge %+v", m)
		}
		absorbed += int(m.RetiredSize)
	}
	// Following the absorbed clusters' own merges covers every member once.
	var walk func(id ClusterID) int
	walk = func(id ClusterID) int {
		v, err := r.Merges(id, 0, MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		for _, m := range v.Absorbed {
			n += walk(m.Retired)
		}
		return n
	}
	if n := walk(big); n != len(members) {
		t.Fatalf("the merge tree under %d has %d clusters, the cluster %d members", big, n, len(members))
	}
	p, err := r.Merges(big, 1, 1)
	if err != nil || len(p.Absorbed) != 1 || p.Absorbed[0] != root.Absorbed[1] || p.More != (len(root.Absorbed) > 2) {
		t.Fatalf("page 1/1: %+v, %v", p, err)
	}
	leaf, err := r.Merges(ClusterID(members[len(members)-1]), 0, 5)
	if err != nil || leaf.MergedInto == nil {
		t.Fatalf("merges of a retired member: %+v, %v", leaf, err)
	}
}

func TestEntityErrors(t *testing.T) {
	ix, _ := mainnetIndex(t, 0)
	if _, err := Build(context.Background(), ix, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	testnet, _ := chain.NetworkByName("testnet")
	k, _ := chain.ParseAddress(mainnet(t), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
	tn := k.Encode(testnet)
	for _, tc := range []struct {
		ref           string
		offset, limit int
		is            error
		want          string
	}{
		{"0", 0, 10, ErrBadInput, `cluster: bad input: cluster id "0" (want 1..4294967295)`},
		{"4294967296", 0, 10, ErrBadInput, `cluster: bad input: cluster id "4294967296" (want 1..4294967295)`},
		{"99999", 0, 10, ErrNotFound, "cluster: not found: address id 99999: the index holds 4357 addresses"},
		{"1", -1, 10, ErrBadInput, "cluster: bad input: negative offset -1"},
		{"1", 0, 0, ErrBadInput, "cluster: bad input: page size 0 (want 1..10000)"},
		{"1", 0, MaxPage + 1, ErrBadInput, "cluster: bad input: page size 10001 (want 1..10000)"},
		{"nonsense", 0, 10, index.ErrBadInput, `index: bad input: chain: bad input: "nonsense" is not a mainnet address`},
		{tn, 0, 10, chain.ErrWrongNetwork, `index: bad input: chain: wrong network: address "` + tn + `" is a testnet address, the index is mainnet`},
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 0, 10, index.ErrNotFound, "index: not found: address 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 has no transactions in the index"},
	} {
		_, err := Entity(ix, tc.ref, tc.offset, tc.limit)
		if !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("%q %d/%d:\n got %v\nwant %s", tc.ref, tc.offset, tc.limit, err, tc.want)
		}
	}
	if _, err := ClusterOf(ix, 0); err == nil || err.Error() != "cluster: bad input: address id 0 names no address" {
		t.Errorf("cluster of address 0: %v", err)
	}
}
