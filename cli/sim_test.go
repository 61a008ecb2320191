package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/testnode"
)

// theftTxid is the txid on the line of out that contains "theft".
func theftTxid(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "theft") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if _, err := hex.DecodeString(f); err == nil && len(f) == 64 {
				return f
			}
		}
	}
	t.Fatalf("no theft txid printed:\n%s", out)
	return ""
}

// TestSimRPC runs `sim --rpc … --out DIR` against a btcd node that has
// only its genesis block: the printed theft is confirmed on the node, and
// DIR holds the labels and the truth of that chain.
func TestSimRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := Main([]string{"sim", "--scenario", "dmm-2024", "--seed", "7", "--txs", "200", "--txs-per-block", "4",
		"--rpc", n.URL, "--rpc-user", n.User, "--rpc-pass", n.Pass, "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	txid := theftTxid(t, out.String())
	var tx struct {
		Confirmations int64 `json:"confirmations"`
	}
	if err := n.Client().Call(context.Background(), "getrawtransaction", []any{txid, 1}, &tx); err != nil || tx.Confirmations < 1 {
		t.Fatalf("printed theft %s on the node: %+v, %v", txid, tx, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "labels.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		TheftTxid string `json:"theft_txid"`
		StolenSat int64  `json:"stolen_sat"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	if truth.TheftTxid != txid || truth.StolenSat != 450_290_000_000 {
		t.Fatalf("truth.json: theft %s of %d sat, printed %s, want the full 4,502.9 BTC", truth.TheftTxid, truth.StolenSat, txid)
	}
	if _, err := os.Stat(filepath.Join(dir, "blocks")); err == nil {
		t.Fatal("--out beside --rpc wrote blocks/: the chain is on the node")
	}
}

// TestSimRPCRefused: command lines and nodes sim cannot work with fail
// with one line, before anything reaches the node.
func TestSimRPCRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	n.Generate(100)
	dir := filepath.Join(t.TempDir(), "out")
	rpc := []string{"--rpc", n.URL, "--rpc-user", n.User, "--rpc-pass", n.Pass}
	for _, c := range []struct {
		args []string
		code int
		want string // the whole line, or its start when it ends in "…"
	}{
		{[]string{"sim"}, 2, "cointrail sim: give --out DIR, --rpc URL or both"},
		{append([]string{"sim", "--out", dir}, rpc...), 2, "cointrail sim: --out beside --rpc writes a scenario's labels and truth: give --scenario too"},
		{append([]string{"sim", "--stats", "--out", dir}, rpc...), 2, "cointrail sim: --stats needs --out DIR without --rpc (it measures DIR/blocks)"},
		{append([]string{"sim", "--scenario", "dmm-2024", "--out", dir}, rpc...), 1,
			"cointrail sim: sim: bad config: the chain is at height 100: the regtest subsidy still to come cannot fund the dmm-2024 scenario at full value…"},
		{[]string{"sim", "--scenario", "dmm-2024", "--rpc", "http://127.0.0.1:1"}, 1, "cointrail sim: chain: node error: http://127.0.0.1:1…"},
	} {
		var out, errb bytes.Buffer
		code := Main(c.args, &out, &errb)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if strings.HasPrefix(l, "cointrail ") {
				lines = append(lines, l)
			}
		}
		ok := len(lines) == 1 && (lines[0] == c.want || strings.HasSuffix(c.want, "…") && strings.HasPrefix(lines[0], strings.TrimSuffix(c.want, "…")))
		if code != c.code || !ok {
			t.Errorf("%v: exit %d %q\nwant %d %q", c.args, code, lines, c.code, c.want)
		}
	}
	if h, err := n.Client().BlockCount(context.Background()); err != nil || h != 100 {
		t.Fatalf("node height %d (%v) after refused runs, want 100", h, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "truth.json")); err == nil {
		t.Fatal("a refused run wrote truth.json")
	}
}
