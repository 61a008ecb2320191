package server

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are exported at /metrics in the Prometheus text format (0.0.4),
// written by hand: a few counters, gauges and histograms need no client
// library.
type metrics struct {
	blocks, reorgs, undone      atomic.Int64
	delivered, deliveryFailures atomic.Int64
	deadLetters, rateLimited    atomic.Int64
	sseClients                  atomic.Int64
	mempoolTxs                  atomic.Int64
	blockSeconds                *histogram
	alerts                      labelled // by kind
	requests                    labelled // by route and code
	requestSeconds              map[string]*histogram
	requestSecondsMu            sync.Mutex
	lastBlockUnix               atomic.Int64
	followerUp                  atomic.Int64
}

func newMetrics() *metrics {
	return &metrics{blockSeconds: newHistogram(blockBuckets), requestSeconds: map[string]*histogram{}}
}

var (
	blockBuckets   = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}
)

func (m *metrics) observeRequest(route string, code int, d time.Duration) {
	m.requests.add(fmt.Sprintf(`route=%q,code="%d"`, route, code), 1)
	m.requestSecondsMu.Lock()
	h, ok := m.requestSeconds[route]
	if !ok {
		h = newHistogram(requestBuckets)
		m.requestSeconds[route] = h
	}
	m.requestSecondsMu.Unlock()
	h.observe(d.Seconds())
}

// labelled is a counter with labels (a pre-rendered label set per series).
type labelled struct {
	mu sync.Mutex
	m  map[string]int64
}

func (l *labelled) add(labels string, n int64) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]int64{}
	}
	l.m[labels] += n
	l.mu.Unlock()
}

func (l *labelled) write(w io.Writer, name string) {
	l.mu.Lock()
	keys := make([]string, 0, len(l.m))
	for k := range l.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{%s} %d\n", name, k, l.m[k])
	}
	l.mu.Unlock()
}

type histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64
	sum    float64
	n      uint64
}

func newHistogram(b []float64) *histogram {
	return &histogram{bounds: b, counts: make([]uint64, len(b))}
}

func (h *histogram) observe(v float64) {
	h.mu.Lock()
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.n++
	h.mu.Unlock()
}

func (h *histogram) write(w io.Writer, name, labels string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sep := ""
	if labels != "" {
		sep = ","
	}
	for i, b := range h.bounds {
		fmt.Fprintf(w, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, fmtFloat(b), h.counts[i])
	}
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, h.n)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, labels, fmtFloat(h.sum), name, labels, h.n)
}

func fmtFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strings.TrimSuffix(fmt.Sprintf("%g", f), ".0")
}

// gauges are values read at scrape time.
type gauges struct {
	tipHeight      int64
	cases          int
	taintedOutputs int
	pending        map[string]int // redacted webhook name → queued alerts
	jobs           int
}

func (m *metrics) write(w io.Writer, g gauges) {
	head := func(name, typ, help string) { fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ) }
	head("cointrail_tip_height", "gauge", "Height of the index tip.")
	fmt.Fprintf(w, "cointrail_tip_height %d\n", g.tipHeight)
	head("cointrail_follower_up", "gauge", "1 while the node is followed, 0 after following stopped.")
	fmt.Fprintf(w, "cointrail_follower_up %d\n", m.followerUp.Load())
	head("cointrail_last_block_timestamp_seconds", "gauge", "Unix time the last block was indexed.")
	fmt.Fprintf(w, "cointrail_last_block_timestamp_seconds %d\n", m.lastBlockUnix.Load())
	head("cointrail_blocks_connected_total", "counter", "Blocks connected while serving.")
	fmt.Fprintf(w, "cointrail_blocks_connected_total %d\n", m.blocks.Load())
	head("cointrail_reorgs_total", "counter", "Reorgs followed.")
	fmt.Fprintf(w, "cointrail_reorgs_total %d\n", m.reorgs.Load())
	head("cointrail_reorg_blocks_undone_total", "counter", "Blocks disconnected by reorgs.")
	fmt.Fprintf(w, "cointrail_reorg_blocks_undone_total %d\n", m.undone.Load())
	head("cointrail_block_process_seconds", "histogram", "Time from a block's arrival to its index and case commit.")
	m.blockSeconds.write(w, "cointrail_block_process_seconds", "")
	head("cointrail_cases", "gauge", "Open cases.")
	fmt.Fprintf(w, "cointrail_cases %d\n", g.cases)
	head("cointrail_case_tainted_outputs", "gauge", "Unspent tainted outputs over all cases.")
	fmt.Fprintf(w, "cointrail_case_tainted_outputs %d\n", g.taintedOutputs)
	head("cointrail_alerts_total", "counter", "Alerts raised, by kind.")
	m.alerts.write(w, "cointrail_alerts_total")
	head("cointrail_mempool_txs_checked_total", "counter", "Unconfirmed transactions checked against the cases.")
	fmt.Fprintf(w, "cointrail_mempool_txs_checked_total %d\n", m.mempoolTxs.Load())
	head("cointrail_webhook_delivered_total", "counter", "Alert deliveries a webhook accepted.")
	fmt.Fprintf(w, "cointrail_webhook_delivered_total %d\n", m.delivered.Load())
	head("cointrail_webhook_failures_total", "counter", "Failed delivery attempts.")
	fmt.Fprintf(w, "cointrail_webhook_failures_total %d\n", m.deliveryFailures.Load())
	head("cointrail_webhook_dead_letters_total", "counter", "Deliveries given up after max_attempts.")
	fmt.Fprintf(w, "cointrail_webhook_dead_letters_total %d\n", m.deadLetters.Load())
	head("cointrail_webhook_pending", "gauge", "Alerts queued for a webhook.")
	urls := make([]string, 0, len(g.pending))
	for u := range g.pending {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	for _, u := range urls {
		fmt.Fprintf(w, "cointrail_webhook_pending{webhook=%q} %d\n", u, g.pending[u])
	}
	head("cointrail_sse_clients", "gauge", "Open alert streams.")
	fmt.Fprintf(w, "cointrail_sse_clients %d\n", m.sseClients.Load())
	head("cointrail_trace_jobs", "gauge", "Trace jobs kept.")
	fmt.Fprintf(w, "cointrail_trace_jobs %d\n", g.jobs)
	head("cointrail_http_requests_total", "counter", "API requests by route and status code.")
	m.requests.write(w, "cointrail_http_requests_total")
	head("cointrail_http_rate_limited_total", "counter", "Requests refused with 429.")
	fmt.Fprintf(w, "cointrail_http_rate_limited_total %d\n", m.rateLimited.Load())
	head("cointrail_http_request_seconds", "histogram", "API request latency by route.")
	m.requestSecondsMu.Lock()
	routes := make([]string, 0, len(m.requestSeconds))
	for r := range m.requestSeconds {
		routes = append(routes, r)
	}
	m.requestSecondsMu.Unlock()
	slices.Sort(routes)
	for _, r := range routes {
		m.requestSecondsMu.Lock()
		h := m.requestSeconds[r]
		m.requestSecondsMu.Unlock()
		h.write(w, "cointrail_http_request_seconds", fmt.Sprintf("route=%q", r))
	}
}
