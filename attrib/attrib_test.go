package attrib

import (
	"context"
	"os"
	"testing"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/internal/testchain"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testchain.Cleanup()
	os.Exit(code)
}

func TestIsService(t *testing.T) {
	for cat, want := range map[string]bool{"exchange": true, "Exchange": true, "mixing_service": true, "gambling": true,
		"perpetrator": false, "sanction": false, "victim": false, "": false} {
		if IsService(cat) != want {
			t.Errorf("IsService(%q) = %v", cat, !want)
		}
	}
}

// TestClusterDefinedServices: an exchange address that carries no label of
// its own is attributed to the exchange once clustering links it to a
// cluster-defining label, and not before; own labels always count, and
// non-service labels never stop a trace.
func TestClusterDefinedServices(t *testing.T) {
	ix, _, truth := testchain.DMMIndex(t, 0, true)
	log := testchain.Log(t)
	before, err := Build(ix, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before.Clustered() {
		t.Fatal("clustered before any cluster build")
	}
	// Own labels: the victim's hot wallet is an exchange; the thief's
	// first address is a perpetrator, which a trace passes through.
	victim, _, err := ix.ParseAddr(truth.VictimAddress)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := before.Entity(victim); !ok || e.Label != "DMM Bitcoin" || e.Category != "exchange" {
		t.Fatalf("victim wallet: %+v %v", e, ok)
	}
	thief, _, _ := ix.ParseAddr(truth.AttackerAddress)
	if e, ok := before.Entity(thief); ok {
		t.Fatalf("the perpetrator's address is treated as a service: %+v", e)
	}
	if _, err := cluster.Build(context.Background(), ix, cluster.Options{}, log); err != nil {
		t.Fatal(err)
	}
	after, err := Build(ix, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Clustered() {
		t.Fatal("clusters not used after cluster build")
	}
	// Find an unlabelled address in a labelled exchange's cluster.
	gained := 0
	_, _, _, nAddr := ix.Tip().Counts()
	for a := uint32(1); a <= nAddr; a++ {
		if _, own := before.Entity(a); own {
			continue
		}
		if e, ok := after.Entity(a); ok {
			if e.Category != "exchange" && e.Category != "mixing_service" {
				t.Fatalf("address %d attributed to %+v", a, e)
			}
			gained++
		}
	}
	if gained == 0 {
		t.Fatal("clustering attributed no unlabelled address to a labelled service")
	}
	t.Logf("clustering attributed %d more addresses", gained)
}
