package accuracy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/sim"
	"github.com/cointrail/cointrail/taint"
)

// TestTraceAccuracy traces the dmm-2024 theft under every model and scores
// it against the simulator's truth. Run with -v to print the table kept in
// docs/accuracy.md.
func TestTraceAccuracy(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	res, err := sim.WriteDir(ctx, sim.Config{Scenario: "dmm-2024", Seed: 1}, filepath.Join(dir, "sim"), log)
	if err != nil {
		t.Fatal(err)
	}
	net, _ := chain.NetworkByName("regtest")
	ix, err := index.Open(dir, net, index.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.IngestBlkDir(ctx, filepath.Join(dir, "sim", "blocks"), index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := labels.Import(ix.Store, ix.Net, []string{filepath.Join(dir, "sim", "labels.yaml")}, time.Unix(0, 0), log); err != nil {
		t.Fatal(err)
	}
	attr, err := attrib.Build(ix, nil)
	if err != nil {
		t.Fatal(err)
	}
	seeds, err := ix.ResolveSeed(res.Truth.TheftTxid, index.SeedWindow{})
	if err != nil {
		t.Fatal(err)
	}
	var ts []taint.Seed
	for _, s := range seeds {
		ts = append(ts, taint.Seed{Out: s.Out, Amount: s.Amount})
	}
	p := taint.DefaultParams()
	p.MinSats = 0
	rs, err := taint.TraceModels(ctx, &index.Graph{Index: ix}, attr, ts, p, taint.AllModels, log)
	if err != nil {
		t.Fatal(err)
	}
	truth := res.Truth
	var b strings.Builder
	fmt.Fprintf(&b, "| model | tainted outputs | precision | recall | %s | Σ abs. error |\n|---|---|---|---|%s---|\n",
		strings.Join(arrivalLabels(truth), " | "), strings.Repeat("---|", len(truth.Arrivals)))
	scores := map[string]Score{}
	for _, r := range rs {
		s := ScoreTrace(truth, r)
		scores[s.Model] = s
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f |", s.Model, s.TruePositives+s.FalsePositives, s.Precision, s.Recall)
		for _, l := range arrivalLabels(truth) {
			for _, a := range s.Arrivals {
				if a.Label == l {
					fmt.Fprintf(&b, " %.2f (%+.1f%%) |", float64(a.TracedSat)/1e8, 100*(float64(a.TracedSat)-float64(a.TrueSat))/float64(a.TrueSat))
				}
			}
		}
		fmt.Fprintf(&b, " %.2f BTC |\n", float64(s.ArrivedAbsErrSat)/1e8)
		// Conservation: every model but poison accounts for every stolen satoshi.
		if r.Model != taint.Poison {
			sm := r.Summary
			if got := sm.UnspentSat + sm.ArrivedSat() + sm.FeeSat + sm.DustSat + sm.StoppedSat + sm.MinedSat; got != sm.TracedSat || sm.TracedSat != truth.StolenSat {
				t.Errorf("%s: accounted %d of %d traced (stolen %d)", r.Model, got, sm.TracedSat, truth.StolenSat)
			}
		}
	}
	fmt.Fprintf(&b, "| truth | %d | | | %s | |\n", len(truth.TaintedOutputs), trueArrivals(truth))
	t.Log("\n" + b.String())
	// Poison over-approximates: it must find every truly stolen output.
	if s := scores["poison"]; s.Recall != 1 {
		t.Errorf("poison recall %.3f, want 1: it missed %d stolen outputs", s.Recall, s.FalseNegatives)
	}
	// FIFO follows the stolen satoshis themselves; in this scenario (no
	// mixing of stolen and clean coins outside CoinJoins) it must land
	// every exchange's arrivals within 10% and beat haircut's total error.
	fifo, haircut := scores["fifo"], scores["haircut"]
	for _, a := range fifo.Arrivals {
		if a.TrueSat > 0 && (a.Recall < 0.9 || a.Precision < 0.9) {
			t.Errorf("fifo at %s: traced %d, true %d", a.Label, a.TracedSat, a.TrueSat)
		}
	}
	if fifo.ArrivedAbsErrSat >= haircut.ArrivedAbsErrSat {
		t.Errorf("fifo total arrival error %d not below haircut's %d", fifo.ArrivedAbsErrSat, haircut.ArrivedAbsErrSat)
	}
}

func arrivalLabels(t *sim.Truth) []string {
	var ls []string
	for _, a := range t.Arrivals {
		ls = append(ls, a.Label)
	}
	return ls
}

func trueArrivals(t *sim.Truth) string {
	var ps []string
	for _, a := range t.Arrivals {
		ps = append(ps, fmt.Sprintf("%.2f", float64(a.StolenSat)/1e8))
	}
	return strings.Join(ps, " | ")
}
