package chain_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/testnode"
)

func newClient(t *testing.T, cfg chain.RPCConfig) *chain.RPCClient {
	t.Helper()
	c, err := chain.NewRPCClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFetchBlocks streams a regtest chain of 211 blocks and checks each
// arrives once, in order, is the block getblockhash names and decodes fully.
func TestFetchBlocks(t *testing.T) {
	n := testnode.Start(t)
	n.Generate(210)
	ctx := context.Background()
	for _, inFlight := range []int{1, 8} {
		c := newClient(t, chain.RPCConfig{URL: n.URL, User: n.User, Pass: n.Pass, InFlight: inFlight})
		next := int64(0)
		err := c.FetchBlocks(ctx, 0, 210, func(h int64, raw []byte) error {
			if h != next {
				return fmt.Errorf("got height %d, want %d", h, next)
			}
			next++
			want, err := c.BlockHash(ctx, h)
			if err != nil {
				return err
			}
			var b wire.MsgBlock
			r := bytes.NewReader(raw)
			if err := b.Deserialize(r); err != nil || r.Len() != 0 {
				return fmt.Errorf("block %d: decode: %v, %d bytes left over", h, err, r.Len())
			}
			if got := chainhash.DoubleHashH(raw[:80]); got != want || b.BlockHash() != want {
				return fmt.Errorf("block %d hashes to %v, getblockhash says %v", h, got, want)
			}
			if len(b.Transactions) == 0 {
				return fmt.Errorf("block %d has no transactions", h)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("InFlight %d: %v", inFlight, err)
		}
		if next != 211 {
			t.Fatalf("InFlight %d: got %d blocks, want 211", inFlight, next)
		}
	}
}

func TestFetchBlocksStops(t *testing.T) {
	n := testnode.Start(t)
	n.Generate(20)
	c := n.Client()
	stop := errors.New("enough")
	calls := 0
	err := c.FetchBlocks(context.Background(), 0, 20, func(h int64, _ []byte) error {
		calls++
		if h == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 6 {
		t.Fatalf("fn failing at height 5: err %v after %d calls; want %v after 6", err, calls, stop)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = c.FetchBlocks(ctx, 0, 20, func(h int64, _ []byte) error {
		calls++
		if h == 3 {
			cancel()
		}
		return nil
	})
	want := fmt.Sprintf("chain: node error: %s: fetching block 4: context canceled", n.URL)
	if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) || calls != 4 {
		t.Fatalf("context cancelled at height 3: err %v after %d calls; want %q after 4", err, calls, want)
	}

	for _, tc := range []struct {
		name     string
		from, to int64
		want     string
	}{
		{"beyond the tip", 15, 21, fmt.Sprintf("chain: node error: %s getblockhash: RPC error -1: Block number out of range", n.URL)},
		{"reversed", 5, 4, "chain: bad input: block range 5..4"},
		{"negative", -1, 4, "chain: bad input: block range -1..4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.FetchBlocks(context.Background(), tc.from, tc.to, func(int64, []byte) error { return nil })
			if err == nil || err.Error() != tc.want {
				t.Fatalf("FetchBlocks(%d, %d): %v, want %q", tc.from, tc.to, err, tc.want)
			}
		})
	}
}

// TestRPCNode covers the single calls and authentication against btcd.
func TestRPCNode(t *testing.T) {
	n := testnode.Start(t)
	hashes := n.Generate(2)
	ctx := context.Background()
	c := n.Client()

	if got, err := c.Network(ctx); err != nil || got != "regtest" {
		t.Fatalf("Network = %q, %v; want regtest", got, err)
	}
	if got, err := c.BlockCount(ctx); err != nil || got != 2 {
		t.Fatalf("BlockCount = %d, %v; want 2", got, err)
	}
	raw, err := c.RawBlock(ctx, hashes[1])
	if err != nil || chainhash.DoubleHashH(raw[:80]) != hashes[1] {
		t.Fatalf("RawBlock(%v): %d bytes, %v", hashes[1], len(raw), err)
	}
	var missing chainhash.Hash
	missing[0] = 1
	_, err = c.RawBlock(ctx, missing)
	want := fmt.Sprintf("chain: node error: %s getblock: RPC error -5: Block not found", n.URL)
	var rpcErr *chain.RPCError
	if err == nil || err.Error() != want || !errors.As(err, &rpcErr) || rpcErr.Code != -5 {
		t.Fatalf("RawBlock of a missing block: %v, want %q", err, want)
	}

	// A fresh node accepts the first node's blocks and refuses them twice.
	n2 := testnode.Start(t)
	c2 := n2.Client()
	for i, h := range hashes {
		raw, err := c.RawBlock(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if err := c2.SubmitBlock(ctx, raw); err != nil {
			t.Fatalf("SubmitBlock of block %d: %v", i+1, err)
		}
	}
	if got, err := c2.BlockHash(ctx, 2); err != nil || got != hashes[1] {
		t.Fatalf("second node's block 2 = %v, %v; want %v", got, err, hashes[1])
	}
	err = c2.SubmitBlock(ctx, raw)
	want = fmt.Sprintf("chain: node error: %s submitblock: block rejected: rejected: already have block %s", n2.URL, hashes[1])
	if err == nil || err.Error() != want {
		t.Fatalf("SubmitBlock twice: %v, want %q", err, want)
	}

	dir := t.TempDir()
	cookie := filepath.Join(dir, ".cookie")
	if err := os.WriteFile(cookie, []byte(n.User+":"+n.Pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badCookie := filepath.Join(dir, "bad")
	if err := os.WriteFile(badCookie, []byte("no colon"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	host := strings.TrimPrefix(n.URL, "http://")

	for _, tc := range []struct {
		name    string
		cfg     chain.RPCConfig
		newErr  string // from NewRPCClient
		callErr string // from BlockCount
	}{
		{name: "user and password", cfg: chain.RPCConfig{URL: n.URL, User: n.User, Pass: n.Pass}},
		{name: "credentials in the URL", cfg: chain.RPCConfig{URL: "http://" + n.User + ":" + n.Pass + "@" + host}},
		{name: "no scheme", cfg: chain.RPCConfig{URL: host, User: n.User, Pass: n.Pass}},
		{name: "cookie", cfg: chain.RPCConfig{URL: n.URL, User: "ignored", CookieFile: cookie}},
		{name: "wrong password", cfg: chain.RPCConfig{URL: n.URL, User: n.User, Pass: "wrong"},
			callErr: fmt.Sprintf("chain: node error: %s getblockcount: credentials rejected (HTTP 401), check the RPC user and password", n.URL)},
		{name: "no credentials", cfg: chain.RPCConfig{URL: n.URL},
			callErr: fmt.Sprintf("chain: node error: %s getblockcount: credentials rejected (HTTP 401), check the RPC user and password", n.URL)},
		{name: "unreachable", cfg: chain.RPCConfig{URL: closed, User: n.User, Pass: n.Pass},
			callErr: fmt.Sprintf("chain: node error: %s getblockcount: connection refused", closed)},
		{name: "missing cookie", cfg: chain.RPCConfig{URL: n.URL, CookieFile: filepath.Join(dir, "none")},
			newErr: fmt.Sprintf("chain: bad input: cookie file: open %s: no such file or directory", filepath.Join(dir, "none"))},
		{name: "malformed cookie", cfg: chain.RPCConfig{URL: n.URL, CookieFile: badCookie},
			newErr: fmt.Sprintf("chain: bad input: cookie file %s: want user:password", badCookie)},
		{name: "empty URL", cfg: chain.RPCConfig{}, newErr: "chain: bad input: node URL is empty"},
		{name: "other scheme", cfg: chain.RPCConfig{URL: "ftp://127.0.0.1:1"},
			newErr: `chain: bad input: node URL "ftp://127.0.0.1:1": want http://host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := chain.NewRPCClient(tc.cfg, nil)
			if tc.newErr != "" || err != nil {
				if err == nil || err.Error() != tc.newErr || !errors.Is(err, chain.ErrBadInput) {
					t.Fatalf("NewRPCClient: %v, want %q", err, tc.newErr)
				}
				return
			}
			if c.Endpoint() != n.URL && c.Endpoint() != closed {
				t.Errorf("Endpoint() = %q, want the URL without credentials", c.Endpoint())
			}
			got, err := c.BlockCount(ctx)
			if tc.callErr != "" {
				if err == nil || err.Error() != tc.callErr || !errors.Is(err, chain.ErrNode) {
					t.Fatalf("BlockCount: %v, want %q", err, tc.callErr)
				}
				return
			}
			if err != nil || got != 2 {
				t.Fatalf("BlockCount = %d, %v; want 2", got, err)
			}
		})
	}
}

// TestRPCAnswers feeds the client answers btcd does not give but Bitcoin
// Core or a broken node can: Core's chain names, Core's HTTP 500 error
// replies, non-JSON bodies, oversized bodies and a block that is not the one
// asked for.
func TestRPCAnswers(t *testing.T) {
	var block [80]byte
	var blockHash chainhash.Hash
	blockHash[0] = 1
	for _, tc := range []struct {
		name   string
		status int
		body   func(w io.Writer)
		call   func(c *chain.RPCClient) (any, error)
		want   any
		err    string // %s is the server's URL
	}{
		{"core mainnet", 200, literal(`{"result":{"chain":"main"},"error":null,"id":1}`), network, "mainnet", ""},
		{"core testnet", 200, literal(`{"result":{"chain":"test"},"error":null,"id":1}`), network, "testnet", ""},
		{"core signet", 200, literal(`{"result":{"chain":"signet"},"error":null,"id":1}`), network, "signet", ""},
		{"btcd testnet", 200, literal(`{"result":{"chain":"testnet3"},"error":null,"id":1}`), network, "testnet", ""},
		{"testnet4", 200, literal(`{"result":{"chain":"testnet4"},"error":null,"id":1}`), network, nil,
			`chain: wrong network: %s is on chain "testnet4", cointrail supports mainnet, testnet (3), signet and regtest`},
		{"core error reply", 500, literal(`{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":1}`),
			blockHashAt, nil, "chain: node error: %s getblockhash: RPC error -8: Block height out of range"},
		{"core unknown method", 404, literal(`{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":1}`),
			count, nil, "chain: node error: %s getblockcount: RPC error -32601: Method not found"},
		{"busy", 503, literal("503 Too busy.  Try again later.\n"), count, nil,
			"chain: node error: %s getblockcount: HTTP 503: 503 Too busy.  Try again later."},
		{"forbidden, empty body", 403, literal(""), count, nil, "chain: node error: %s getblockcount: HTTP 403: (empty body)"},
		{"not JSON", 200, literal("<html>proxy</html>"), count, nil,
			"chain: node error: %s getblockcount: answer is not JSON-RPC: <html>proxy</html>"},
		{"wrong result type", 200, literal(`{"result":"many","error":null,"id":1}`), count, nil,
			"chain: node error: %s getblockcount: unexpected result: json: cannot unmarshal string into Go value of type int64"},
		{"not a hash", 200, literal(`{"result":"abc","error":null,"id":1}`), blockHashAt, nil,
			`chain: node error: %s getblockhash: result "abc" is not a block hash`},
		{"other block", 200, literal(fmt.Sprintf(`{"result":"%x","error":null,"id":1}`, block)), rawBlock, nil,
			"chain: corrupt data: %s getblock: asked for block " + blockHash.String() + ", got bytes that do not hash to it"},
		{"block not hex", 200, literal(`{"result":"zz","error":null,"id":1}`), rawBlock, nil,
			"chain: node error: %s getblock: block " + blockHash.String() + ": result is not a hex string"},
		{"oversized", 200, func(w io.Writer) {
			io.WriteString(w, `{"result":"`)
			chunk := bytes.Repeat([]byte("00"), 1<<20)
			for range 33 {
				if _, err := w.Write(chunk); err != nil {
					return // the client hung up, as it should
				}
			}
			io.WriteString(w, `"}`)
		}, rawBlock, nil, "chain: node error: %s getblock: answer larger than 64 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				tc.body(w)
			}))
			defer srv.Close()
			c := newClient(t, chain.RPCConfig{URL: srv.URL, User: "u", Pass: "p"})
			got, err := tc.call(c)
			if tc.err != "" {
				want := fmt.Sprintf(tc.err, srv.URL)
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v, want %q", err, want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func literal(s string) func(io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }

func network(c *chain.RPCClient) (any, error) { return c.Network(context.Background()) }
func count(c *chain.RPCClient) (any, error)   { return c.BlockCount(context.Background()) }
func blockHashAt(c *chain.RPCClient) (any, error) {
	return c.BlockHash(context.Background(), 7)
}
func rawBlock(c *chain.RPCClient) (any, error) {
	var h chainhash.Hash
	h[0] = 1
	return c.RawBlock(context.Background(), h)
}
