package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/sim"
)

// Accuracy scores a clustering against the true owner of every address.
// Rates are over address pairs: FalseMerge is the share of pairs put in one
// cluster that belong to different actors (1 − pairwise precision),
// MissedMerge the share of pairs of one actor left in different clusters
// (1 − pairwise recall).
type Accuracy struct {
	Heuristics   string
	Addresses    int // scored: owned and in the index
	Actors       int
	Clusters     int // clusters the scored addresses fall in
	Impure       int // clusters holding addresses of two or more actors
	ImpureAddrs  int // addresses in them
	ChangeMerges uint64
	FalseMerge   float64
	MissedMerge  float64
}

type pairCounts struct{ sameCluster, sameActor, both int64 }

func pairs(n int64) int64 { return n * (n - 1) / 2 }

// countPairs counts pairs from the contingency of cluster and actor.
func countPairs(clusters []ClusterID, actors []string) pairCounts {
	byC, byA, byCA := map[ClusterID]int64{}, map[string]int64{}, map[string]int64{}
	for i, c := range clusters {
		byC[c]++
		byA[actors[i]]++
		byCA[fmt.Sprint(c, "\x00", actors[i])]++
	}
	var p pairCounts
	for _, n := range byC {
		p.sameCluster += pairs(n)
	}
	for _, n := range byA {
		p.sameActor += pairs(n)
	}
	for _, n := range byCA {
		p.both += pairs(n)
	}
	return p
}

// score clusters ix with opts and scores it against truth's owners.
func score(t testing.TB, ix *index.Index, truth *sim.Truth, opts Options) Accuracy {
	t.Helper()
	st, err := Build(context.Background(), ix, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	var clusters []ClusterID
	var actors []string
	seenActor := map[string]bool{}
	seenCluster := map[ClusterID]map[string]bool{}
	for _, o := range truth.Owners {
		id, _, err := ix.ParseAddr(o.Address)
		if err != nil {
			t.Fatalf("owner of %s: %v", o.Address, err)
		}
		c, err := r.ClusterOf(id)
		if err != nil {
			t.Fatal(err)
		}
		clusters = append(clusters, c)
		actors = append(actors, o.Actor)
		seenActor[o.Actor] = true
		if seenCluster[c] == nil {
			seenCluster[c] = map[string]bool{}
		}
		seenCluster[c][o.Actor] = true
	}
	a := Accuracy{Heuristics: opts.Change.String(), Addresses: len(clusters), Actors: len(seenActor), Clusters: len(seenCluster), ChangeMerges: st.ChangeMerges}
	for _, as := range seenCluster {
		if len(as) > 1 {
			a.Impure++
		}
	}
	for _, c := range clusters {
		if len(seenCluster[c]) > 1 {
			a.ImpureAddrs++
		}
	}
	p := countPairs(clusters, actors)
	if p.sameCluster > 0 {
		a.FalseMerge = 1 - float64(p.both)/float64(p.sameCluster)
	}
	if p.sameActor > 0 {
		a.MissedMerge = 1 - float64(p.both)/float64(p.sameActor)
	}
	// The contingency formula against brute force over a sample.
	if n := min(len(clusters), 1500); n > 0 {
		var b pairCounts
		for i := range n {
			for j := i + 1; j < n; j++ {
				sc, sa := clusters[i] == clusters[j], actors[i] == actors[j]
				if sc {
					b.sameCluster++
				}
				if sa {
					b.sameActor++
				}
				if sc && sa {
					b.both++
				}
			}
		}
		if got := countPairs(clusters[:n], actors[:n]); got != b {
			t.Fatalf("pair counts %+v, brute force %+v", got, b)
		}
	}
	return a
}

// TestAccuracyReport scores the multi-input clustering alone and with each
// change heuristic on the simulator's dmm-2024 chain and prints the table
// of docs/clustering.md (go test -run TestAccuracyReport -v ./cluster).
func TestAccuracyReport(t *testing.T) {
	ix, _, truth := simIndex(t, 0)
	configs := append([]Heuristics{0}, AllHeuristics()...)
	configs = append(configs, ClientChange|OptimalChange, allHeuristics&^AddressReuse)
	var rows []Accuracy
	for _, h := range configs {
		rows = append(rows, score(t, ix, truth, Options{Change: h}))
	}
	base := rows[0]
	var b strings.Builder
	fmt.Fprintf(&b, "dmm-2024 seed %d, %d txs: %d addresses of %d actors\n\n", simConfig.Seed, ix.NumTxs(), base.Addresses, base.Actors)
	b.WriteString("| change heuristics | change links | clusters | impure clusters | addresses in them | false-merge rate | missed-merge rate |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %.4f%% | %.4f%% |\n", a.Heuristics, a.ChangeMerges, a.Clusters, a.Impure, a.ImpureAddrs, 100*a.FalseMerge, 100*a.MissedMerge)
		// Change links only join clusters: no pair of one actor can come apart.
		if a.MissedMerge > base.MissedMerge+1e-12 || a.Clusters > base.Clusters {
			t.Errorf("%s: missed-merge rate %.6f / %d clusters, above multi-input alone (%.6f / %d)", a.Heuristics, a.MissedMerge, a.Clusters, base.MissedMerge, base.Clusters)
		}
	}
	t.Log("\n" + b.String())
}
