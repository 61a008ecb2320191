package screen

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/sim"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testchain.Cleanup()
	os.Exit(code)
}

func simChain(t testing.TB) (string, *sim.Truth) { return testchain.DMM(t) }

// simIndex ingests the chain into a fresh regtest index, imports its
// labels.yaml and, with clustered, builds the multi-input clustering.
func simIndex(t testing.TB, clustered bool) (*index.Index, *sim.Truth) {
	t.Helper()
	ix, _, truth := testchain.DMMIndex(t, 0, true)
	if clustered {
		if _, err := cluster.Build(context.Background(), ix, cluster.Options{}, testchain.Log(t)); err != nil {
			t.Fatal(err)
		}
	}
	return ix, truth
}

// addrID is the id of an address string of the index.
func addrID(t testing.TB, ix *index.Index, s string) uint32 {
	t.Helper()
	id, _, err := ix.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// received lists the outputs address id a received, from the graph.
func received(ix *index.Index, a uint32) []uint64 {
	var outs []uint64
	for o := range ix.NumOuts() {
		if ix.OutAddr(o) == a {
			outs = append(outs, o)
		}
	}
	return outs
}

// fundedOnlyBy reports whether every input of the tx that created o spends
// an output of one of the addresses in from.
func fundedOnlyBy(ix *index.Index, o uint64, from map[uint32]bool) bool {
	first, n := ix.TxInputs(ix.OutTx(o))
	if n == 0 {
		return false
	}
	for in := first; in < first+uint64(n); in++ {
		if !from[ix.OutAddr(ix.InputPrevOut(in))] {
			return false
		}
	}
	return true
}

type simTag struct{ address, label string }

// simTags reads the address and label of every tag of labels.yaml.
func simTags(t testing.TB) []simTag {
	t.Helper()
	dir, _ := simChain(t)
	b, err := os.ReadFile(filepath.Join(dir, "labels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tp struct {
		Tags []struct {
			Address string `yaml:"address"`
			Label   string `yaml:"label"`
		} `yaml:"tags"`
	}
	if err := yaml.Unmarshal(b, &tp); err != nil {
		t.Fatal(err)
	}
	var out []simTag
	for _, x := range tp.Tags {
		out = append(out, simTag{x.Address, x.Label})
	}
	return out
}
