package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/taint"
)

// benchServer is a server over a synthetic index of nBlocks blocks of
// txsPerBlock transactions, not following any node.
func benchServer(b *testing.B, nBlocks, txsPerBlock, nAddrs int, hook string) (*Server, *synth) {
	b.Helper()
	ix, err := index.Open(b.TempDir(), mustNet(b), index.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	s := newSynth(b, ix, 42, nAddrs)
	for range nBlocks {
		s.connect(s.block(txsPerBlock))
	}
	var ls []string
	for i := 0; i < nAddrs; i += 50 {
		ls = append(ls, s.addrs[i].Encode(ix.Net)+",Exchange "+strconv.Itoa(i)+",exchange,bench,ownership")
	}
	importLabels(b, ix, ls...)
	cfg := DefaultConfig()
	cfg.Network, cfg.RPC.URL = "regtest", "http://127.0.0.1:1"
	cfg.Limits.RatePerSec, cfg.Limits.RateBurst = 1e9, 1<<30
	cfg.Log.Level = "error"
	if hook != "" {
		cfg.Webhooks = []Webhook{{URL: hook, Secret: hookSecret}}
	}
	srv, err := New(cfg, ix, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.e.reconcile(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv, s
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s)-1) + 0.5)
	return float64(s[i]) / float64(time.Millisecond)
}

