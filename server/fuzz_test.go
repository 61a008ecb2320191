package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/taint"
)

func FuzzParseCaseSpec(f *testing.F) {
	for _, s := range []string{`{"name":"a","seeds":["x:0@5"],"watch":["bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"]}`,
		`{"name":"a","seeds":["x"],"min_sats":0,"max_hops":3,"stop_at_service":false,"model":"LIFO"}`, `[]`, `{"name":1}`, ""} {
		f.Add([]byte(s))
	}
	net := mustNet(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseCaseSpec(b, net)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "server: bad input: case: ") {
				t.Fatalf("error without its class: %v", err)
			}
			return
		}
		if s.Name == "" || len(s.Seeds) == 0 || s.MinSats == nil || s.StopAtService == nil || s.Model == "" {
			t.Fatalf("accepted spec without its defaults: %+v", s)
		}
	})
}

func FuzzParseTraceRequest(f *testing.F) {
	for _, s := range []string{`{"seeds":["a"],"model":"fifo","direction":"backward","max_hops":3}`,
		`{"seeds":["a"],"fees_to_coinbase":true,"direction":"backward"}`, `{"seeds":["a"],"max_txs":5000000}`, `{"seeds":["a"],"to_time":-1}`} {
		f.Add([]byte(s))
	}
	lim := DefaultConfig().Limits
	f.Fuzz(func(t *testing.T, b []byte) {
		_, p, err := ParseTraceRequest(b, lim)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "server: bad input: trace: ") {
				t.Fatalf("error without its class: %v", err)
			}
			return
		}
		if p.MaxHops < 0 || p.MaxHops > lim.MaxHops || p.HopCap != lim.MaxHops || p.MaxTxs < 1 || effTxs(p) > lim.JobMaxTxs || !p.Model.Valid() {
			t.Fatalf("accepted params beyond the limits: %+v", p)
		}
	})
}

func FuzzParseBulkScreen(f *testing.F) {
	f.Add([]byte(`{"targets":["a","b"],"hops":1}`))
	f.Add([]byte(`{"targets":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseBulkScreen(b, 10)
		if err == nil && (len(q.Targets) == 0 || len(q.Targets) > 10 || q.Hops < 1) {
			t.Fatalf("accepted %+v", q)
		}
	})
}

// FuzzStoredRows: the decoders of the server's own rows never panic on
// damaged bytes and round-trip what they accept.
func FuzzStoredRows(f *testing.F) {
	lo := liveOut{taint: 5000, hops: 2, stop: taint.StopDust, segs: []taint.Seg{{Start: 0, End: 5000}}}
	f.Add(lo.encode())
	a := arrival{taint: 7, hops: 1, height: 9, label: "X", category: "exchange"}
	f.Add(a.encode())
	u := undoRecord{prev: followPos{ok: true, height: 4}, entries: []undoEntry{{key: []byte("Sxy"), old: []byte("v"), had: true}}, alerts: []uint64{3}}
	f.Add(u.encode())
	f.Add(encodeDelivery(delivery{attempts: 2, next: 99, lastErr: "x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := decodeLiveOut(b); err == nil {
			if l2, err := decodeLiveOut(l.encode()); err != nil || l2.taint != l.taint || len(l2.segs) != len(l.segs) {
				t.Fatalf("live row does not round-trip")
			}
		}
		if a, err := decodeArrival(b); err == nil {
			if a2, err := decodeArrival(a.encode()); err != nil || *a2 != *a {
				t.Fatalf("arrival row does not round-trip")
			}
		}
		if u, err := decodeUndo(b); err == nil {
			if _, err := decodeUndo(u.encode()); err != nil {
				t.Fatalf("undo row does not round-trip: %v", err)
			}
		}
		_, _ = decodeDelivery(b)
	})
}

// FuzzAPI sends arbitrary bodies and path values to every route of a
// server over a real (synthetic) index: no answer is a 500, every answer
// but /metrics is JSON.
func FuzzAPI(f *testing.F) {
	ix, err := index.Open(f.TempDir(), mustNet(f), index.Options{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer ix.Close()
	s := newSynth(f, ix, 1, 10)
	for range 5 {
		s.connect(s.block(10))
	}
	admin, _, err := CreateAPIKey(ix.Store, RoleAdmin, "fuzz", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Network, cfg.RPC.URL = "regtest", "http://127.0.0.1:1"
	cfg.Limits.RatePerSec, cfg.Limits.RateBurst = 1e9, 1<<30
	srv, err := New(cfg, ix, nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.e.reconcile(f.Context()); err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	routes := srv.routes()
	b1, _ := ix.BlockAt(1)
	seed := index.TxIDString(ix.TxHash(b1.FirstTx)) + ":0"
	for i, rt := range routes {
		body := ""
		switch rt.pattern {
		case "/v1/cases":
			body = `{"name":"f","seeds":["` + seed + `"],"model":"fifo"}`
		case "/v1/trace":
			body = `{"seeds":["` + seed + `"],"max_hops":3}`
		case "/v1/screen":
			body = `{"targets":["` + seed[:64] + `"],"hops":1}`
		case "/v1/apikeys":
			body = `{"role":"read"}`
		case "/v1/cases/{id}":
			body = `{"name":"g"}`
		}
		f.Add(uint8(i), "1", []byte(body))
		f.Add(uint8(i), seed[:64], []byte(body))
	}
	f.Fuzz(func(t *testing.T, ri uint8, param string, body []byte) {
		rt := routes[int(ri)%len(routes)]
		if rt.pattern == "/v1/alerts/stream" {
			return // never ends by design
		}
		p := strings.NewReplacer("{txid}", url.PathEscape(param), "{address}", url.PathEscape(param), "{block}", url.PathEscape(param),
			"{id}", url.PathEscape(param), "{target}", url.PathEscape(param), "{ref}", url.PathEscape(param)).Replace(rt.pattern)
		req := httptest.NewRequest(rt.method, "http://x"+p, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, p, body, rec.Code, rec.Body.String())
		}
		if rec.Code/100 == 3 {
			return // the mux cleaning a path such as /v1/tx/. (a redirect, not a handler)
		}
		if rt.pattern != "/metrics" && rec.Code != http.StatusNoContent && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: answer is not JSON: %s", rt.method, p, rec.Body.String())
		}
	})
}
