package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
)

// checkAgainst verifies the stored clustering of ix row by row against the
// reference partition ref and against the index itself: every address's
// cluster, the member rows, the aggregates (summed from each member's
// history, an independent path through the index), and the merge records
// (every address resolves to its cluster through them).
func checkAgainst(t *testing.T, ix *index.Index, ref []uint32) {
	t.Helper()
	r, err := Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	n := uint32(len(ref) - 1)
	if got := r.Tip().Addrs; got != n {
		t.Fatalf("clustered %d addresses, reference %d", got, n)
	}
	members := map[ClusterID][]uint32{}
	for a := uint32(1); a <= n; a++ {
		c, err := r.ClusterOf(a)
		if err != nil {
			t.Fatal(err)
		}
		if uint32(c) != ref[a] {
			t.Fatalf("address %d: cluster %d, reference %d", a, c, ref[a])
		}
		members[c] = append(members[c], a)
	}
	var merges uint64
	for c, ms := range members {
		got, err := r.Members(c, 0, MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ms) {
			t.Fatalf("cluster %d: members %v, want %v", c, got, ms)
		}
		merges += uint64(len(ms) - 1)
		a, _, err := r.aggregates(c)
		if err != nil {
			t.Fatal(err)
		}
		var want agg
		want.First = noHeight
		for _, m := range ms {
			av, err := ix.Address(m, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			want.Size++
			want.Balance += av.BalanceSat
			want.Received += av.ReceivedSat
			want.First = min(want.First, av.FirstHeight)
			want.Last = max(want.Last, av.LastHeight)
		}
		if a != want {
			t.Fatalf("cluster %d: aggregates %+v, want %+v", c, a, want)
		}
		for _, m := range ms {
			now, path, err := r.Resolve(ClusterID(m))
			if err != nil {
				t.Fatal(err)
			}
			if now != c || (m == uint32(c)) != (len(path) == 0) {
				t.Fatalf("address %d resolves to %d via %d merges, want cluster %d", m, now, len(path), c)
			}
			for _, mg := range path {
				if mg.RetiredSize > mg.SurvivorSize || (mg.RetiredSize == mg.SurvivorSize && mg.Retired < mg.Survivor) {
					t.Fatalf("merge %+v breaks the id rule", mg)
				}
			}
		}
	}
	if got := r.Tip().Merges; got != merges {
		t.Fatalf("tip counts %d merges, the partition needs %d", got, merges)
	}
	rows := 0
	for _, row := range dumpRows(t, ix) {
		if row[2:4] == "72" { // C r
			rows++
		}
	}
	if uint64(rows) != merges {
		t.Fatalf("%d merge records, want %d", rows, merges)
	}
}

func TestBuildMatchesReference(t *testing.T) {
	ix, _ := mainnetIndex(t, 0)
	for _, h := range append([]Heuristics{0, allHeuristics}, AllHeuristics()...) {
		t.Run(h.String(), func(t *testing.T) {
			opts := Options{Change: h}
			st, err := Build(context.Background(), ix, opts, testchain.Log(t))
			if err != nil {
				t.Fatal(err)
			}
			ref := reference(t, ix, opts)
			checkAgainst(t, ix, ref)
			var clusters, clustered uint32
			sizes := map[uint32]uint32{}
			for _, c := range ref[1:] {
				sizes[c]++
			}
			for _, s := range sizes {
				if s > 1 {
					clusters++
					clustered += s
				}
			}
			if st.Clusters != clusters || st.Clustered != clustered || st.Height != 4312 || st.Txs != 58 || st.Inputs != 247 {
				t.Fatalf("stats %+v; reference: %d clusters of %d addresses", st, clusters, clustered)
			}
		})
	}
}

// TestIncrementalEqualsBuild: building in steps as the index grows, with
// commits forced after every block, leaves exactly the rows of one build
// over the whole index.
func TestIncrementalEqualsBuild(t *testing.T) {
	defer func(n int) { commitOps = n }(commitOps)
	ctx := context.Background()
	opts := Options{Change: ClientChange}
	ix, blocks := mainnetIndex(t, 1000)
	commitOps = 1
	if _, err := Build(ctx, ix, opts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	for _, stop := range []int{1500, 200, 0} {
		if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{StopAfter: stop}); err != nil {
			t.Fatal(err)
		}
		st, err := Update(ctx, ix, opts, testchain.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		if st.Height != int64(ix.Tip().Height) {
			t.Fatalf("updated to %d, index tip %d", st.Height, ix.Tip().Height)
		}
	}
	st, err := Update(ctx, ix, opts, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Blocks != 0 || st.FromHeight != -1 {
		t.Fatalf("an update with nothing new clustered %d blocks from %d", st.Blocks, st.FromHeight)
	}
	incremental := dumpRows(t, ix)
	checkAgainst(t, ix, reference(t, ix, opts))
	commitOps = 1 << 20
	if _, err := Build(ctx, ix, opts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if full := dumpRows(t, ix); !slices.Equal(full, incremental) {
		t.Fatalf("incremental clustering left %d rows, one build %d; first difference %s", len(incremental), len(full), firstDiff(incremental, full))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return "at the end"
}

// TestResidentClusterer: one Clusterer kept in memory across index growth
// gives the rows of a fresh build.
func TestResidentClusterer(t *testing.T) {
	ctx := context.Background()
	ix, blocks := mainnetIndex(t, 2000)
	if _, err := Build(ctx, ix, Options{}, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	c, err := Load(ctx, ix, Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(ctx); err != nil {
		t.Fatal(err)
	}
	resident := dumpRows(t, ix)
	if _, err := Build(ctx, ix, Options{}, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if full := dumpRows(t, ix); !slices.Equal(full, resident) {
		t.Fatalf("resident clusterer differs from a build: %s", firstDiff(resident, full))
	}
}

func TestRollback(t *testing.T) {
	ctx := context.Background()
	ix, blocks := mainnetIndex(t, 0)
	if _, err := Build(ctx, ix, Options{}, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	before := dumpRows(t, ix)
	if err := ix.Rollback(3000); err != nil {
		t.Fatal(err)
	}
	const want = "cluster: rebuild needed: the clustering covers blocks up to height 4312 but the index was rolled back to height 3000; run `cointrail cluster build`"
	_, err := Update(ctx, ix, Options{}, testchain.Log(t))
	if err == nil || err.Error() != want || !errors.Is(err, ErrRebuild) {
		t.Fatalf("update after rollback: %v", err)
	}
	if _, err := ClusterOf(ix, 1); err == nil || err.Error() != want {
		t.Fatalf("query after rollback: %v", err)
	}
	// Re-ingesting the same blocks makes the clustering valid again.
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(ctx, ix, Options{}, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if after := dumpRows(t, ix); !slices.Equal(after, before) {
		t.Fatalf("rows changed over rollback and re-ingest: %s", firstDiff(before, after))
	}
	// After a rollback, Build starts over on what the index holds.
	if err := ix.Rollback(3000); err != nil {
		t.Fatal(err)
	}
	st, err := Build(ctx, ix, Options{}, testchain.Log(t))
	if err != nil || st.Height != 3000 {
		t.Fatalf("build after rollback: %+v, %v", st, err)
	}
	checkAgainst(t, ix, reference(t, ix, Options{}))
}

func TestStateErrors(t *testing.T) {
	ctx := context.Background()
	ix, _ := mainnetIndex(t, 300)
	for _, tc := range []struct {
		name string
		run  func() error
		is   error
		want string
	}{
		{"update before build", func() error { _, err := Update(ctx, ix, Options{}, nil); return err },
			ErrNotBuilt, "cluster: not built: no clustering in this data directory; run `cointrail cluster build`"},
		{"query before build", func() error { _, err := Entity(ix, "1", 0, 10); return err },
			ErrNotBuilt, "cluster: not built: no clustering in this data directory; run `cointrail cluster build`"},
		{"build", func() error {
			_, err := Build(ctx, ix, Options{Change: AddressType | PowerOfTen, PowerOfTenDigits: 5}, nil)
			return err
		}, nil, ""},
		{"other heuristics", func() error { _, err := Update(ctx, ix, Options{Change: AddressType}, nil); return err },
			ErrRebuild, "cluster: rebuild needed: the clustering was built with change heuristics address-type,power-of-ten (power-of-ten digits 5), not address-type (6); update with the same or build again"},
		{"other digits", func() error { _, err := Update(ctx, ix, Options{Change: AddressType | PowerOfTen}, nil); return err },
			ErrRebuild, "cluster: rebuild needed: the clustering was built with change heuristics address-type,power-of-ten (power-of-ten digits 5), not address-type,power-of-ten (6); update with the same or build again"},
		{"same", func() error {
			_, err := Update(ctx, ix, Options{Change: PowerOfTen | AddressType, PowerOfTenDigits: 5, SuperclusterSize: 7}, nil)
			return err
		}, nil, ""},
		{"bad digits", func() error { _, err := Build(ctx, ix, Options{PowerOfTenDigits: 16}, nil); return err },
			ErrBadInput, "cluster: bad input: power-of-ten digits 16 (want 1..15)"},
		{"bad heuristic bits", func() error { _, err := Build(ctx, ix, Options{Change: 1 << 6}, nil); return err },
			ErrBadInput, "cluster: bad input: unknown heuristic bits 0x40"},
		{"version", func() error {
			b := ix.Store.NewBatch()
			defer b.Close()
			b.Set(key1(kVersion), []byte{9})
			if err := b.Commit(true); err != nil {
				return err
			}
			_, err := Open(ix)
			return err
		}, ErrRebuild, "cluster: rebuild needed: the clustering has schema version 09, this cointrail writes 1"},
		{"corrupt tip", func() error {
			b := ix.Store.NewBatch()
			defer b.Close()
			b.Set(key1(kVersion), []byte{schemaVersion})
			b.Set(key1(kTip), []byte{1, 2, 3})
			if err := b.Commit(true); err != nil {
				return err
			}
			_, err := Open(ix)
			return err
		}, ErrCorrupt, "cluster: corrupt data: tip record of 3 bytes"},
	} {
		err := tc.run()
		if tc.is == nil {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
	if st, err := Status(ix); err == nil {
		t.Fatalf("status on a corrupt tip: %+v", st)
	}
}

func TestStatusKeepsSuperclusterSize(t *testing.T) {
	ctx := context.Background()
	ix, _ := mainnetIndex(t, 300)
	if _, err := Build(ctx, ix, Options{SuperclusterSize: 5}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(ctx, ix, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Status(ix)
	if err != nil || s.SuperclusterSize != 5 || s.PowerOfTenDigits != 6 || len(s.Heuristics) != 0 || s.Tip.Height != 299 {
		t.Fatalf("status %+v, %v", s, err)
	}
	if _, err := Update(ctx, ix, Options{SuperclusterSize: 9}, nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := Status(ix); s.SuperclusterSize != 9 {
		t.Fatalf("supercluster size %d after update with 9", s.SuperclusterSize)
	}
}

// TestCancel: a build cancelled before its first block commits an empty
// clustering; the next update finishes it as one build would.
func TestCancel(t *testing.T) {
	ix, _ := mainnetIndex(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st, err := Build(ctx, ix, Options{}, testchain.Log(t))
	if !errors.Is(err, context.Canceled) || st == nil || st.Height != -1 || st.Blocks != 0 {
		t.Fatalf("cancelled build: %+v, %v", st, err)
	}
	if _, err := Update(context.Background(), ix, Options{}, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	updated := dumpRows(t, ix)
	if _, err := Build(context.Background(), ix, Options{}, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if full := dumpRows(t, ix); !slices.Equal(full, updated) {
		t.Fatalf("update after a cancelled build differs from a build: %s", firstDiff(updated, full))
	}
}
