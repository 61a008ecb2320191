package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/internal/testnode"
	"github.com/cointrail/cointrail/server"
)

// cointrailBin builds cmd/cointrail into the test's temporary directory
// (the crash test needs a real process to kill).
func cointrailBin(t testing.TB) string {
	t.Helper()
	if p, ok := builtBin[t.Name()]; ok {
		return p
	}
	p := filepath.Join(t.TempDir(), "cointrail")
	if out, err := exec.Command("go", "build", "-o", p, "../cmd/cointrail").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	builtBin[t.Name()] = p
	return p
}

var builtBin = map[string]string{}

func runBin(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cointrailBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("cointrail %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// receiver records webhook deliveries by idempotency key.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	byKey  map[string][]string // idempotency key → alert identities delivered under it
	count  int
	secret string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{byKey: map[string][]string{}, secret: "s3cret"}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if !server.VerifySignature(r.secret, body, req.Header.Get(server.HeaderSignature)) {
			t.Errorf("bad signature")
			w.WriteHeader(401)
			return
		}
		var a server.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			t.Errorf("delivery is not an alert: %v", err)
		}
		r.mu.Lock()
		r.byKey[req.Header.Get(server.HeaderIdempotency)] = append(r.byKey[req.Header.Get(server.HeaderIdempotency)], identity(a))
		r.count++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func identity(a server.Alert) string {
	return fmt.Sprintf("%s case=%d tx=%s block=%s", a.Kind, a.CaseID, a.TxID, a.BlockHash)
}

// identities returns the distinct alerts delivered, checking that no
// alert came under two keys and no key carried two alerts.
func (r *receiver) identities(t *testing.T) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]string{}
	var out []string
	for k, ids := range r.byKey {
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Fatalf("key %s carried %q and %q", k, ids[0], id)
			}
		}
		if other, ok := seen[ids[0]]; ok {
			t.Fatalf("alert %q delivered under two keys, %s and %s", ids[0], other, k)
		}
		seen[ids[0]] = k
		out = append(out, ids[0])
	}
	slices.Sort(out)
	return out
}

// serveProc is a running `cointrail serve`.
type serveProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	base   string
	key    string
	exited chan error
}

func startServe(t *testing.T, env []string, data string, node *testnode.Node, hook, key string) *serveProc {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(cointrailBin(t), "serve", "--data", data, "--network", "regtest", "--rpc", node.URL, "--rpc-user", node.User,
		"--rpc-pass", node.Pass, "--listen", addr, "--poll-interval", "50ms", "--no-mempool", "--webhook", hook, "--webhook-secret", "s3cret")
	cmd.Env = append(os.Environ(), env...)
	p := &serveProc{cmd: cmd, stderr: &bytes.Buffer{}, base: "http://" + addr, key: key, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	return p
}

// status asks the running server; ok is false while it is not answering.
func (p *serveProc) status() (server.StatusResponse, bool) {
	var st server.StatusResponse
	req, _ := http.NewRequest("GET", p.base+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// waitDone waits until the server has the case state at height h and no
// delivery pending, or it exits; it reports which.
func (p *serveProc) waitDone(t *testing.T, h int64) (done bool, exitErr error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			return false, err
		case <-time.After(50 * time.Millisecond):
		}
		if st, ok := p.status(); ok && st.CaseHeight == h && st.TipHeight == h && sumPending(st) == 0 {
			return true, nil
		}
	}
	t.Fatalf("serve neither finished nor exited within 60s:\n%s", p.stderr.String())
	return false, nil
}

func sumPending(st server.StatusResponse) int {
	n := 0
	for _, v := range st.WebhooksPending {
		n += v
	}
	return n
}

// stop sends SIGTERM and expects a clean exit.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve ignored SIGTERM for 30s")
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Fatalf("no graceful shutdown in the log:\n%s", p.stderr.String())
	}
}

