package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestConfig: a config file over the defaults, and every invalid value
// refused with one line naming it.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "serve.yaml")
	os.WriteFile(p, []byte(`
network: regtest
listen: 127.0.0.1:9999
rpc: {url: "http://127.0.0.1:18443", user: u, pass: p}
poll_interval: 1s
webhooks:
  - {url: "https://hooks.example/x", secret: s}
limits: {max_page: 50}
`), 0o600)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Network != "regtest" || c.Listen != "127.0.0.1:9999" || c.PollInterval != time.Second || c.Limits.MaxPage != 50 ||
		c.Limits.MaxBulk != 1000 || c.ReorgLimit != 100 || len(c.Webhooks) != 1 || c.RPC.User != "u" {
		t.Fatalf("config %+v", c)
	}
	// JSON is YAML too.
	j := filepath.Join(dir, "serve.json")
	os.WriteFile(j, []byte(`{"rpc": {"url": "http://x:1"}, "reorg_limit": 6}`), 0o600)
	if c, err := LoadConfig(j); err != nil || c.ReorgLimit != 6 || c.RPC.URL != "http://x:1" {
		t.Fatalf("json config %+v %v", c, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rpc: {url: x}\nreorg_limt: 5\n"), 0o600)
	if _, err := LoadConfig(bad); err == nil || err.Error() != "server: bad input: config file "+bad+": yaml: unmarshal errors:   line 2: field reorg_limt not found in type server.Config" {
		t.Fatalf("typo: %v", err)
	}

	cases := []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Listen = "8335" }, `server: bad input: listen "8335": want host:port`},
		{func(c *Config) { c.ZMQ.RawBlock = "ipc:///tmp/x" }, `server: bad input: zmq rawblock "ipc:///tmp/x": want tcp://host:port`},
		{func(c *Config) { c.PollInterval = time.Millisecond }, "server: bad input: poll_interval 1ms: want 10ms..1m"},
		{func(c *Config) { c.ReorgLimit = 0 }, "server: bad input: reorg_limit 0: want 1..10000"},
		{func(c *Config) { c.Mempool.Interval = 0 }, "server: bad input: mempool interval 0s: want 10ms..1h"},
		{func(c *Config) { c.Delivery.BackoffMax = time.Millisecond }, "server: bad input: delivery: timeout and backoff_base must be positive and backoff_max at least backoff_base"},
		{func(c *Config) { c.Webhooks = []Webhook{{URL: "ftp://x", Secret: "s"}} }, `server: bad input: webhook 0 "ftp://x": want an http:// or https:// URL`},
		{func(c *Config) { c.Webhooks = []Webhook{{URL: "http://x/h"}} }, "server: bad input: webhook http://x/h has no secret (bodies are signed with HMAC-SHA256)"},
		{func(c *Config) {
			c.Webhooks = []Webhook{{URL: "http://x/h", Secret: "a"}, {URL: "http://x/h", Secret: "b"}}
		}, "server: bad input: webhook http://x/h given twice"},
		{func(c *Config) { c.Limits.MaxPage = 0 }, "server: bad input: limits max_page 0: must be positive"},
		{func(c *Config) { c.Limits.RatePerSec = 0 }, "server: bad input: limits rate_per_sec 0: must be positive"},
		{func(c *Config) { c.Limits.SyncMaxTxs = 2_000_000 }, "server: bad input: limits sync_max_txs 2000000 exceeds job_max_txs 1000000"},
		{func(c *Config) { c.Log.Format = "xml" }, `server: bad input: log format "xml": want text or json`},
		{func(c *Config) { c.Log.Level = "loud" }, `server: bad input: log level "loud": want debug, info, warn or error`},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		c.RPC.URL = "http://127.0.0.1:8332"
		tc.change(&c)
		if err := c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
	}
}

// TestCaseSpecErrors: every invalid case spec is refused with its reason.
func TestCaseSpecErrors(t *testing.T) {
	net := mustNet(t)
	cases := []struct {
		body, want string
	}{
		{`{`, "server: bad input: case: unexpected EOF"},
		{`{"name":"a","seeds":["x"]} {}`, "server: bad input: case: trailing data after the JSON object"},
		{`{"name":" ","seeds":["x"]}`, "server: bad input: case: name is empty"},
		{`{"name":"a\nb","seeds":["x"]}`, "server: bad input: case: name: at most 200 bytes of one line of UTF-8 without control characters"},
		{`{"name":"a\u001b[2Jb","seeds":["x"]}`, "server: bad input: case: name: at most 200 bytes of one line of UTF-8 without control characters"},
		{`{"name":"a\u202eb","seeds":["x"]}`, "server: bad input: case: name: at most 200 bytes of one line of UTF-8 without control characters"},
		{`{"name":"a","seeds":[]}`, "server: bad input: case: no seeds (TXID:VOUT, TXID or ADDRESS, optionally @SATS)"},
		{`{"name":"a","seeds":[""]}`, "server: bad input: case: seed 0: empty or longer than 200 bytes"},
		{`{"name":"a","seeds":["x"],"max_hops":-1}`, "server: bad input: case: max_hops -1: want 0 (unlimited) .. 100000"},
		{`{"name":"a","seeds":["x"],"min_sats":-5}`, "server: bad input: case: min_sats -5 out of range"},
		{`{"name":"a","seeds":["x"],"model":"fifoo"}`, `server: bad input: case: taint: bad parameters: unknown model "fifoo" (valid: poison, haircut, fifo, lifo, tiho)`},
		{`{"name":"a","seeds":["x"],"watch":["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]}`, `server: bad input: case: watch 0: chain: wrong network: address "1BoatSLRHtKNngkdXEeobR76b53LETtpyT" is a mainnet address, the index is regtest`},
		{`{"name":"a","seeds":["x"],"seed_from_height":9,"seed_to_height":2}`, "server: bad input: case: seed_from_height 9 is above seed_to_height 2"},
		{`{"name":"a","seeds":["x"],"colour":"red"}`, `server: bad input: case: json: unknown field "colour"`},
	}
	for _, c := range cases {
		if _, err := ParseCaseSpec([]byte(c.body), net); err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.body, err, c.want)
		}
	}
	s, err := ParseCaseSpec([]byte(`{"name":" heist ","seeds":[" x "]}`), net)
	if err != nil || s.Name != "heist" || s.Seeds[0] != "x" || s.Model != "haircut" || *s.MinSats != 1000 || !*s.StopAtService {
		t.Fatalf("defaults: %+v %v", s, err)
	}
}
