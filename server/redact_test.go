package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cointrail/cointrail/internal/testnode"
)

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hooks.example.com", "https://hooks.example.com"},
		{"https://hooks.example.com/", "https://hooks.example.com"},
		{"https://user:pass@hooks.example.com:8443/alerts?token=abc#frag", "https://REDACTED@hooks.example.com:8443/REDACTED?REDACTED#REDACTED"},
		{"https://hooks.slack.com/services/T000/B000/XXXXsecret", "https://hooks.slack.com/REDACTED"},
		{"http://127.0.0.1:9/h?", "http://127.0.0.1:9/REDACTED?REDACTED"},
		{"http://[::1]:80/x%2Fy", "http://[::1]:80/REDACTED"},
		{"not a url with secret", "REDACTED"},
		{"http://host:notaport/secret", "REDACTED"},
	} {
		if got := redactURL(c.in); got != c.want {
			t.Errorf("redactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got := webhookNames([]string{"https://a.example/x?k=1", "https://b.example/", "https://a.example/y?k=2", "https://u@a.example/z"})
	want := []string{"https://a.example/REDACTED?REDACTED", "https://b.example", "https://a.example/REDACTED?REDACTED #2", "https://REDACTED@a.example/REDACTED"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("webhookNames = %q, want %q", got, want)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWebhookURLsNotShownToReadKeys runs a real server following btcd with
// two webhooks whose URLs carry credentials — one receiver up, one down —
// raises an alert, and reads everything a read key can read: no answer, no
// metric, no log line and no stored delivery error holds a credential.
// An admin key sees the full URLs in /v1/status.
func TestWebhookURLsNotShownToReadKeys(t *testing.T) {
	node := testnode.Start(t)
	w := node.Wallet()
	must := txOK(t)
	node.Generate(101)
	theft := must(w.Send(w.Out(testnode.P2PKH, 1, 10_0000_0000)))
	node.Generate(1)
	hooks := newHookReceiver(t)
	host := strings.TrimPrefix(hooks.srv.URL, "http://")
	up := "http://alice:s3cret-pw@" + host + "/hook/SLACKTOKEN?token=tok-secret-1"
	down := "http://bob:pw-two@127.0.0.1:1/x?key=tok-secret-2" // port 1: connection refused
	secrets := []string{"s3cret-pw", "SLACKTOKEN", "tok-secret-1", "pw-two", "tok-secret-2", "alice", "bob"}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := startLogging(t, node, t.TempDir(), nil, nil, log, func(c *Config) {
		c.Webhooks = []Webhook{{URL: up, Secret: hookSecret}, {URL: down, Secret: hookSecret}}
		c.Delivery.MaxAttempts = 2 // the dead receiver's alert becomes a dead letter
	})
	h.waitTip(30 * time.Second)
	var cv CaseView
	if code := h.call("POST", "/v1/cases", h.admin, CaseSpec{Name: "heist", Seeds: []string{outpoint(theft, 0)}}, &cv); code != 201 {
		t.Fatalf("create case: HTTP %d", code)
	}
	spend := must(w.Spend(w.OutPoints(theft)[:1], w.Out(testnode.P2PKH, 2, 9_9999_0000)))
	mustSubmit(t, w, spend)
	node.Generate(1)
	hooks.waitFor(10*time.Second, "confirmed alert", func(a Alert) bool { return a.TxID == spend.TxHash().String() && a.Confirmed })
	deadline := time.Now().Add(20 * time.Second)
	for h.srv.m.deadLetters.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dead receiver's deliveries were not given up")
		}
		time.Sleep(20 * time.Millisecond)
	}

	upName, downName := "http://REDACTED@"+host+"/REDACTED?REDACTED", "http://REDACTED@127.0.0.1:1/REDACTED?REDACTED"
	get := func(path, key string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", h.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	noSecret := func(what, s string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s shows %q:\n%s", what, sec, s)
			}
		}
	}

	var st StatusResponse
	status := get("/v1/status", h.reader)
	noSecret("/v1/status for a read key", status)
	if err := jsonUnmarshal([]byte(status), &st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.WebhooksPending[upName]; !ok || len(st.WebhooksPending) != 2 {
		t.Errorf("status webhooks %v, want %q and %q", st.WebhooksPending, upName, downName)
	}
	if _, ok := st.WebhooksPending[downName]; !ok {
		t.Errorf("status webhooks %v, want %q", st.WebhooksPending, downName)
	}
	var ast StatusResponse
	if err := jsonUnmarshal([]byte(get("/v1/status", h.admin)), &ast); err != nil {
		t.Fatal(err)
	}
	if _, ok := ast.WebhooksPending[up]; !ok || len(ast.WebhooksPending) != 2 {
		t.Errorf("status for an admin key: %v, want the full URLs", ast.WebhooksPending)
	}
	for _, key := range []string{h.reader, h.admin} {
		m := get("/metrics", key)
		noSecret("/metrics", m)
		if !strings.Contains(m, `cointrail_webhook_pending{webhook="`+downName+`"}`) {
			t.Errorf("/metrics has no pending series of %q", downName)
		}
	}
	// Every other read route, with the ids this test created.
	for _, rt := range h.srv.routes() {
		if rt.method != "GET" || rt.need != RoleRead || strings.Contains(rt.pattern, "stream") {
			continue
		}
		p := strings.NewReplacer("{txid}", spend.TxHash().String(), "{address}", w.Address(testnode.P2PKH, 2), "{block}", "103",
			"{id}", "1", "{target}", w.Address(testnode.P2PKH, 2), "{ref}", w.Address(testnode.P2PKH, 2)).Replace(rt.pattern)
		req, _ := http.NewRequest("GET", h.base+p, nil)
		req.Header.Set("Authorization", "Bearer "+h.reader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		noSecret("GET "+p, string(b))
	}
	// The stored delivery state (dead letter with its last error) and the log.
	n := 0
	if err := scanPrefix(h.ix.Store, key1(kDead), func(k, v []byte) error {
		d, err := decodeDelivery(v)
		if err != nil {
			return err
		}
		n++
		noSecret("dead letter", d.lastErr)
		if !strings.Contains(d.lastErr, downName) {
			t.Errorf("dead letter error %q does not name the webhook", d.lastErr)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no dead letter stored")
	}
	l := logs.String()
	if !strings.Contains(l, "webhook delivery failed") {
		t.Fatalf("no failed delivery logged: the log check proves nothing\n%s", l)
	}
	noSecret("the log", l)
}
