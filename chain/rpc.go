package chain

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// maxRPCBody bounds a node's answer. The largest legitimate one we ask for is
// a 4 MB block as hex (8 MB); anything far beyond is a broken or hostile node.
const maxRPCBody = 64 << 20

// RPCConfig says how to reach a node's JSON-RPC (Bitcoin Core or btcd).
type RPCConfig struct {
	URL        string        // e.g. http://127.0.0.1:8332; credentials in the URL are used if User is empty
	User, Pass string        // RPC credentials
	CookieFile string        // Core's .cookie ("user:pass"); overrides User and Pass
	Timeout    time.Duration // per request; 0 means 30s
	InFlight   int           // requests FetchBlocks keeps in flight; 0 means 8 (btcd serves 10 RPC clients at once by default)
}

// RPCClient talks JSON-RPC 1.0 over HTTP to a node. It is safe for
// concurrent use.
type RPCClient struct {
	url      string // what we POST to, without credentials
	endpoint string // for messages
	cookie   string
	timeout  time.Duration
	inFlight int
	hc       *http.Client
	log      *slog.Logger
	id       atomic.Uint64

	mu         sync.Mutex // guards user and pass, which a cookie reload replaces, and the fields below
	user, pass string
	net        Network // the node's, once asked
	netKnown   bool
	lastState  HeaderState // of the last block FetchBlocks judged, for the next call
}

// RPCError is a JSON-RPC error object returned by the node.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("RPC error %d: %s", e.Code, e.Message) }

// NewRPCClient checks cfg and reads the cookie file; it does not contact the
// node. A nil log discards messages.
func NewRPCClient(cfg RPCConfig, log *slog.Logger) (*RPCClient, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raw := strings.TrimSpace(cfg.URL)
	if raw == "" {
		return nil, fmt.Errorf("%w: node URL is empty", ErrBadInput)
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: node URL %q: want http://host:port", ErrBadInput, cfg.URL)
	}
	user, pass := cfg.User, cfg.Pass
	if u.User != nil && user == "" {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	u.User = nil
	if cfg.Timeout < 0 || cfg.InFlight < 0 {
		return nil, fmt.Errorf("%w: negative RPC timeout or in-flight count", ErrBadInput)
	}
	c := &RPCClient{
		url:      u.String(),
		endpoint: u.String(),
		cookie:   cfg.CookieFile,
		timeout:  cfg.Timeout,
		inFlight: cfg.InFlight,
		log:      log,
		user:     user,
		pass:     pass,
	}
	if c.timeout == 0 {
		c.timeout = 30 * time.Second
	}
	if c.inFlight == 0 {
		c.inFlight = 8
	}
	if c.cookie != "" {
		if err := c.readCookie(); err != nil {
			return nil, err
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c.inFlight
	c.hc = &http.Client{Transport: tr}
	return c, nil
}

// readCookie loads user and password from the cookie file. Core writes a new
// one each time it starts, so we read it again when the node rejects us.
func (c *RPCClient) readCookie() error {
	b, err := os.ReadFile(c.cookie)
	if err != nil {
		return fmt.Errorf("%w: cookie file: %v", ErrBadInput, err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" {
		return fmt.Errorf("%w: cookie file %s: want user:password", ErrBadInput, c.cookie)
	}
	c.mu.Lock()
	c.user, c.pass = user, pass
	c.mu.Unlock()
	return nil
}

// Endpoint is the node's URL without credentials, for messages.
func (c *RPCClient) Endpoint() string { return c.endpoint }

func (c *RPCClient) errorf(method, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrNode, c.endpoint, method, fmt.Sprintf(format, args...))
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// Call invokes method with params and decodes the result into result (which
// may be nil to ignore it).
func (c *RPCClient) Call(ctx context.Context, method string, params []any, result any) error {
	raw, err := c.call(ctx, method, params)
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return c.errorf(method, "unexpected result: %v", err)
	}
	return nil
}

// call returns the raw JSON result of one request. A rejected cookie is read
// again once, for a node that restarted.
func (c *RPCClient) call(ctx context.Context, method string, params []any) (json.RawMessage, error) {
	raw, status, err := c.post(ctx, method, params)
	if err == nil && status == http.StatusUnauthorized && c.cookie != "" {
		if c.readCookie() == nil {
			c.log.Info("node rejected the cookie, read it again", "endpoint", c.endpoint, "cookie", c.cookie)
			raw, status, err = c.post(ctx, method, params)
		}
	}
	if err != nil {
		return nil, err
	}
	if status == http.StatusUnauthorized {
		hint := "check the RPC user and password"
		if c.cookie != "" {
			hint = "check the cookie file " + c.cookie
		}
		return nil, c.errorf(method, "credentials rejected (HTTP 401), %s", hint)
	}
	// Core answers RPC errors with HTTP 500 or 404 and a JSON body, so try
	// the body before judging the status.
	var resp rpcResponse
	if jerr := json.Unmarshal(raw, &resp); jerr != nil || (resp.Error == nil && resp.Result == nil && status != http.StatusOK) {
		if status != http.StatusOK {
			return nil, c.errorf(method, "HTTP %d: %s", status, firstLine(raw))
		}
		return nil, c.errorf(method, "answer is not JSON-RPC: %s", firstLine(raw))
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrNode, c.endpoint, method, resp.Error)
	}
	return resp.Result, nil
}

// post sends one request and returns the bounded body and HTTP status.
func (c *RPCClient) post(ctx context.Context, method string, params []any) ([]byte, int, error) {
	if params == nil {
		params = []any{} // btcd rejects a request without params
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "1.0", ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s %s: cannot encode params: %v", ErrBadInput, c.endpoint, method, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, c.errorf(method, "%v", err)
	}
	c.mu.Lock()
	req.SetBasicAuth(c.user, c.pass)
	c.mu.Unlock()
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxRPCBody+1))
		if err == nil {
			if len(b) > maxRPCBody {
				return nil, 0, c.errorf(method, "answer larger than %d MiB", maxRPCBody>>20)
			}
			return b, resp.StatusCode, nil
		}
	}
	switch {
	case ctx.Err() != nil:
		return nil, 0, fmt.Errorf("%w: %s %s: %w", ErrNode, c.endpoint, method, ctx.Err())
	case rctx.Err() != nil:
		return nil, 0, c.errorf(method, "no answer within %s", c.timeout)
	}
	return nil, 0, c.errorf(method, "%s", netCause(err))
}

