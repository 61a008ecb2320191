package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/internal/testnode"
	"github.com/cointrail/cointrail/notes"
)

type Note = notes.Note

// samplePath fills a route pattern's parameters.
func samplePath(pattern string) string {
	return regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(pattern, "1")
}

// TestAPI runs the API against a server following a real btcd.
func TestAPI(t *testing.T) {
	node := testnode.Start(t)
	w := node.Wallet()
	must := txOK(t)
	node.Generate(101)
	theft := must(w.Send(w.Out(testnode.P2PKH, 1, 10_0000_0000)))
	node.Generate(1)
	h := start(t, node, t.TempDir(), nil, nil, func(c *Config) {
		c.Limits.SyncMaxTxs = 2
		c.Limits.MaxBodyBytes = 64 << 10
	})
	h.waitTip(30 * time.Second)

	t.Run("every route needs a key, admin routes an admin key", func(t *testing.T) {
		for _, rt := range h.srv.routes() {
			p := samplePath(rt.pattern)
			if rt.need == "" {
				if code := h.callT(t, rt.method, p, "", nil, nil); code != 200 {
					t.Errorf("%s %s without a key: %d, want 200", rt.method, p, code)
				}
				continue
			}
			var e APIError
			if code := h.callT(t, rt.method, p, "", nil, &e); code != 401 || e.Error.Code != "unauthorized" {
				t.Errorf("%s %s without a key: %d %+v, want 401", rt.method, p, code, e)
			}
			if code := h.callT(t, rt.method, p, "ct_not-a-key", nil, nil); code != 401 {
				t.Errorf("%s %s with an unknown key: %d, want 401", rt.method, p, code)
			}
			code := statusOnly(t, rt.method, h.base+p, h.reader)
			if rt.need == RoleAdmin && code != 403 {
				t.Errorf("%s %s with a read key: %d, want 403", rt.method, p, code)
			}
			if rt.need == RoleRead && (code == 401 || code == 403) {
				t.Errorf("%s %s with a read key: %d", rt.method, p, code)
			}
		}
	})

	t.Run("errors and caps", func(t *testing.T) {
		big := `{"name":"x","seeds":["` + strings.Repeat("a", 70<<10) + `"]}`
		cases := []struct {
			method, path string
			body         any
			code         int
			msg          string
		}{
			{"GET", "/v1/tx/zz", nil, 400, `index: bad input: "zz" is not a txid (want 64 hex digits)`},
			{"GET", "/v1/tx/" + strings.Repeat("0", 64), nil, 404, "index: not found: transaction 0000000000000000000000000000000000000000000000000000000000000000 is not in the index (tip 102)"},
			{"GET", "/v1/block/999", nil, 404, "index: not found: no block at height 999 (tip 102)"},
			{"GET", "/v1/alerts?limit=5000", nil, 400, `server: bad input: query parameter limit="5000": want an integer in 1..1000`},
			{"GET", "/v1/address/" + w.Address(testnode.P2PKH, 1) + "?limit=0", nil, 400, `server: bad input: query parameter limit="0": want an integer in 1..1000`},
			{"GET", "/v1/cases/77", nil, 404, "server: not found: no case 77"},
			{"GET", "/v1/cases/x", nil, 400, `server: bad input: id "x": want a positive integer`},
			{"GET", "/v1/nosuch", nil, 404, "server: not found: no endpoint GET /v1/nosuch (see docs/api/openapi.yaml)"},
			{"POST", "/v1/cases", big, 413, "http: request body too large"},
			{"POST", "/v1/cases", `{"name":"x"}`, 400, "server: bad input: case: no seeds (TXID:VOUT, TXID or ADDRESS, optionally @SATS)"},
			{"POST", "/v1/cases", `{"name":"x","seeds":["a"],"bogus":1}`, 400, `server: bad input: request body: json: unknown field "bogus"`},
			{"POST", "/v1/cases", `{"name":"x","seeds":["` + outpoint(theft, 0) + `"],"model":"foo"}`, 400, `server: bad input: case: taint: bad parameters: unknown model "foo" (valid: poison, haircut, fifo, lifo, tiho)`},
			{"POST", "/v1/cases", `{"name":"x","seeds":["` + outpoint(theft, 7) + `"]}`, 404, "index: not found: transaction " + theft.TxHash().String() + " has 2 outputs, no output 7"},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"max_hops":51}`, 400, "server: bad input: trace: max_hops 51: this server allows 1..50 (0: no limit, capped at 50)"},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"max_txs":2000000}`, 400, "server: bad input: trace: max_txs 2000000: this server allows 1..1000000 (0: 1000000, capped at 1000000)"},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"from_height":9,"to_height":3}`, 400, "server: bad input: trace: taint: bad parameters: from_height 9 is above to_height 3"},
			{"POST", "/v1/screen", `{"targets":[]}`, 400, "server: bad input: screen: no targets"},
			{"POST", "/v1/screen", fmt.Sprintf(`{"targets":[%s"x"]}`, strings.Repeat(`"x",`, 1000)), 400, "server: bad input: screen: 1001 targets, at most 1000 per request"},
			{"GET", "/v1/screen/x?hops=11", nil, 400, `server: bad input: query parameter hops="11": want an integer in 1..10`},
			{"POST", "/v1/apikeys", `{"role":"root"}`, 400, `server: bad input: role "root": want read or admin`},
			{"DELETE", "/v1/apikeys/abc", nil, 404, `server: not found: no API key with id "abc"`},
			{"POST", "/v1/alerts/99/ack", nil, 404, "server: not found: no alert 99"},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"format":"text"}`, 400, "server: bad input: trace: format text is the CLI's summary; ask for json (or csv, graphml, html, freeze, freeze-json, seizable, seizable-json)"},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"format":"pdf"}`, 400, `server: bad input: trace: unknown format "pdf" (want json, csv, graphml, html, freeze, freeze-json, seizable or seizable-json)`},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"format":"freeze","direction":"backward"}`, 400, "server: bad input: trace: format freeze lists where the taint went: it needs direction forward"},
			{"POST", "/v1/trace", `{"seeds":["` + outpoint(theft, 0) + `"],"model":"fifo,nope"}`, 400, `server: bad input: trace: taint: bad parameters: unknown model "nope" (valid: poison, haircut, fifo, lifo, tiho)`},
			{"POST", "/v1/notes", `{"subject":"case:x","text":"a"}`, 400, `notes: bad input: "case:x": a case subject is case:ID`},
			{"POST", "/v1/notes", `{"subject":"case:1","text":"a\u001b[2Jb"}`, 400, "notes: bad input: a note holds no control characters (newlines and tabs aside) and no bidi overrides"},
			{"POST", "/v1/notes", `{"subject":"case:1"}`, 400, "notes: bad input: empty note"},
			{"POST", "/v1/notes", `{"subject":"case:1","text":"a","author":"me"}`, 400, `server: bad input: request body: json: unknown field "author"`},
			{"DELETE", "/v1/notes/99", nil, 404, "notes: not found: no note 99"},
			{"GET", "/v1/notes?subject=zz", nil, 400, `notes: bad input: "zz" is neither case:ID, a txid nor a regtest address: `},
			{"POST", "/v1/cases", `{"name":"x","seeds":["` + outpoint(theft, 0) + `"],"note":"\u202e"}`, 400, "server: bad input: case: note: notes: bad input: a note holds no control characters (newlines and tabs aside) and no bidi overrides"},
		}
		for _, c := range cases {
			var e APIError
			code := h.callT(t, c.method, c.path, h.admin, c.body, &e)
			if code != c.code || !(e.Error.Message == c.msg || strings.HasSuffix(c.msg, ": ") && strings.HasPrefix(e.Error.Message, c.msg)) || e.Error.Status != c.code {
				t.Errorf("%s %s: %d %q\n want %d %q", c.method, c.path, code, e.Error.Message, c.code, c.msg)
			}
		}
	})

	t.Run("labels and notes inline", func(t *testing.T) {
		thief := w.Address(testnode.P2PKH, 1)
		importLabels(t, h.ix, thief+",Thief,perpetrator,FBI,authority_data")
		var n Note
		if code := h.callT(t, "POST", "/v1/notes", h.admin, map[string]string{"subject": theft.TxHash().String(), "text": "altered withdrawal"}, &n); code != 201 || n.ID == 0 {
			t.Fatalf("POST /v1/notes: %d %+v", code, n)
		}
		var n2 Note
		h.callT(t, "POST", "/v1/notes", h.admin, map[string]string{"subject": thief, "text": "look-alike"}, &n2)
		if code := h.callT(t, "POST", "/v1/notes", h.reader, map[string]string{"subject": thief, "text": "x"}, nil); code != 403 {
			t.Fatalf("a read key wrote a note: %d", code)
		}
		var tx attrib.TxDetail
		h.callT(t, "GET", "/v1/tx/"+theft.TxHash().String(), h.reader, nil, &tx)
		if ls := tx.Labels.Addresses[thief]; len(ls) != 1 || ls[0].Label != "Thief" || ls[0].Source != "FBI" || ls[0].ConfidenceLevel != 60 ||
			len(tx.Notes) != 2 || tx.Notes[0].Text != "altered withdrawal" || !strings.HasPrefix(tx.Notes[0].Author, "key ") || tx.Notes[1].Subject != thief {
			t.Fatalf("GET /v1/tx: labels %+v notes %+v", tx.Labels, tx.Notes)
		}
		var a AddressResponse
		h.callT(t, "GET", "/v1/address/"+thief, h.reader, nil, &a)
		if len(a.Labels) != 1 || len(a.Notes) != 1 || a.Notes[0].ID != n2.ID {
			t.Fatalf("GET /v1/address: labels %+v notes %+v", a.Labels, a.Notes)
		}
		if code := h.callT(t, "DELETE", fmt.Sprintf("/v1/notes/%d", n.ID), h.admin, nil, nil); code != 204 {
			t.Fatalf("DELETE note: %d", code)
		}
		var ns []Note
		h.callT(t, "GET", "/v1/notes?subject="+theft.TxHash().String(), h.reader, nil, &ns)
		if ns == nil || len(ns) != 0 {
			t.Fatalf("notes after delete: %#v", ns)
		}
	})

	t.Run("a trace beyond sync_max_txs runs as a job", func(t *testing.T) {
		spend := must(w.Spend(w.OutPoints(theft)[:1], w.Out(testnode.P2PKH, 2, 5_0000_0000), w.Out(testnode.P2PKH, 4, 4_9999_0000)))
		mustSubmit(t, w, spend)
		node.Generate(1)
		h.waitTip(10 * time.Second)
		var e APIError
		if code := h.callT(t, "POST", "/v1/trace", h.reader, TraceRequest{Seeds: []string{outpoint(theft, 0)}, MaxTxs: 1}, &e); code != 200 {
			// max_txs 1 is below sync_max_txs: a sync trace that fits.
			t.Fatalf("small trace: %d %+v", code, e)
		}
		var j JobView
		if code := h.callT(t, "POST", "/v1/trace", h.reader, TraceRequest{Seeds: []string{outpoint(theft, 0)}, MaxTxs: 100}, &j); code != 202 || j.ID == "" {
			t.Fatalf("large trace: %d %+v", code, j)
		}
		deadline := time.Now().Add(10 * time.Second)
		for j.State != "done" {
			if time.Now().After(deadline) || j.State == "failed" {
				t.Fatalf("job %+v", j)
			}
			time.Sleep(20 * time.Millisecond)
			h.callT(t, "GET", "/v1/trace/jobs/"+j.ID, h.reader, nil, &j)
		}
		var res traceResult
		if err := jsonUnmarshal(j.Result, &res); err != nil || res.Summary.TracedSat != 10_0000_0000 || res.Summary.UnspentSat != 9_9999_0000 {
			t.Fatalf("job result %v %+v", err, res.Summary)
		}
	})

	t.Run("screen and entities", func(t *testing.T) {
		// P2PKH 2 received 5 BTC straight from the theft output (the job subtest's spend).
		target := w.Address(testnode.P2PKH, 2)
		var rep struct {
			Target, Kind string
			Hops         int
			TipHeight    int64 `json:"tip_height"`
			Outputs      int   `json:"outputs"`
		}
		if code := h.callT(t, "GET", "/v1/screen/"+target+"?hops=1", h.reader, nil, &rep); code != 200 || rep.Target != target || rep.Kind != "address" || rep.Hops != 1 || rep.TipHeight != 103 || rep.Outputs != 1 {
			t.Fatalf("screen: %d %+v", code, rep)
		}
		var bulk struct {
			Hops    int `json:"hops"`
			Results []struct {
				Target string          `json:"target"`
				Report json.RawMessage `json:"report"`
				Error  *APIError       `json:"error"`
			} `json:"results"`
		}
		if code := h.callT(t, "POST", "/v1/screen", h.reader, BulkScreenRequest{Targets: []string{target, "nonsense"}, Hops: 1}, &bulk); code != 200 || len(bulk.Results) != 2 ||
			bulk.Results[0].Error != nil || len(bulk.Results[0].Report) == 0 || bulk.Results[1].Error == nil || bulk.Results[1].Error.Error.Status != 400 {
			t.Fatalf("bulk screen: %d %+v", code, bulk)
		}
		var e APIError
		if code := h.callT(t, "GET", "/v1/entities/"+target, h.reader, nil, &e); code != 404 || e.Error.Message != "cluster: not built: no clustering in this data directory; run `cointrail cluster build`" {
			t.Fatalf("entity without clustering: %d %+v", code, e)
		}
	})

	t.Run("keys made over the API work and can be revoked", func(t *testing.T) {
		var ck CreatedKey
		if code := h.callT(t, "POST", "/v1/apikeys", h.admin, map[string]string{"role": "read", "name": "exchange A"}, &ck); code != 201 || !strings.HasPrefix(ck.Key, "ct_") {
			t.Fatalf("create key: %d %+v", code, ck)
		}
		var st StatusResponse
		if code := h.callT(t, "GET", "/v1/status", ck.Key, nil, &st); code != 200 || st.TipHeight != 103 {
			t.Fatalf("status with the new key: %d %+v", code, st)
		}
		if code := h.callT(t, "DELETE", "/v1/apikeys/"+ck.ID, h.admin, nil, nil); code != 204 {
			t.Fatalf("revoke: %d", code)
		}
		if code := h.callT(t, "GET", "/v1/status", ck.Key, nil, nil); code != 401 {
			t.Fatalf("revoked key: %d", code)
		}
	})

	t.Run("alert stream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.base+"/v1/alerts/stream", nil)
		req.Header.Set("Authorization", "Bearer "+h.reader)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		watched := w.Address(testnode.P2PKH, 11)
		var cv CaseView
		if code := h.callT(t, "POST", "/v1/cases", h.admin, CaseSpec{Name: "watch", Seeds: []string{outpoint(theft, 0)}, Watch: []string{watched}}, &cv); code != 201 {
			t.Fatalf("create case %d", code)
		}
		pay := must(w.Send(w.Out(testnode.P2PKH, 11, 2_0000_0000)))
		node.Generate(1)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var event, data string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
			if line == "" && data != "" {
				var a Alert
				if err := jsonUnmarshal([]byte(data), &a); err != nil {
					t.Fatal(err)
				}
				if event == "alert" && a.TxID == pay.TxHash().String() && a.Confirmed {
					if a.Kind != KindWatchHit || a.CaseID != cv.ID || a.ReceivedSat != 2_0000_0000 {
						t.Fatalf("streamed alert %+v", a)
					}
					return
				}
				data = ""
			}
		}
		t.Fatalf("stream ended without the alert: %v", sc.Err())
	})

	t.Run("case lifecycle and acks", func(t *testing.T) {
		var list struct{ Cases []CaseView }
		if code := h.callT(t, "GET", "/v1/cases", h.reader, nil, &list); code != 200 || len(list.Cases) != 1 {
			t.Fatalf("cases: %d %+v", code, list)
		}
		id := list.Cases[0].ID
		other := w.Address(testnode.P2WPKH, 12)
		var cv CaseView
		if code := h.callT(t, "PATCH", fmt.Sprintf("/v1/cases/%d", id), h.admin, map[string]any{"name": "renamed", "watch": []string{other}}, &cv); code != 200 ||
			cv.Name != "renamed" || len(cv.Watch) != 1 || cv.Watch[0] != other {
			t.Fatalf("patch: %d %+v", code, cv)
		}
		var as struct{ Alerts []AlertView }
		if code := h.callT(t, "GET", fmt.Sprintf("/v1/alerts?case=%d&unacked=true", id), h.reader, nil, &as); code != 200 || len(as.Alerts) == 0 {
			t.Fatalf("alerts: %d %+v", code, as)
		}
		first := as.Alerts[0].ID
		var av AlertView
		if code := h.callT(t, "POST", fmt.Sprintf("/v1/alerts/%d/ack", first), h.admin, map[string]string{"note": "frozen by exchange"}, &av); code != 200 || av.Ack == nil || av.Ack.Note != "frozen by exchange" {
			t.Fatalf("ack: %d %+v", code, av)
		}
		var after struct{ Alerts []AlertView }
		h.callT(t, "GET", fmt.Sprintf("/v1/alerts?case=%d&unacked=true", id), h.reader, nil, &after)
		if len(after.Alerts) != len(as.Alerts)-1 || (len(after.Alerts) > 0 && after.Alerts[0].ID == first) {
			t.Fatalf("unacked after the ack: %+v", after)
		}
		if code := h.callT(t, "DELETE", fmt.Sprintf("/v1/cases/%d", id), h.admin, nil, nil); code != 204 {
			t.Fatalf("delete: %d", code)
		}
		if code := h.callT(t, "GET", fmt.Sprintf("/v1/cases/%d", id), h.reader, nil, nil); code != 404 {
			t.Fatalf("deleted case: %d", code)
		}
		// Its alerts stay.
		if code := h.callT(t, "GET", fmt.Sprintf("/v1/alerts/%d", first), h.reader, nil, &av); code != 200 || av.Ack == nil {
			t.Fatalf("alert of a deleted case: %d", code)
		}
	})
}

