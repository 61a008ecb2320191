package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