// netCause strips the layers Go puts around a network error ("Post \"url\":
// dial tcp 127.0.0.1:1: connect: connection refused") down to the part a
// user can act on ("connection refused"); the endpoint is named already.
func netCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return err.Error()
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// BlockCount is the height of the node's best chain.
func (c *RPCClient) BlockCount(ctx context.Context) (int64, error) {
	var n int64
	err := c.Call(ctx, "getblockcount", nil, &n)
	return n, err
}

// BlockHash is the hash of the best-chain block at height.
func (c *RPCClient) BlockHash(ctx context.Context, height int64) (chainhash.Hash, error) {
	var s string
	if err := c.Call(ctx, "getblockhash", []any{height}, &s); err != nil {
		return chainhash.Hash{}, err
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil || len(s) != 2*chainhash.HashSize {
		return chainhash.Hash{}, c.errorf("getblockhash", "result %q is not a block hash", firstLine([]byte(s)))
	}
	return *h, nil
}

// RawBlock is the serialized block with the given hash. The header is checked
// against the hash, so a node cannot hand us another block.
func (c *RPCClient) RawBlock(ctx context.Context, hash chainhash.Hash) ([]byte, error) {
	// Verbosity 0 is the integer both Core and btcd (which rejects the
	// older boolean form) accept.
	res, err := c.call(ctx, "getblock", []any{hash.String(), 0})
	if err != nil {
		return nil, err
	}
	raw, err := decodeHexString(res)
	if err != nil {
		return nil, c.errorf("getblock", "block %s: %v", hash, err)
	}
	if len(raw) < 80 || chainhash.DoubleHashH(raw[:80]) != hash {
		return nil, fmt.Errorf("%w: %s getblock: asked for block %s, got bytes that do not hash to it", ErrCorrupt, c.endpoint, hash)
	}
	return raw, nil
}

// decodeHexString decodes a JSON string of hex digits without first copying
// it into a Go string: blocks are megabytes.
func decodeHexString(res json.RawMessage) ([]byte, error) {
	if len(res) < 2 || res[0] != '"' || res[len(res)-1] != '"' {
		return nil, errors.New("result is not a hex string")
	}
	digits := res[1 : len(res)-1]
	raw := make([]byte, hex.DecodedLen(len(digits)))
	if _, err := hex.Decode(raw, digits); err != nil || len(digits)%2 != 0 {
		return nil, errors.New("result is not a hex string")
	}
	return raw, nil
}

// SubmitBlock hands a serialized block to the node. A node that answers with
// a reason (Core: "duplicate", "high-hash"; btcd: "rejected: ...") did not
// take the block.
func (c *RPCClient) SubmitBlock(ctx context.Context, raw []byte) error {
	var reason *string
	if err := c.Call(ctx, "submitblock", []any{hex.EncodeToString(raw)}, &reason); err != nil {
		return err
	}
	if reason != nil {
		return c.errorf("submitblock", "block rejected: %s", *reason)
	}
	return nil
}

// Network names the node's network as cointrail does (mainnet, testnet,
// signet, regtest). Core says main/test/signet/regtest, btcd says
// mainnet/testnet3/signet/regtest.
func (c *RPCClient) Network(ctx context.Context) (string, error) {
	var info struct {
		Chain string `json:"chain"`
	}
	if err := c.Call(ctx, "getblockchaininfo", nil, &info); err != nil {
		return "", err
	}
	switch info.Chain {
	case "main", "mainnet":
		return "mainnet", nil
	case "test", "testnet3":
		return "testnet", nil
	case "signet", "regtest":
		return info.Chain, nil
	}
	return "", fmt.Errorf("%w: %s is on chain %q, cointrail supports mainnet, testnet (3), signet and regtest",
		ErrWrongNetwork, c.endpoint, info.Chain)
}

type fetched struct {
	raw []byte
	err error
}

// FetchBlocks streams the best-chain blocks at heights [from, to] to fn in
// height order. Up to InFlight blocks are requested concurrently, each over
// its own HTTP request (btcd closes the connection after every answer, so
// this, not batching, is what hides the round trips on both nodes). Each
// block's bits are checked against the network's difficulty rules before fn
// sees it (see headerCheck). It stops
// at the first error, including one returned by fn, and returns it.
// Blocks are looked up by height, so a reorg during the call can mix
// branches: callers that care check each block's previous-block hash.
func (c *RPCClient) FetchBlocks(ctx context.Context, from, to int64, fn func(height int64, raw []byte) error) error {
	if from < 0 || to < from {
		return fmt.Errorf("%w: block range %d..%d", ErrBadInput, from, to)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // no request outlives the call
	defer cancel()

	// sem holds a token per block requested but not yet handed to fn;
	// order carries their result channels in height order.
	sem := make(chan struct{}, c.inFlight)
	order := make(chan chan fetched, c.inFlight)
	wg.Go(func() {
		defer close(order)
		for h := from; h <= to; h++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			ch := make(chan fetched, 1)
			wg.Go(func() {
				hash, err := c.BlockHash(ctx, h)
				if err != nil {
					ch <- fetched{err: err}
					return
				}
				raw, err := c.RawBlock(ctx, hash)
				ch <- fetched{raw, err}
			})
			order <- ch // never blocks: at most cap(sem) channels are queued
		}
	})

	c.log.Debug("fetching blocks", "endpoint", c.endpoint, "from", from, "to", to, "inflight", c.inFlight)
	hc, err := c.newHeaderCheck(ctx)
	if err != nil {
		return err
	}
	next := from
	for ch := range order {
		r := <-ch
		<-sem
		if ctx.Err() != nil {
			break // blocks that arrived anyway are not handed out
		}
		if r.err != nil {
			return r.err
		}
		if err := hc.check(ctx, next, r.raw); err != nil {
			return err
		}
		if err := fn(next, r.raw); err != nil {
			return err
		}
		next++
	}
	if next <= to { // the caller's context ended
		return fmt.Errorf("%w: %s: fetching block %d: %w", ErrNode, c.endpoint, next, ctx.Err())
	}
	return nil
}
