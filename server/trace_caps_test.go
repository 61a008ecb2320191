package server

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cointrail/cointrail/internal/testnode"
	"github.com/cointrail/cointrail/taint"
)

// TestTraceCaps: the API traces with the CLI's defaults; the server's
// max_hops is a cap reported in inputs.caps_bound when it stops the trace,
// and a default trace that needs more than sync_max_txs transactions
// becomes a job instead of failing.
func TestTraceCaps(t *testing.T) {
	node := testnode.Start(t)
	w := node.Wallet()
	must := txOK(t)
	node.Generate(101)
	theft := must(w.Send(w.Out(testnode.P2PKH, 1, 10_0000_0000)))
	node.Generate(1)
	a := must(w.Spend(w.OutPoints(theft)[:1], w.Out(testnode.P2PKH, 2, 9_9999_0000)))
	mustSubmit(t, w, a)
	node.Generate(1)
	b := must(w.Spend(w.OutPoints(a)[:1], w.Out(testnode.P2PKH, 3, 9_9998_0000)))
	mustSubmit(t, w, b)
	node.Generate(1)
	h := start(t, node, t.TempDir(), nil, nil, func(c *Config) {
		c.Limits.MaxHops = 1
		c.Limits.SyncMaxTxs = 1
	})
	h.waitTip(30 * time.Second)

	type result struct {
		Params struct {
			MaxHops int `json:"max_hops"`
			MaxTxs  int `json:"max_txs"`
		} `json:"params"`
		Inputs  taint.Inputs `json:"inputs"`
		Summary traceSummary `json:"summary"`
	}
	var r result
	if code := h.call("POST", "/v1/trace", h.reader, TraceRequest{Seeds: []string{outpoint(theft, 0)}}, &r); code != 200 {
		t.Fatalf("capped trace: %d", code)
	}
	if r.Params.MaxHops != 0 || r.Params.MaxTxs != 1_000_000 || !slices.Equal(r.Inputs.CapsBound, []taint.Cap{{Param: "max_hops", Value: 1}}) ||
		r.Summary.StoppedSat != 9_9999_0000 || r.Inputs.IndexDigest == "" || r.Inputs.LabelsDigest != "none" {
		t.Fatalf("capped trace: params %+v, inputs %+v, summary %+v", r.Params, r.Inputs, r.Summary)
	}
	// Explicitly within the cap: nothing binds.
	if code := h.call("POST", "/v1/trace", h.reader, TraceRequest{Seeds: []string{outpoint(theft, 0)}, MaxHops: 1}, &r); code != 200 || len(r.Inputs.CapsBound) != 0 {
		t.Fatalf("max_hops 1 asked for: %d, caps %+v", code, r.Inputs.CapsBound)
	}
	// Two seeds visit two transactions, more than sync_max_txs: a job (a:0
	// is a seed, hop 0, so the hop cap does not bind).
	var j JobView
	if code := h.call("POST", "/v1/trace", h.reader, TraceRequest{Seeds: []string{outpoint(theft, 0), outpoint(a, 0)}}, &j); code != 202 || j.ID == "" {
		t.Fatalf("a default trace beyond sync_max_txs: %d %+v", code, j)
	}
	deadline := time.Now().Add(10 * time.Second)
	for j.State != "done" {
		if time.Now().After(deadline) || j.State == "failed" {
			t.Fatalf("job %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
		h.call("GET", "/v1/trace/jobs/"+j.ID, h.reader, nil, &j)
	}
	if err := json.Unmarshal(j.Result, &r); err != nil || r.Summary.TxsVisited != 2 || r.Summary.UnspentSat != 9_9998_0000 || len(r.Inputs.CapsBound) != 0 {
		t.Fatalf("job result %v: %+v %+v", err, r.Summary, r.Inputs.CapsBound)
	}
	if err := taint.VerifyJSON(j.Result); err != nil {
		t.Fatal(err)
	}
}
