package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/sim"
)

// cliRun runs cointrail in-process and fails the test unless it exits
// with want.
func cliRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, &out, &errb); code != want {
		t.Fatalf("cointrail %s: exit %d (want %d)\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String() + errb.String()
}

// TestLabelsAndNotesInline: the theft transaction shows the labels of the
// victim's and the thief's addresses (source and confidence) as `tx`
// prints them and in its JSON; notes on the tx, an address and a case show
// where their subject is shown and never change the labels.
func TestLabelsAndNotesInline(t *testing.T) {
	dir := t.TempDir()
	chainDir, data := filepath.Join(dir, "chain"), filepath.Join(dir, "data")
	cliRun(t, 0, "sim", "--scenario", "dmm-2024", "--seed", "4", "--txs", "300", "--out", chainDir)
	var truth sim.Truth
	b, err := os.ReadFile(filepath.Join(chainDir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	g := []string{"--data", data, "--network", "regtest"}
	cliRun(t, 0, append([]string{"ingest", "--stop-after", "200", "--blocks", filepath.Join(chainDir, "blocks")}, g...)...)
	cliRun(t, 0, append([]string{"labels", "import", filepath.Join(chainDir, "labels.yaml")}, g...)...)
	// The trace says when its attribution lacks or lags the clustering.
	cliRun(t, 0, append([]string{"cluster", "build"}, g...)...)
	cliRun(t, 0, append([]string{"ingest", "--blocks", filepath.Join(chainDir, "blocks")}, g...)...)
	if out := cliRun(t, 0, append([]string{"trace", truth.TheftTxid + ":0"}, g...)...); !strings.Contains(out, "note: the clustering is at height 199, the index at ") ||
		!strings.Contains(out, "run `cointrail cluster update --data "+data+" --network regtest`") {
		t.Fatalf("trace on a lagging clustering:\n%s", out)
	}
	cliRun(t, 0, append([]string{"cluster", "update"}, g...)...)
	out := cliRun(t, 0, append([]string{"trace", truth.TheftTxid + ":0"}, g...)...)
	if strings.Contains(out, "note: ") && strings.Contains(out, "clustering") {
		t.Fatalf("trace on an up-to-date clustering:\n%s", out)
	}
	// Peel chains name their first tx whole: `tx` takes it as printed.
	peels := 0
	for _, l := range strings.Split(out, "\n") {
		if _, id, ok := strings.Cut(l, " BTC, from tx "); ok {
			peels++
			cliRun(t, 0, append([]string{"tx", id}, g...)...)
		}
	}
	if peels == 0 {
		t.Fatalf("the heist's trace shows no peel chain:\n%s", out)
	}

	txText := cliRun(t, 0, append([]string{"tx", truth.TheftTxid}, g...)...)
	for _, want := range []string{
		"label DMM Bitcoin (exchange) on " + truth.VictimAddress + " — source cointrail sim --scenario dmm-2024 --seed 4, confidence ownership (100)",
		"label DMM Bitcoin theft perpetrator (perpetrator) on " + truth.AttackerAddress,
	} {
		if !strings.Contains(txText, want) {
			t.Errorf("tx output lacks %q:\n%s", want, txText)
		}
	}
	cliRun(t, 0, append([]string{"note", "add", truth.TheftTxid, "the", "altered", "withdrawal", "--author", "kim"}, g...)...)
	cliRun(t, 0, append([]string{"note", "add", truth.AttackerAddress, "look-alike of", truth.LookalikeOf}, g...)...)
	cliRun(t, 2, append([]string{"note", "add", truth.AttackerAddress}, g...)...)
	cliRun(t, 1, append([]string{"note", "add", "case:1", "bad\x1b]0;x\x07"}, g...)...)

	var d attrib.TxDetail
	if err := json.Unmarshal([]byte(cliRun(t, 0, append([]string{"tx", "--json", truth.TheftTxid}, g...)...)), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Labels.Addresses[truth.AttackerAddress]) != 1 || len(d.Labels.Addresses[truth.VictimAddress]) == 0 || len(d.Notes) != 2 ||
		d.Notes[0].Text != "the altered withdrawal" || d.Notes[0].Author != "kim" || d.Notes[1].Subject != truth.AttackerAddress {
		t.Fatalf("tx --json labels %+v notes %+v", d.Labels, d.Notes)
	}
	addr := cliRun(t, 0, append([]string{"address", truth.AttackerAddress}, g...)...)
	if !strings.Contains(addr, "label DMM Bitcoin theft perpetrator (perpetrator) on this address") || !strings.Contains(addr, "note 2") ||
		!strings.Contains(addr, "look-alike of "+truth.LookalikeOf) {
		t.Fatalf("address output:\n%s", addr)
	}
	// A note is not a label: the labels are as imported.
	if ls := cliRun(t, 0, append([]string{"labels", "list", "--address", truth.AttackerAddress}, g...)...); strings.Contains(ls, "look-alike") || strings.Count(ls, "\n") != 2 {
		t.Fatalf("labels after a note:\n%s", ls)
	}
	out = cliRun(t, 0, append([]string{"case", "create", "--name", "DMM", "--note", "opened on the FBI notice", truth.TheftTxid + ":0"}, g...)...)
	if !strings.Contains(out, "created case 1") {
		t.Fatalf("case create: %s", out)
	}
	show := cliRun(t, 0, append([]string{"case", "show", "1"}, g...)...)
	if !strings.Contains(show, ": opened on the FBI notice") || !strings.Contains(show, "state at height") {
		t.Fatalf("case show:\n%s", show)
	}
	// Exit codes: a malformed argument is a wrong command line (2), a
	// well-formed one that names nothing in the index is a failure (1).
	for _, c := range []struct {
		code int
		args []string
	}{
		{2, []string{"tx", "zz"}}, {1, []string{"tx", strings.Repeat("0", 64)}},
		{2, []string{"address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"}}, {2, []string{"block", "x"}}, {1, []string{"block", "99999"}},
		{2, []string{"trace", "--from", "nonsense"}}, {1, []string{"trace", "--from", strings.Repeat("0", 64) + ":0"}},
		{2, []string{"case", "show", "x"}}, {1, []string{"case", "show", "7"}},
		{2, []string{"note", "list", "zz"}}, {2, []string{"note", "delete", "x"}}, {1, []string{"note", "delete", "99"}},
	} {
		cliRun(t, c.code, append(c.args, g...)...)
	}
	// --max-txs reached: the partial result is written, then one line
	// says it is partial and how to go further (exit 1).
	var out2, errb2 bytes.Buffer
	code := Main(append([]string{"trace", "--json", "--max-txs", "3", "--model", "haircut,fifo", truth.TheftTxid + ":0"}, g...), &out2, &errb2)
	var parts []struct {
		Summary struct{ Truncated bool } `json:"summary"`
	}
	if err := json.Unmarshal(out2.Bytes(), &parts); err != nil || len(parts) != 2 || !parts[0].Summary.Truncated || !parts[1].Summary.Truncated || code != 1 ||
		!strings.Contains(errb2.String(), "haircut, fifo stopped after --max-txs 3 transactions; the result written is partial") || !strings.Contains(errb2.String(), "--max-txs 6") {
		t.Fatalf("trace at --max-txs: exit %d, %v, stderr %s\n%.300s", code, err, errb2.String(), out2.String())
	}
	if l := cliRun(t, 0, append([]string{"note", "list"}, g...)...); strings.Count(l, "\n") != 3 {
		t.Fatalf("note list:\n%s", l)
	}
	cliRun(t, 0, append([]string{"note", "delete", "1"}, g...)...)
	cliRun(t, 1, append([]string{"note", "delete", "1"}, g...)...)
	if l := cliRun(t, 0, append([]string{"note", "list", truth.TheftTxid}, g...)...); l != "" {
		t.Fatalf("notes on the tx after delete:\n%s", l)
	}
}