func killedBySIGKILL(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// TestServeSurvivesSIGKILL runs the real binary against btcd: a case on a
// theft whose funds move through 24 blocks (peeling to an exchange and
// paying a watched address). One server runs undisturbed; another is
// killed with SIGKILL at seeded random moments — a block written but not
// committed, right after an index commit, before a case commit, right after
// alerts commit, right after a webhook accepted a delivery — and restarted
// until it is done. Then: the same alerts were delivered (none lost, none
// under two idempotency keys), and the index digest equals the
// undisturbed run's and a fresh ingest's.
func TestServeSurvivesSIGKILL(t *testing.T) {
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
	theft := must(w.Send(w.Out(testnode.P2PKH, 1, 20_0000_0000)))
	node.Generate(1)
	exchange, watched := w.Address(testnode.P2PKH, 3), w.Address(testnode.P2PKH, 9)

	// The template: the chain so far, labels, a key and the case.
	tmpl := filepath.Join(t.TempDir(), "tmpl")
	rpc := []string{"--data", tmpl, "--network", "regtest"}
	runBin(t, nil, append([]string{"ingest", "--rpc", node.URL, "--rpc-user", node.User, "--rpc-pass", node.Pass}, rpc...)...)
	lf := filepath.Join(t.TempDir(), "labels.csv")
	os.WriteFile(lf, []byte("address,label,category\n"+exchange+",Exchange X,exchange\n"), 0o644)
	runBin(t, nil, append([]string{"labels", "import"}, append(rpc, lf)...)...)
	out := strings.Fields(runBin(t, nil, append([]string{"apikey", "create", "--role", "read"}, rpc...)...))
	key := out[len(out)-1]
	runBin(t, nil, append([]string{"case", "create", "--name", "heist", "--watch", watched, "--seed", fmt.Sprintf("%s:0", theft.TxHash())}, rpc...)...)

	// The thief peels 0.5 BTC per block, every third peel to the exchange;
	// someone pays the watched address every fifth block.
	cur := w.OutPoints(theft)[0]
	value := int64(20_0000_0000)
	const peels = 24
	mined := 0
	mine := func() {
		i := mined
		dest := w.Out(testnode.P2PKH, uint32(20+i), 5000_0000)
		if i%3 == 0 {
			dest = w.Out(testnode.P2PKH, 3, 5000_0000)
		}
		value -= 5000_0000 + testnode.Fee(1, 2)
		tx := must(w.Spend([]wire.OutPoint{cur}, w.Out(testnode.P2PKH, 2, value), dest))
		if _, err := w.Submit(tx); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			must(w.Send(w.Out(testnode.P2PKH, 9, 1000_0000)))
		}
		node.Generate(1)
		cur = wire.OutPoint{Hash: tx.TxHash(), Index: 0}
		mined++
	}
	tip := int64(102 + peels)

	// The run that gets killed follows the blocks live as they are mined
	// (one commit per block), restarted after every kill.
	seed := uint64(20240531)
	rng := rand.New(rand.NewPCG(seed, 2))
	points := []string{"block", "commit", "serve-cases", "serve-alerts", "serve-delivered"}
	data := filepath.Join(t.TempDir(), "crash")
	copyDir(t, tmpl, data)
	got := newReceiver(t)
	kills := map[string]int{}
	for round := 0; ; round++ {
		if round > 60 {
			t.Fatalf("seed %d: not done after 60 restarts (kills %v)", seed, kills)
		}
		point := points[round%len(points)]
		fp := fmt.Sprintf("%s:%d", point, 1+rng.IntN(3))
		env := []string{"COINTRAIL_FAILPOINT=" + fp}
		if round >= 3*len(points) {
			env = nil // enough kills: let it finish
		}
		p := startServe(t, env, data, node, got.srv.URL, key)
		var exitErr error
		exited := false
	feed:
		for mined < peels {
			mine()
			select {
			case exitErr = <-p.exited:
				exited = true
				break feed
			case <-time.After(150 * time.Millisecond):
			}
		}
		done := false
		if !exited {
			done, exitErr = p.waitDone(t, tip)
		}
		if done {
			p.stop(t)
			break
		}
		if !killedBySIGKILL(exitErr) {
			t.Fatalf("seed %d failpoint %s: serve exited with %v, want SIGKILL\n%s", seed, fp, exitErr, p.stderr.String())
		}
		kills[point]++
	}

	// The undisturbed run, over the finished chain.
	refData := filepath.Join(t.TempDir(), "ref")
	copyDir(t, tmpl, refData)
	ref := newReceiver(t)
	p := startServe(t, nil, refData, node, ref.srv.URL, key)
	if done, err := p.waitDone(t, tip); !done {
		t.Fatalf("reference serve exited: %v\n%s", err, p.stderr.String())
	}
	p.stop(t)
	want := ref.identities(t)
	arrivals := 0
	for _, id := range want {
		if strings.HasPrefix(id, server.KindServiceArrival) {
			arrivals++
		}
	}
	// 24 peels (8 of them to the exchange) and 5 payments to the watched address.
	if len(want) != 29 || arrivals != 8 {
		t.Fatalf("the reference run delivered %d alerts (%d arrivals), want 29 (8):\n%s", len(want), arrivals, strings.Join(want, "\n"))
	}
	refDigest := runBin(t, nil, "index", "digest", "--data", refData, "--network", "regtest")

	for _, pt := range points {
		if kills[pt] == 0 {
			t.Fatalf("seed %d: failpoint %s never fired (kills %v): the test proved less than it claims", seed, pt, kills)
		}
	}
	if have := got.identities(t); !slices.Equal(have, want) {
		t.Fatalf("seed %d (kills %v): delivered alerts differ from the undisturbed run's\n got %d %v\nwant %d %v", seed, kills, len(have), have, len(want), want)
	}
	got.mu.Lock()
	t.Logf("kills %v; %d deliveries of %d alerts", kills, got.count, len(want))
	got.mu.Unlock()
	if d := runBin(t, nil, "index", "digest", "--data", data, "--network", "regtest"); d != refDigest {
		t.Fatalf("digest after the kills %s, undisturbed %s", d, refDigest)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	runBin(t, nil, "ingest", "--data", fresh, "--network", "regtest", "--rpc", node.URL, "--rpc-user", node.User, "--rpc-pass", node.Pass)
	// The fresh index has no labels: only the chain's digest, the first line, compares.
	chainDigest := func(out string) string { first, _, _ := strings.Cut(out, "\n"); return first }
	if d := runBin(t, nil, "index", "digest", "--data", fresh, "--network", "regtest"); chainDigest(d) != chainDigest(refDigest) {
		t.Fatalf("fresh ingest digest %s, served %s", d, refDigest)
	}
}

// TestAPIKeyCreatePrintsKeyLast: other tools take the last word.
func TestAPIKeyCreatePrintsKeyLast(t *testing.T) {
	data := t.TempDir()
	main := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	out := strings.Fields(main("apikey", "create", "--data", data, "--network", "regtest", "--role", "admin", "--name", "ops"))
	if len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "ct_") || len(out[len(out)-1]) != 46 {
		t.Fatalf("apikey create printed %q", out)
	}
	list := main("apikey", "list", "--data", data, "--network", "regtest")
	if !strings.Contains(list, "admin") || !strings.Contains(list, "ops") || strings.Contains(list, out[len(out)-1]) {
		t.Fatalf("apikey list: %s", list)
	}
}