// statusOnly makes a request and returns the status without reading the
// body (the alert stream never ends).
func statusOnly(t testing.TB, method, url, key string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRateLimit: a key over its rate gets 429 with Retry-After; another
// key is not affected.
func TestRateLimit(t *testing.T) {
	node := testnode.Start(t)
	h := start(t, node, t.TempDir(), nil, nil, func(c *Config) { c.Limits.RatePerSec, c.Limits.RateBurst = 2, 5 })
	limited, ok := 0, 0
	retry := ""
	for range 40 {
		req, _ := http.NewRequest("GET", h.base+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+h.reader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			limited++
			retry = resp.Header.Get("Retry-After")
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if limited == 0 || ok < 5 || ok > 10 || retry != "1" {
		t.Fatalf("%d ok, %d limited, Retry-After %q: want 5..10 ok then 429 with Retry-After 1", ok, limited, retry)
	}
	if code := h.call("GET", "/v1/status", h.admin, nil, nil); code != 200 {
		t.Fatalf("another key: %d", code)
	}
}

// TestOpenAPIMatchesRoutes: every route is in docs/api/openapi.yaml with its
// method, and the document lists no route the server does not have.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	s := &Server{}
	var routes, spec []string
	for _, rt := range s.routes() {
		routes = append(routes, strings.ToLower(rt.method)+" "+rt.pattern)
		op, _ := doc.Paths[rt.pattern][strings.ToLower(rt.method)].(map[string]any)
		if op == nil {
			continue
		}
		_, hasSec := op["security"]
		if rt.need == "" && (!hasSec || fmt.Sprint(op["security"]) != "[]") {
			t.Errorf("%s %s needs no key; the spec should say security: []", rt.method, rt.pattern)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			spec = append(spec, m+" "+p)
		}
	}
	slices.Sort(routes)
	slices.Sort(spec)
	if !slices.Equal(routes, spec) {
		t.Fatalf("routes and docs/api/openapi.yaml differ:\nroutes %v\nspec   %v", routes, spec)
	}
}
