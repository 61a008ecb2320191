package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testnode"
	"github.com/cointrail/cointrail/labels"
)

const hookSecret = "test-secret"

// delivery is one webhook request the receiver got.
type hookHit struct {
	at      time.Time
	key     string
	attempt string
	alert   Alert
	body    []byte
}

// hookReceiver is a webhook endpoint on loopback that checks signatures,
// records every delivery and can be told to fail.
type hookReceiver struct {
	t    testing.TB
	srv  *httptest.Server
	mu   sync.Mutex
	hits []hookHit
	fail int // answer 500 to this many requests first
	wake chan struct{}
}

func newHookReceiver(t testing.TB) *hookReceiver {
	h := &hookReceiver{t: t, wake: make(chan struct{}, 1)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !VerifySignature(hookSecret, body, r.Header.Get(HeaderSignature)) {
			t.Errorf("webhook: bad signature %q", r.Header.Get(HeaderSignature))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.fail > 0 {
			h.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var a Alert
		if err := json.Unmarshal(body, &a); err != nil {
			t.Errorf("webhook: body is not an alert: %v", err)
		}
		if a.IdempotencyKey != r.Header.Get(HeaderIdempotency) {
			t.Errorf("webhook: idempotency header %q, body %q", r.Header.Get(HeaderIdempotency), a.IdempotencyKey)
		}
		h.hits = append(h.hits, hookHit{at: time.Now(), key: a.IdempotencyKey, attempt: r.Header.Get(HeaderAttempt), alert: a, body: body})
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) all() []hookHit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookHit(nil), h.hits...)
}

// waitFor waits until match holds for a received alert and returns it.
func (h *hookReceiver) waitFor(timeout time.Duration, what string, match func(Alert) bool) hookHit {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, hit := range h.all() {
			if match(hit.alert) {
				return hit
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, hit := range h.all() {
				got = append(got, fmt.Sprintf("%d:%s:%s:%v", hit.alert.ID, hit.alert.Kind, hit.alert.TxID, hit.alert.Confirmed))
			}
			h.t.Fatalf("webhook: no %s within %s; got %v", what, timeout, got)
		}
		select {
		case <-h.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// harness is a btcd node, an index and a running server on loopback.
type harness struct {
	t      *testing.T
	node   *testnode.Node
	data   string
	ix     *index.Index
	srv    *Server
	base   string
	admin  string
	reader string
	hooks  *hookReceiver
	cancel context.CancelFunc
	done   chan error
}

type harnessOpt func(*Config)

func testLog(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("COINTRAIL_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

func testConfig(node *testnode.Node, data string) Config {
	cfg := DefaultConfig()
	cfg.Data, cfg.Network, cfg.Listen = data, "regtest", "127.0.0.1:0"
	cfg.RPC = RPC{URL: node.URL, User: node.User, Pass: node.Pass}
	cfg.PollInterval = 50 * time.Millisecond
	cfg.Mempool.Interval = 100 * time.Millisecond
	cfg.Delivery.BackoffBase = 20 * time.Millisecond
	cfg.Delivery.BackoffMax = 200 * time.Millisecond
	cfg.Limits.RatePerSec, cfg.Limits.RateBurst = 1000, 1000
	return cfg
}

// start opens the index in data and runs a server following node.
func start(t *testing.T, node *testnode.Node, data string, hooks *hookReceiver, before func(*index.Index), opts ...harnessOpt) *harness {
	t.Helper()
	return startLogging(t, node, data, hooks, before, testLog(t), opts...)
}

// startLogging is start with the server logging to log.
func startLogging(t *testing.T, node *testnode.Node, data string, hooks *hookReceiver, before func(*index.Index), log *slog.Logger, opts ...harnessOpt) *harness {
	t.Helper()
	cfg := testConfig(node, data)
	if hooks != nil {
		cfg.Webhooks = []Webhook{{URL: hooks.srv.URL + "/hook", Secret: hookSecret}}
	}
	for _, o := range opts {
		o(&cfg)
	}
	ix, err := index.Open(data, mustNet(t), index.Options{}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(ix)
	}
	admin, _, err := CreateAPIKey(ix.Store, RoleAdmin, "test admin", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reader, _, err := CreateAPIKey(ix.Store, RoleRead, "test reader", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, ix, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, node: node, data: data, ix: ix, srv: s, base: "http://" + s.Addr(), admin: admin, reader: reader,
		hooks: hooks, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- s.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop shuts the server down gracefully and closes the index.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil && !strings.Contains(err.Error(), "context canceled") {
			h.t.Errorf("server: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Fatal("server did not shut down within 30s")
	}
	if err := h.ix.Close(); err != nil {
		h.t.Error(err)
	}
}

func mustNet(t testing.TB) chain.Network {
	n, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// call makes an API request and decodes a JSON answer into out (if not nil).
func (h *harness) call(method, path, key string, body any, out any) int {
	h.t.Helper()
	return doCall(h.t, method, h.base+path, key, body, out)
}

// callT is call failing t (a subtest) instead of the harness's test.
func (h *harness) callT(t testing.TB, method, path, key string, body any, out any) int {
	t.Helper()
	return doCall(t, method, h.base+path, key, body, out)
}

func doCall(t testing.TB, method, url, key string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer %d is not JSON: %v\n%s", method, url, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}

// waitTip waits until the server's index tip is at the node's tip.
func (h *harness) waitTip(timeout time.Duration) int64 {
	h.t.Helper()
	want, err := h.node.Client().BlockCount(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var bestStr string
	if err := h.node.Client().Call(context.Background(), "getbestblockhash", nil, &bestStr); err != nil {
		h.t.Fatal(err)
	}
	best, _ := chainhash.NewHashFromStr(bestStr)
	deadline := time.Now().Add(timeout)
	for {
		t := h.ix.Tip()
		h.srv.e.mu.RLock()
		f := h.srv.e.follow
		h.srv.e.mu.RUnlock()
		if !t.Empty && int64(t.Height) == want && t.Hash == *best && f.ok && f.hash == *best {
			return want
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("server tip %d (cases at %d) did not reach the node's %d within %s", t.Height, f.height, want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// importLabels writes a CSV label file and imports it into ix's store.
func importLabels(t testing.TB, ix *index.Index, lines ...string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(p, []byte("address,label,category,source,confidence\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := labels.Import(ix.Store, ix.Net, []string{p}, time.Now(), testLog(t)); err != nil {
		t.Fatal(err)
	}
}

func outpoint(tx *wire.MsgTx, vout int) string { return fmt.Sprintf("%s:%d", tx.TxHash(), vout) }

// txOK returns a function that fails t on a wallet error: must(w.Send(...)).
func txOK(t testing.TB) func(*wire.MsgTx, error) *wire.MsgTx {
	return func(tx *wire.MsgTx, err error) *wire.MsgTx {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
}

func mustSubmit(t testing.TB, w *testnode.Wallet, tx *wire.MsgTx) {
	t.Helper()
	if _, err := w.Submit(tx); err != nil {
		t.Fatal(err)
	}
}

// freshDigest builds a new index of node's chain over RPC and returns its digest.
func freshDigest(t testing.TB, node *testnode.Node) string {
	t.Helper()
	ix, err := index.Open(t.TempDir(), mustNet(t), index.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.IngestRPC(context.Background(), node.Client(), index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := ix.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
