package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything `cointrail serve` runs with. A YAML (or JSON: YAML
// is a superset) file fills it, command-line flags override it, and
// DefaultConfig supplies what neither sets. docs/server.md lists every field.
type Config struct {
	Data    string `yaml:"data"`
	Network string `yaml:"network"`
	Listen  string `yaml:"listen"`
	RPC     RPC    `yaml:"rpc"`
	ZMQ     ZMQ    `yaml:"zmq"`
	// PollInterval is how often the node's best block hash is asked for
	// (btcd has no ZMQ; with ZMQ it is a fallback and may be slower).
	PollInterval time.Duration `yaml:"poll_interval"`
	// ReorgLimit is the deepest reorg followed; a deeper one stops following.
	ReorgLimit int       `yaml:"reorg_limit"`
	Mempool    Mempool   `yaml:"mempool"`
	Webhooks   []Webhook `yaml:"webhooks"`
	Delivery   Delivery  `yaml:"delivery"`
	Limits     Limits    `yaml:"limits"`
	Log        Log       `yaml:"log"`
}

// RPC says how to reach the node.
type RPC struct {
	URL    string `yaml:"url"`
	User   string `yaml:"user"`
	Pass   string `yaml:"pass"`
	Cookie string `yaml:"cookie"`
}

// ZMQ names Bitcoin Core's ZMQ publishers (zmqpubrawblock, zmqpubrawtx,
// zmqpubhashblock): tcp://host:port. Empty: ask the node (getzmqnotifications)
// and fall back to polling when it has none.
type ZMQ struct {
	RawBlock  string `yaml:"rawblock"`
	HashBlock string `yaml:"hashblock"`
	RawTx     string `yaml:"rawtx"`
	Disable   bool   `yaml:"disable"`
}

// Mempool configures unconfirmed alerts.
type Mempool struct {
	Enabled  bool          `yaml:"enabled"`
	Interval time.Duration `yaml:"interval"` // getrawmempool polling when there is no rawtx feed
}

// Webhook is one alert receiver. Secret signs every body (HMAC-SHA256).
type Webhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// Delivery tunes webhook retries: attempt n waits BackoffBase·2^(n-1),
// at most BackoffMax; after MaxAttempts failures the alert is moved to the
// dead letters of that webhook (0: retry forever).
type Delivery struct {
	Timeout     time.Duration `yaml:"timeout"`
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	MaxAttempts int           `yaml:"max_attempts"`
}

// Limits cap what one request, key or case may cost.
type Limits struct {
	MaxBodyBytes   int64   `yaml:"max_body_bytes"`
	MaxPage        int     `yaml:"max_page"`
	MaxHops        int     `yaml:"max_hops"`         // trace hops a request may ask for (0 in a request means this)
	SyncMaxTxs     int     `yaml:"sync_max_txs"`     // a trace visiting more becomes a job
	JobMaxTxs      int     `yaml:"job_max_txs"`      // the most a trace job may visit
	MaxJobs        int     `yaml:"max_jobs"`         // trace jobs kept (running or finished)
	MaxBulk        int     `yaml:"max_bulk"`         // addresses in one bulk screen
	RatePerSec     float64 `yaml:"rate_per_sec"`     // requests per second per API key
	RateBurst      int     `yaml:"rate_burst"`       // requests a key may make at once
	CaseMaxTxs     int     `yaml:"case_max_txs"`     // transactions a new case's catch-up trace may visit
	CaseMaxOutputs int     `yaml:"case_max_outputs"` // unspent tainted outputs a case may hold
}

// Log selects the log format (text or json) and level (debug, info, warn, error).
type Log struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// DefaultConfig is the configuration of a bare `cointrail serve`.
func DefaultConfig() Config {
	return Config{
		Data:         "./cointrail-data",
		Network:      "mainnet",
		Listen:       "127.0.0.1:8335",
		PollInterval: 200 * time.Millisecond,
		ReorgLimit:   100,
		Mempool:      Mempool{Enabled: true, Interval: time.Second},
		Delivery:     Delivery{Timeout: 5 * time.Second, BackoffBase: 500 * time.Millisecond, BackoffMax: 5 * time.Minute, MaxAttempts: 50},
		Limits: Limits{
			MaxBodyBytes: 1 << 20, MaxPage: 1000, MaxHops: 50, SyncMaxTxs: 20_000, JobMaxTxs: 1_000_000,
			MaxJobs: 16, MaxBulk: 1000, RatePerSec: 20, RateBurst: 40, CaseMaxTxs: 1_000_000, CaseMaxOutputs: 1_000_000,
		},
		Log: Log{Format: "text", Level: "info"},
	}
}

// LoadConfig reads a YAML or JSON config file over the defaults. Unknown
// fields are errors, so a typo does not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("%w: config file: %v", ErrBadInput, err)
	}
	if err := c.decode(bytes.NewReader(b)); err != nil {
		return c, fmt.Errorf("%w: config file %s: %v", ErrBadInput, path, err)
	}
	return c, nil
}