// BenchmarkBlockToAlert: a block of 3,000 transactions in which each of 10
// cases' tainted outputs moves, from its raw bytes in hand (as a ZMQ
// rawblock delivers it) to the last of its 10 alerts received by a webhook
// on loopback: decode, index commit and sync, case updates and alerts in
// one durable commit, signed delivery. Reports p50/p99 of that latency and
// of the part up to the commit.
func BenchmarkBlockToAlert(b *testing.B) {
	var mu sync.Mutex
	got := map[string]int{}
	arrived := make(chan struct{}, 1024)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a Alert
		json.Unmarshal(body, &a)
		mu.Lock()
		got[a.BlockHash]++
		mu.Unlock()
		arrived <- struct{}{}
	}))
	defer rcv.Close()
	srv, s := benchServer(b, 40, 3000, 20_000, rcv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, d := range srv.deliverers {
		go d.run(ctx)
	}
	e, ix := srv.e, srv.ix
	// Ten cases on big unspent outputs.
	var seeds []wire.OutPoint
	for _, u := range s.utxos {
		tx, _ := ix.FindTx(u.op.Hash)
		first, _ := ix.TxOutputs(tx)
		if _, labelled := e.book.Entity(ix.OutAddr(first + uint64(u.op.Index))); !labelled && u.value > 1_0000_0000 && len(seeds) < 10 {
			seeds = append(seeds, u.op)
		}
	}
	for i, op := range seeds {
		if _, err := e.createCase(ctx, CaseSpec{Name: fmt.Sprint("case ", i), Seeds: []string{op.String()}}); err != nil {
			b.Fatal(err)
		}
	}
	// The background traffic does not touch tainted outputs: in each block
	// exactly the chosen output of each case moves.
	reserve := func() {
		s.reserved = map[wire.OutPoint]bool{}
		for _, c := range e.caseList() {
			for o := range c.live {
				tx := ix.OutTx(o)
				first, _ := ix.TxOutputs(tx)
				s.reserved[wire.OutPoint{Hash: chainhash.Hash(ix.TxHash(tx)), Index: uint32(o - first)}] = true
			}
		}
	}
	var total, commit []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		reserve()
		// Each case's largest tracked output moves in the block.
		var must []wire.OutPoint
		for _, c := range e.caseList() {
			best, bestV := uint64(0), int64(-1)
			for o, lo := range c.live {
				if lo.stop == taint.StopFollowed && ix.OutValue(o) > bestV {
					best, bestV = o, ix.OutValue(o)
				}
			}
			if bestV < 0 {
				b.Fatalf("case %d has no tracked output left", c.def.ID)
			}
			tx := ix.OutTx(best)
			first, _ := ix.TxOutputs(tx)
			op := wire.OutPoint{Hash: chainhash.Hash(ix.TxHash(tx)), Index: uint32(best - first)}
			if !slices.Contains(must, op) { // two cases may share an output
				must = append(must, op)
			}
		}
		mb := s.msgBlock(3000-len(must), must...)
		var raw bytes.Buffer
		mb.Serialize(&raw)
		hash := mb.BlockHash().String()
		b.StartTimer()
		start := time.Now()
		blk, err := index.Prepare(raw.Bytes(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		e.mu.Lock()
		if _, err := ix.Connect([]*index.Block{blk}); err != nil {
			b.Fatal(err)
		}
		if err := ix.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := e.processBlock(ix.Tip().Height); err != nil {
			b.Fatal(err)
		}
		e.mu.Unlock()
		commit = append(commit, time.Since(start))
		for {
			mu.Lock()
			n := got[hash]
			mu.Unlock()
			if n >= len(e.cases) {
				break
			}
			<-arrived
		}
		total = append(total, time.Since(start))
	}
	b.ReportMetric(percentile(total, 0.5), "p50-ms")
	b.ReportMetric(percentile(total, 0.99), "p99-ms")
	b.ReportMetric(percentile(commit, 0.5), "commit-p50-ms")
	b.ReportMetric(percentile(commit, 0.99), "commit-p99-ms")
}

// BenchmarkAPI drives GET /v1/address/{a} and GET /v1/screen/{a}?hops=1
// with wrk (Debian's wrk; scripts: server/bench_api.sh installs it) over
// loopback, random addresses of a synthetic index of 60,000 transactions,
// and reports requests/s and the 99th percentile latency.
func BenchmarkAPI(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (apt-get install -y wrk; server/bench_api.sh does it)")
	}
	srv, s := benchServer(b, 20, 3000, 20_000, "")
	key, _, err := CreateAPIKey(srv.ix.Store, RoleRead, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv.keys, _ = loadAPIKeys(srv.ix.Store)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	var addrs []string
	for _, a := range s.addrs {
		if _, err := srv.ix.AddrID(a); err == nil && len(addrs) < 2000 {
			addrs = append(addrs, `"`+a.Encode(srv.ix.Net)+`"`)
		}
	}
	dur := os.Getenv("COINTRAIL_BENCH_WRK_DURATION")
	if dur == "" {
		dur = "5s"
	}
	for _, ep := range []struct{ name, path string }{{"address", "/v1/address/%s?limit=25"}, {"screen1", "/v1/screen/%s?hops=1"}} {
		lua := fmt.Sprintf(`local a = {%s}
local n = 0
request = function()
  n = n + 1
  local path = string.format(%q, a[(n %% #a) + 1])
  return wrk.format("GET", path, {["Authorization"] = "Bearer %s"})
end
`, strings.Join(addrs, ","), ep.path, key)
		script := filepath.Join(b.TempDir(), ep.name+".lua")
		os.WriteFile(script, []byte(lua), 0o644)
		heapBefore, rssBefore := settledMemory()
		out, err := exec.Command(wrk, "-t2", "-c16", "-d"+dur, "--latency", "-s", script, "http://"+ln.Addr().String()).CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		// A soak (a long duration) must leave memory where it found it.
		heapAfter, rssAfter := settledMemory()
		b.ReportMetric(float64(heapBefore)/1e6, ep.name+"-heap-before-MB")
		b.ReportMetric(float64(heapAfter)/1e6, ep.name+"-heap-after-MB")
		b.ReportMetric(float64(rssBefore)/1e6, ep.name+"-rss-before-MB")
		b.ReportMetric(float64(rssAfter)/1e6, ep.name+"-rss-after-MB")
		rps := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
		p99 := regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`).FindSubmatch(out)
		non2xx := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out)
		if rps == nil || p99 == nil || non2xx != nil {
			b.Fatalf("wrk output:\n%s", out)
		}
		v, _ := strconv.ParseFloat(string(rps[1]), 64)
		l, _ := strconv.ParseFloat(string(p99[1]), 64)
		switch string(p99[2]) {
		case "us":
			l /= 1000
		case "s":
			l *= 1000
		}
		b.ReportMetric(v, ep.name+"-req/s")
		b.ReportMetric(l, ep.name+"-p99-ms")
	}
}

// settledMemory returns the live heap after a collection and the process's
// resident set.
func settledMemory() (heap, rss uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				var kb uint64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmRSS:"), "kB")), &kb)
				rss = kb * 1024
			}
		}
	}
	return m.HeapAlloc, rss
}
