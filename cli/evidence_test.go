package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/internal/testnode"
	"github.com/cointrail/cointrail/taint"
)

// TestAPIAndCLIGiveTheSameResult: a trace asked of a real `cointrail
// serve` following btcd, with the API's defaults, and the same trace by
// `cointrail trace --format json` on the same clustered index give the
// same bytes and result_sha256 (one set of defaults and one attribution —
// an exchange deposit found through the clustering only; the server's
// limits are caps that do not bind here), and verify-result confirms the
// API's result.
func TestAPIAndCLIGiveTheSameResult(t *testing.T) {
	node := testnode.Start(t)
	w := node.Wallet()
	must := func(tx *wire.MsgTx, err error) *wire.MsgTx {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	node.Generate(101)
	// The exchange spends from its labelled address 3 and address 30
	// together: one cluster, defined by the label of 3.
	f := must(w.Send(w.Out(testnode.P2PKH, 3, 1_0000_0000), w.Out(testnode.P2PKH, 30, 1_0000_0000)))
	node.Generate(1)
	sweep := must(w.Sweep([]wire.OutPoint{{Hash: f.TxHash(), Index: 0}, {Hash: f.TxHash(), Index: 1}}, testnode.P2PKH, 31))
	if _, err := w.Submit(sweep); err != nil {
		t.Fatal(err)
	}
	theft := must(w.Send(w.Out(testnode.P2PKH, 1, 20_0000_0000)))
	node.Generate(1)
	// Three peels, the second to the exchange's address 30, attributed
	// through the clustering only.
	cur, value := w.OutPoints(theft)[0], int64(20_0000_0000)
	for i := range 3 {
		dest := w.Out(testnode.P2PKH, uint32(20+i), 3_0000_0000)
		if i == 1 {
			dest = w.Out(testnode.P2PKH, 30, 3_0000_0000)
		}
		value -= 3_0000_0000 + testnode.Fee(1, 2)
		tx := must(w.Spend([]wire.OutPoint{cur}, w.Out(testnode.P2PKH, 2, value), dest))
		if _, err := w.Submit(tx); err != nil {
			t.Fatal(err)
		}
		node.Generate(1)
		cur = wire.OutPoint{Hash: tx.TxHash(), Index: 0}
	}
	tip := int64(106)

	data := filepath.Join(t.TempDir(), "data")
	rpc := []string{"--data", data, "--network", "regtest"}
	runBin(t, nil, append([]string{"ingest", "--rpc", node.URL, "--rpc-user", node.User, "--rpc-pass", node.Pass}, rpc...)...)
	lf := filepath.Join(t.TempDir(), "labels.yaml")
	os.WriteFile(lf, []byte(`title: test
creator: cointrail tests
source: https://example.org/test
currency: BTC
network: regtest
confidence: ownership
lastmod: 2024-01-01
tags:
- address: `+w.Address(testnode.P2PKH, 3)+`
  label: Exchange X
  category: exchange
  is_cluster_definer: true
`), 0o644)
	runBin(t, nil, append([]string{"labels", "import"}, append(rpc, lf)...)...)
	runBin(t, nil, append([]string{"cluster", "build"}, rpc...)...)
	out := strings.Fields(runBin(t, nil, append([]string{"apikey", "create", "--role", "read"}, rpc...)...))
	key := out[len(out)-1]
	seed := fmt.Sprintf("%s:0", theft.TxHash())

	p := startServe(t, nil, data, node, newReceiver(t).srv.URL, key)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, ok := p.status(); ok && st.TipHeight == tip {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not reach the tip:\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	post := func(body string) ([]byte, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.base+"/v1/trace", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST /v1/trace %s: %d %s", body, resp.StatusCode, b)
		}
		return b, resp.Header.Get("Content-Type")
	}
	api, _ := post(`{"seeds":["` + seed + `"]}`)
	// Several models and the other formats, as the CLI writes them.
	multi, _ := post(`{"seeds":["` + seed + `"],"model":"fifo,haircut"}`)
	freeze, ctype := post(`{"seeds":["` + seed + `"],"model":"fifo,haircut","format":"freeze"}`)
	p.stop(t)
	if cliMulti := runBin(t, nil, append([]string{"trace", "--format", "json", "--model", "fifo,haircut", "--from", seed}, rpc...)...); string(multi) != cliMulti || multi[0] != '[' {
		t.Fatalf("API and CLI two-model results differ:\n api %.200s\n cli %.200s", multi, cliMulti)
	}
	if cliFreeze := runBin(t, nil, append([]string{"trace", "--format", "freeze", "--model", "fifo,haircut", "--from", seed}, rpc...)...); string(freeze) != cliFreeze ||
		!strings.HasPrefix(ctype, "text/csv") || !strings.Contains(cliFreeze, w.Address(testnode.P2PKH, 30)) {
		t.Fatalf("API (%s) and CLI freeze lists differ:\n api %s\n cli %s", ctype, freeze, cliFreeze)
	}

	cli := runBin(t, nil, append([]string{"trace", "--format", "json", "--from", seed}, rpc...)...)
	if err := taint.VerifyJSON(bytes.TrimSpace(api)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(api), bytes.TrimSpace([]byte(cli))) {
		t.Fatalf("API and CLI results differ:\n api %s\n cli %s", api, cli)
	}
	for _, want := range []string{`"arrived":[{"label":"Exchange X"`, `"address":"` + w.Address(testnode.P2PKH, 30) + `","value_sat":300000000,"taint_sat":300000000,`,
		`"max_hops":0,`, `"max_txs":1000000,`, `"caps_bound":[]`, `"cluster_tip":{"height":106,`} {
		if !bytes.Contains(api, []byte(want)) {
			t.Fatalf("the result lacks %s: %s", want, api)
		}
	}
	res := filepath.Join(t.TempDir(), "api.json")
	os.WriteFile(res, api, 0o644)
	if got := runBin(t, nil, append([]string{"verify-result"}, append(rpc, res)...)...); !strings.HasPrefix(got, "identical: ") {
		t.Fatalf("verify-result of the API's result: %s", got)
	}
}
