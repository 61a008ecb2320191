package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/internal/printcheck"
	"github.com/cointrail/cointrail/report"
)

// TestSimIngestXORStale: a simulated chain written with xor.dat
// obfuscation ingests to the same index as written plainly; one written
// with a losing fork ingests its main chain only.
func TestSimIngestXORStale(t *testing.T) {
	dir := t.TempDir()
	type simOut struct {
		Blocks  int    `json:"blocks"`
		TipHash string `json:"tip_hash"`
	}
	gen := func(name string, extra ...string) (string, simOut) {
		out := filepath.Join(dir, name)
		var s simOut
		if err := json.Unmarshal([]byte(mustRun(t, append([]string{"sim", "--json", "--txs", "400", "--seed", "11", "--out", out}, extra...)...)), &s); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, name+"-data")
		mustRun(t, "ingest", "--data", data, "--network", "regtest", "--blocks", filepath.Join(out, "blocks"))
		mustRun(t, "index", "verify", "--data", data, "--network", "regtest")
		return data, s
	}
	plain, _ := gen("plain")
	obf, _ := gen("xor", "--xor")
	if _, err := os.Stat(filepath.Join(dir, "xor", "blocks", "xor.dat")); err != nil {
		t.Fatal("no xor.dat written")
	}
	if a, b := mustRun(t, "index", "digest", "--data", plain, "--network", "regtest"), mustRun(t, "index", "digest", "--data", obf, "--network", "regtest"); a != b {
		t.Fatalf("digests differ: plain %s, xor %s", a, b)
	}
	stale, s := gen("stale", "--xor", "--stale", "3")
	var st struct {
		TipHeight int    `json:"tip_height"`
		TipHash   string `json:"tip_hash"`
	}
	json.Unmarshal([]byte(mustRun(t, "status", "--data", stale, "--network", "regtest", "--json")), &st)
	if st.TipHash != s.TipHash || st.TipHeight != s.Blocks {
		t.Fatalf("indexed tip %d %s, the simulator's main chain ends at %d %s", st.TipHeight, st.TipHash, s.Blocks, s.TipHash)
	}
}

// TestDemo runs the README's main command into a data dir and checks that
// it tells the story: the stolen amount, every service, the report files.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	out := mustRun(t, "demo", "--data", data)
	var truth struct {
		TheftTxid string `json:"theft_txid"`
		Arrivals  []struct {
			Label string `json:"label"`
		} `json:"arrivals"`
	}
	b, err := os.ReadFile(filepath.Join(data, "sim", "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Stolen: 4502.90000000 BTC", truth.TheftTxid, "still unspent", "report: " + filepath.Join(data, "report.html"), "cointrail serve"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	for _, a := range truth.Arrivals {
		if !strings.Contains(out, a.Label) {
			t.Errorf("demo output lacks service %q", a.Label)
		}
	}
	// Every service a model sends taint to is a row of its own, named (the
	// victim's own wallet is not "other services").
	var results []struct {
		Summary struct {
			Arrived []struct {
				Label string `json:"label"`
			} `json:"arrived"`
		} `json:"summary"`
	}
	saved, err := os.ReadFile(filepath.Join(data, "trace.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(saved, &results); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		for _, a := range r.Summary.Arrived {
			if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(a.Label) + `\s+\d`).MatchString(out) {
				t.Errorf("demo's where-it-went table has no row for %q:\n%s", a.Label, out)
			}
		}
	}
	if strings.Contains(out, "other services") {
		t.Errorf("demo lumps services into \"other services\":\n%s", out)
	}
	html, err := os.ReadFile(filepath.Join(data, "report.html"))
	if err != nil || !strings.Contains(string(html), "<svg") || strings.Contains(string(html), " src=") || strings.Contains(string(html), "<script") {
		t.Fatalf("report.html missing, without its flow graph, or loading something from outside: %v", err)
	}
	// The trace is evidence: re-running it on the demo's index gives the same bytes.
	again := mustRun(t, "trace", "--data", data, "--network", "regtest", "--model", "haircut,fifo", "--format", "json", "--from", truth.TheftTxid)
	if again != string(saved) {
		t.Fatal("re-running the demo's trace gives different bytes than trace.json")
	}
	// The cover names the command that re-runs it.
	if cmd := "cointrail trace --data " + data + " --network regtest --model haircut,fifo --format html --from " + truth.TheftTxid; !strings.Contains(string(html), cmd) {
		t.Errorf("report.html's cover lacks the command that re-runs it: %s", cmd)
	}
	demoPrints(t, data, truth.TheftTxid, len(results[0].Summary.Arrived)+len(results[1].Summary.Arrived))
}