// TestServeCommandLine: the config file and the flags that override it,
// and every refused command line, each with one line naming the problem.
func TestServeCommandLine(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "serve.yaml")
	os.WriteFile(cfg, []byte("rpc: {url: \"http://127.0.0.1:1\"}\nreorg_limit: 0\n"), 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	base := []string{"--data", data, "--network", "regtest"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve"}, 2, "cointrail serve: no regtest index in " + data + ": build one with `cointrail ingest --data " + data + " --network regtest --blocks DIR` (or --rpc URL), or point --data at one"},
		{[]string{"serve", "--config", cfg}, 2, "cointrail serve: server: bad input: reorg_limit 0: want 1..10000"},
		// The flag overrides the file's reorg_limit; the next problem is the port.
		{[]string{"serve", "--config", cfg, "--reorg-limit", "5", "--listen", busy.Addr().String()}, 1,
			"cointrail serve: server: bad input: listen on " + busy.Addr().String() + ": listen tcp " + busy.Addr().String() + ": bind: address already in use"},
		{[]string{"serve", "--rpc", "http://127.0.0.1:1", "--webhook", "http://127.0.0.1:2/h"}, 2, "cointrail serve: --webhook needs --webhook-secret (bodies are signed)"},
		{[]string{"serve", "--rpc", "http://127.0.0.1:1", "--config", filepath.Join(data, "none.yaml")}, 2,
			"cointrail serve: server: bad input: config file: open " + filepath.Join(data, "none.yaml") + ": no such file or directory"},
		{[]string{"case", "create", "--name", "x"}, 2, "cointrail case create: server: bad input: case: no seeds (TXID:VOUT, TXID or ADDRESS, optionally @SATS)"},
		{[]string{"case", "show", "7"}, 1, "cointrail case show: server: not found: no case 7"},
		{[]string{"case", "delete", "x"}, 2, `cointrail case delete: case id "x": want a positive integer`},
		{[]string{"apikey", "create", "--role", "root"}, 2, `cointrail apikey create: server: bad input: role "root": want read or admin`},
		{[]string{"apikey", "revoke", "abc"}, 1, `cointrail apikey revoke: server: not found: no API key with id "abc"`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		var args []string
		if c.args[0] != "serve" {
			// two-word commands take their flags after both words
			args = append(append(append([]string{}, c.args[:2]...), base...), c.args[2:]...)
		} else {
			args = append(append([]string{"serve"}, base...), c.args[1:]...)
		}
		code := Main(args, &out, &errb)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if strings.HasPrefix(l, "cointrail ") {
				lines = append(lines, l)
			}
		}
		if code != c.code || len(lines) != 1 || lines[0] != c.want {
			t.Errorf("%v: exit %d %q\nwant %d %q", c.args, code, lines, c.code, c.want)
		}
	}
}
