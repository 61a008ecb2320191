package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/testnode"
)

// mutatingProxy forwards JSON-RPC to a real node and lets rewrite change
// the result of one call (method, first parameter) before the client sees
// it.
func mutatingProxy(t *testing.T, node *testnode.Node, rewrite func(method string, param any, result json.RawMessage) json.RawMessage) *httptest.Server {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req struct {
			Method string `json:"method"`
			Params []any  `json:"params"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fwd, err := http.NewRequestWithContext(r.Context(), http.MethodPost, node.URL, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fwd.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(fwd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var res map[string]json.RawMessage
		status := resp.StatusCode
		if json.Unmarshal(out, &res) == nil && len(req.Params) > 0 {
			if nr := rewrite(req.Method, req.Params[0], res["result"]); nr != nil {
				hits.Add(1)
				res["result"], res["error"], status = nr, json.RawMessage("null"), http.StatusOK
				out, _ = json.Marshal(res)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(out)
	}))
	t.Cleanup(func() {
		srv.Close()
		if hits.Load() == 0 {
			t.Error("the proxy never rewrote an answer")
		}
	})
	return srv
}

func hexResult(t testing.TB, res json.RawMessage) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(res, &s); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexJSON(b []byte) json.RawMessage {
	out, _ := json.Marshal(hex.EncodeToString(b))
	return out
}

// TestIngestRPCValidation serves a real btcd regtest chain through a proxy
// that changes one block: ingest must stop at it with one line naming the
// endpoint, the height and the rule, keeping every block below it.
func TestIngestRPCValidation(t *testing.T) {
	ctx := context.Background()
	node := testnode.Start(t)
	hashes := node.Generate(30)
	regtest, _ := chain.NetworkByName("regtest")
	const bad = 20
	badHash := hashes[bad-1] // Generate's first block is height 1

	t.Run("bad merkle root", func(t *testing.T) {
		var want string
		proxy := mutatingProxy(t, node, func(method string, p any, res json.RawMessage) json.RawMessage {
			if method != "getblock" || p != badHash.String() {
				return nil
			}
			raw := hexResult(t, res)
			raw[len(raw)-5] ^= 0x01 // in the coinbase output script: still decodes
			mb := decodeMsg(t, raw)
			root := blockchain.CalcMerkleRoot(btcutil.NewBlock(mb).Transactions(), false)
			want = fmt.Sprintf("index: corrupt data: %%s height %d: block %s: merkle root: the transactions hash to %s, the header says %s",
				bad, badHash, root, mb.Header.MerkleRoot)
			return hexJSON(raw)
		})
		c, err := chain.NewRPCClient(chain.RPCConfig{URL: proxy.URL, User: node.User, Pass: node.Pass}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		ix, err := Open(t.TempDir(), regtest, Options{}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		_, err = ix.IngestRPC(ctx, c, IngestOptions{})
		if w := fmt.Sprintf(want, c.Endpoint()); err == nil || err.Error() != w || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("IngestRPC error\n got %v\nwant %s", err, w)
		}
		if tip := ix.Tip(); tip.Empty || tip.Height != bad-1 || tip.Hash != hashes[bad-2] {
			t.Fatalf("tip %+v, want height %d %s", tip, bad-1, hashes[bad-2])
		}
		if _, err := ix.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		// The real node continues from the good prefix.
		if _, err := ix.IngestRPC(ctx, node.Client(), IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		if tip := ix.Tip(); tip.Height != 30 || tip.Hash != hashes[29] {
			t.Fatalf("tip after the real node %+v", tip)
		}
	})

	t.Run("bits the rules do not allow, resuming from a tip", func(t *testing.T) {
		// Block 20 re-mined at bits 2000ffff: a valid proof of work for its
		// own bits (1 hash in 256), but regtest requires 207fffff.
		var forged []byte
		var forgedHash chainhash.Hash
		var mu sync.Mutex
		proxy := mutatingProxy(t, node, func(method string, p any, res json.RawMessage) json.RawMessage {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case method == "getblockhash" && p == float64(bad):
				if forged == nil {
					var s string
					json.Unmarshal(res, &s)
					h, _ := chainhash.NewHashFromStr(s)
					var err error
					if forged, err = node.Client().RawBlock(ctx, *h); err != nil {
						t.Error(err)
						return nil
					}
					binary.LittleEndian.PutUint32(forged[72:76], 0x2000ffff)
					for nonce := uint32(0); ; nonce++ {
						binary.LittleEndian.PutUint32(forged[76:80], nonce)
						forgedHash = chainhash.DoubleHashH(forged[:80])
						if chain.CheckProofOfWork(forgedHash, 0x2000ffff) == nil {
							break
						}
					}
				}
				out, _ := json.Marshal(forgedHash.String())
				return out
			case method == "getblock" && forged != nil && p == forgedHash.String():
				return hexJSON(forged)
			}
			return nil
		})
		ix, err := Open(t.TempDir(), regtest, Options{}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		if _, err := ix.IngestRPC(ctx, node.Client(), IngestOptions{StopAfter: 15}); err != nil {
			t.Fatal(err)
		}
		if h := ix.Tip().Height; h != 14 {
			t.Fatalf("tip %d after the first run", h)
		}
		c, err := chain.NewRPCClient(chain.RPCConfig{URL: proxy.URL, User: node.User, Pass: node.Pass}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		_, err = ix.IngestRPC(ctx, c, IngestOptions{})
		want := fmt.Sprintf("chain: corrupt data: %s height %d: block %s: difficulty: bits 2000ffff at height %d, the regtest rules require 207fffff",
			c.Endpoint(), bad, forgedHash, bad)
		if err == nil || err.Error() != want || !errors.Is(err, chain.ErrCorrupt) {
			t.Fatalf("IngestRPC error\n got %v\nwant %s", err, want)
		}
		if tip := ix.Tip(); tip.Height != bad-1 || tip.Hash != hashes[bad-2] {
			t.Fatalf("tip %+v, want height %d", tip, bad-1)
		}
	})
}