// demoPrints: the demo's report.html, laid out as Chromium prints it, fits
// the page with every arrival of the flow graph on it; trace --format pdf
// writes a PDF of the asked paper; a bad paper or a missing browser is
// one line.
func demoPrints(t *testing.T, data, theft string, arrivals int) {
	if testing.Short() {
		t.Log("-short: not starting Chromium")
		return
	}
	browser, err := report.Browser(os.Getenv)
	if err != nil {
		t.Fatalf("%v (scripts/install-test-deps.sh installs it)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := printcheck.Measure(ctx, browser, filepath.Join(data, "report.html"), printcheck.Papers["a4"])
	if err != nil {
		t.Fatal(err)
	}
	if l.ScrollW > l.ViewportW {
		t.Errorf("report.html is %.0f px wide on a %.0f px A4 text area", l.ScrollW, l.ViewportW)
	}
	if len(l.Arrivals) != arrivals {
		t.Errorf("the flow graph shows %d arrival nodes, the models arrive at %d services", len(l.Arrivals), arrivals)
	}
	for _, a := range l.Arrivals {
		if a.Left < 0 || a.Right > l.ViewportW {
			t.Errorf("arrival %q lies off the page: %.0f..%.0f of %.0f px", a.Name, a.Left, a.Right, l.ViewportW)
		}
	}
	pdf := filepath.Join(t.TempDir(), "report.pdf")
	args := []string{"trace", "--data", data, "--network", "regtest", "--model", "haircut,fifo", "--format", "pdf", "--paper", "letter", "-o", pdf, "--from", theft}
	mustRun(t, args...)
	b, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("trace --format pdf wrote no PDF: %v", err)
	}
	pages, boxes := printcheck.Pages(b)
	if pages < 3 || len(boxes) == 0 {
		t.Fatalf("the PDF has %d pages (cover and two models at least), %d media boxes", pages, len(boxes))
	}
	for _, mb := range boxes {
		if mb != [2]string{"612", "792"} {
			t.Fatalf("a page of %s × %s pt, want Letter 612 × 792", mb[0], mb[1])
		}
	}
	_, stderr, err := run(t, nil, "trace", "--data", data, "--network", "regtest", "--format", "pdf", "--paper", "a5", "--from", theft)
	if exitCode(err) != 2 || !strings.Contains(stderr, `unknown --paper "a5" (want a4 or letter)`) {
		t.Errorf("--paper a5: exit %d, %s", exitCode(err), stderr)
	}
	_, stderr, err = run(t, []string{"COINTRAIL_CHROMIUM=/nonexistent/chromium"}, args...)
	if exitCode(err) != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "COINTRAIL_CHROMIUM=/nonexistent/chromium") || !strings.Contains(stderr, "--format html") {
		t.Errorf("no browser: exit %d, want one line naming COINTRAIL_CHROMIUM and the html alternative: %s", exitCode(err), stderr)
	}
}

// TestIngestForeignChainRefused: blocks that do not extend the index's
// chain are refused with one line naming the tip, and the index is kept.
func TestIngestForeignChainRefused(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mustRun(t, "sim", "--txs", "200", "--seed", "1", "--out", a)
	mustRun(t, "sim", "--txs", "200", "--seed", "2", "--out", b)
	data := filepath.Join(dir, "data")
	mustRun(t, "ingest", "--data", data, "--network", "regtest", "--blocks", filepath.Join(a, "blocks"))
	before := mustRun(t, "index", "digest", "--data", data, "--network", "regtest")
	_, stderr, err := run(t, nil, "ingest", "--data", data, "--network", "regtest", "--blocks", filepath.Join(b, "blocks"))
	if err == nil || !strings.Contains(stderr, "cointrail ingest: index: block does not extend the tip: the index tip ") ||
		!strings.Contains(stderr, "is not on the best chain of "+filepath.Join(b, "blocks")) {
		t.Fatalf("want a refusal naming the tip and the directory, got %v: %s", err, stderr)
	}
	if after := mustRun(t, "index", "digest", "--data", data, "--network", "regtest"); after != before {
		t.Fatal("the refused ingest changed the index")
	}
}
