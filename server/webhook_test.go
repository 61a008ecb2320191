package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cointrail/cointrail/kv"
)

// queueAlerts stores n alerts and queues them for webhook url, as a
// block's commit does.
func queueAlerts(t *testing.T, st kv.Store, url string, n int) []*Alert {
	t.Helper()
	e := &engine{st: st, webhooks: [][8]byte{webhookID(url)}, nextSeq: 1, now: time.Now, onAlerts: func([]*Alert) {}}
	e.ix = nil
	tx := &txn{b: st.NewBatch(), seen: map[string]bool{}, dirty: map[uint32]bool{}}
	var out []*Alert
	for i := range n {
		a := &Alert{Kind: KindTaintMoved, Confirmed: true, CaseID: 1, CaseName: "c", TxID: fmt.Sprintf("%064x", i), AmountSat: int64(1000 + i), Message: "m"}
		e.addAlertNet(tx, a, "regtest")
		out = append(out, a)
	}
	if err := tx.b.Commit(true); err != nil {
		t.Fatal(err)
	}
	tx.b.Close()
	return out
}

// TestWebhookRetries: a receiver that fails gets the same alert again,
// same body and idempotency key, with growing attempt numbers and waits;
// alerts arrive in order; after max_attempts an alert goes to the dead
// letters and the next one is delivered.
func TestWebhookRetries(t *testing.T) {
	st, err := kv.OpenPebble(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type req struct {
		at      time.Time
		key     string
		attempt string
		sig     bool
		code    int
	}
	var mu sync.Mutex
	var reqs []req
	failFirst := map[string]int{} // idempotency key → failures still to answer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		mu.Lock()
		defer mu.Unlock()
		k := r.Header.Get(HeaderIdempotency)
		code := 200
		if failFirst[k] > 0 {
			failFirst[k]--
			code = 503
		}
		reqs = append(reqs, req{time.Now(), k, r.Header.Get(HeaderAttempt), VerifySignature("sec", body, r.Header.Get(HeaderSignature)), code})
		w.WriteHeader(code)
	}))
	defer srv.Close()
	as := queueAlerts(t, st, srv.URL, 3)
	mu.Lock()
	failFirst[as[0].IdempotencyKey] = 3  // delivered on attempt 4
	failFirst[as[1].IdempotencyKey] = 10 // given up after 5
	mu.Unlock()
	m := newMetrics()
	d := newDeliverer(st, Webhook{URL: srv.URL, Secret: "sec"}, redactURL(srv.URL), Delivery{Timeout: time.Second, BackoffBase: 20 * time.Millisecond, BackoffMax: 80 * time.Millisecond, MaxAttempts: 5}, m, testLog(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for d.pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, r := range reqs {
		if !r.sig {
			t.Fatalf("bad signature on %+v", r)
		}
		got = append(got, fmt.Sprintf("%d:%s:%d", keyIndex(as, r.key), r.attempt, r.code))
	}
	want := []string{"0:1:503", "0:2:503", "0:3:503", "0:4:200", "1:1:503", "1:2:503", "1:3:503", "1:4:503", "1:5:503", "2:1:200"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("requests %v\nwant     %v", got, want)
	}
	// Waits double from 20ms and stop growing at 80ms.
	for i, minWait := range []time.Duration{20, 40, 80} {
		if gap := reqs[i+1].at.Sub(reqs[i].at); gap < minWait*time.Millisecond-2*time.Millisecond { // next attempts are stored in ms
			t.Fatalf("retry %d after %s, want at least %dms", i+1, gap, minWait)
		}
	}
	if n := countRows(t, st, append(key1(kDead), d.id[:]...)); n != 1 || m.deadLetters.Load() != 1 || m.delivered.Load() != 2 {
		t.Fatalf("%d dead letters, metrics dead %d delivered %d", n, m.deadLetters.Load(), m.delivered.Load())
	}
}

func keyIndex(as []*Alert, k string) int {
	for i, a := range as {
		if a.IdempotencyKey == k {
			return i
		}
	}
	return -1
}

func countRows(t *testing.T, st kv.Store, p []byte) int {
	n := 0
	if err := scanPrefix(st, p, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