func (c *Config) decode(r io.Reader) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return errors.New(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return nil
}

// Validate checks the config and says what is wrong in one line.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, a...))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen %q: want host:port", c.Listen)
	}
	for _, z := range []struct{ name, v string }{{"rawblock", c.ZMQ.RawBlock}, {"hashblock", c.ZMQ.HashBlock}, {"rawtx", c.ZMQ.RawTx}} {
		if z.v != "" && !strings.HasPrefix(z.v, "tcp://") {
			return bad("zmq %s %q: want tcp://host:port", z.name, z.v)
		}
	}
	switch {
	case c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Minute:
		return bad("poll_interval %s: want 10ms..1m", c.PollInterval)
	case c.ReorgLimit < 1 || c.ReorgLimit > 10_000:
		return bad("reorg_limit %d: want 1..10000", c.ReorgLimit)
	case c.Mempool.Enabled && (c.Mempool.Interval < 10*time.Millisecond || c.Mempool.Interval > time.Hour):
		return bad("mempool interval %s: want 10ms..1h", c.Mempool.Interval)
	case c.Delivery.Timeout <= 0 || c.Delivery.BackoffBase <= 0 || c.Delivery.BackoffMax < c.Delivery.BackoffBase:
		return bad("delivery: timeout and backoff_base must be positive and backoff_max at least backoff_base")
	case c.Delivery.MaxAttempts < 0:
		return bad("delivery max_attempts %d is negative", c.Delivery.MaxAttempts)
	}
	seen := map[string]bool{}
	for i, w := range c.Webhooks {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("webhook %d %q: want an http:// or https:// URL", i, w.URL)
		}
		if w.Secret == "" {
			return bad("webhook %s has no secret (bodies are signed with HMAC-SHA256)", w.URL)
		}
		if seen[w.URL] {
			return bad("webhook %s given twice", w.URL)
		}
		seen[w.URL] = true
	}
	l := c.Limits
	for _, v := range []struct {
		name string
		v    int64
	}{{"max_body_bytes", l.MaxBodyBytes}, {"max_page", int64(l.MaxPage)}, {"max_hops", int64(l.MaxHops)},
		{"sync_max_txs", int64(l.SyncMaxTxs)}, {"job_max_txs", int64(l.JobMaxTxs)}, {"max_jobs", int64(l.MaxJobs)},
		{"max_bulk", int64(l.MaxBulk)}, {"rate_burst", int64(l.RateBurst)}, {"case_max_txs", int64(l.CaseMaxTxs)},
		{"case_max_outputs", int64(l.CaseMaxOutputs)}} {
		if v.v <= 0 {
			return bad("limits %s %d: must be positive", v.name, v.v)
		}
	}
	if l.RatePerSec <= 0 {
		return bad("limits rate_per_sec %g: must be positive", l.RatePerSec)
	}
	if l.SyncMaxTxs > l.JobMaxTxs {
		return bad("limits sync_max_txs %d exceeds job_max_txs %d", l.SyncMaxTxs, l.JobMaxTxs)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log format %q: want text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log level %q: want debug, info, warn or error", c.Log.Level)
	}
	return nil
}
