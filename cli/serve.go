package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/server"
)

// serveFlags are the flags of `serve`; a flag given on the command line
// overrides the config file.
type serveFlags struct {
	config                   string
	listen                   string
	rpc                      rpcFlags
	zmqBlock, zmqHash, zmqTx string
	noZMQ                    bool
	webhooks                 stringList
	webhookSecret            string
	poll                     time.Duration
	reorgLimit               int
	noMempool                bool
	logFormat, logLevel      string
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "config file (YAML or JSON; docs/server.md); flags override it")
	fs.StringVar(&f.listen, "listen", "", "API address (default 127.0.0.1:8335)")
	f.rpc.register(fs)
	fs.StringVar(&f.zmqBlock, "zmq-rawblock", "", "Bitcoin Core zmqpubrawblock endpoint, tcp://host:port (default: ask the node)")
	fs.StringVar(&f.zmqHash, "zmq-hashblock", "", "Bitcoin Core zmqpubhashblock endpoint")
	fs.StringVar(&f.zmqTx, "zmq-rawtx", "", "Bitcoin Core zmqpubrawtx endpoint (unconfirmed alerts)")
	fs.BoolVar(&f.noZMQ, "no-zmq", false, "do not use ZMQ even if the node offers it (poll RPC only)")
	f.webhooks = nil // repeatable: Main may run in-process more than once
	fs.Var(&f.webhooks, "webhook", "deliver alerts to this URL (repeatable; signed with --webhook-secret)")
	fs.StringVar(&f.webhookSecret, "webhook-secret", "", "HMAC-SHA256 secret of the --webhook URLs")
	fs.DurationVar(&f.poll, "poll-interval", 0, "how often to ask the node for its best block (default 200ms)")
	fs.IntVar(&f.reorgLimit, "reorg-limit", 0, "deepest reorg followed; a deeper one stops following (default 100)")
	fs.BoolVar(&f.noMempool, "no-mempool", false, "no unconfirmed alerts")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info; -v means debug)")
}

// config merges defaults, the config file and the flags given.
func (f *serveFlags) configure(g *globals, fs *flag.FlagSet) (server.Config, error) {
	cfg := server.DefaultConfig()
	def := cfg
	if f.config != "" {
		var err error
		if cfg, err = server.LoadConfig(f.config); err != nil {
			return cfg, usagef("%v", err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["data"] || cfg.Data == def.Data {
		cfg.Data = g.data
	}
	if set["network"] || cfg.Network == def.Network {
		cfg.Network = g.network
	}
	str := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	str("listen", &cfg.Listen, f.listen)
	str("rpc", &cfg.RPC.URL, f.rpc.url)
	str("rpc-user", &cfg.RPC.User, f.rpc.user)
	str("rpc-pass", &cfg.RPC.Pass, f.rpc.pass)
	str("rpc-cookie", &cfg.RPC.Cookie, f.rpc.cookie)
	str("zmq-rawblock", &cfg.ZMQ.RawBlock, f.zmqBlock)
	str("zmq-hashblock", &cfg.ZMQ.HashBlock, f.zmqHash)
	str("zmq-rawtx", &cfg.ZMQ.RawTx, f.zmqTx)
	str("log-format", &cfg.Log.Format, f.logFormat)
	str("log-level", &cfg.Log.Level, f.logLevel)
	if set["no-zmq"] {
		cfg.ZMQ.Disable = f.noZMQ
	}
	if set["no-mempool"] {
		cfg.Mempool.Enabled = !f.noMempool
	}
	if set["poll-interval"] {
		cfg.PollInterval = f.poll
	}
	if set["reorg-limit"] {
		cfg.ReorgLimit = f.reorgLimit
	}
	if g.verbose && !set["log-level"] {
		cfg.Log.Level = "debug"
	}
	if len(f.webhooks) > 0 {
		if f.webhookSecret == "" {
			return cfg, usagef("--webhook needs --webhook-secret (bodies are signed)")
		}
		for _, u := range f.webhooks {
			cfg.Webhooks = append(cfg.Webhooks, server.Webhook{URL: u, Secret: f.webhookSecret})
		}
	} else if set["webhook-secret"] {
		return cfg, usagef("--webhook-secret without --webhook")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

func serveLogger(env *Env, cfg server.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts))
}

func init() {
	f := &serveFlags{}
	register(&command{
		name:    "serve",
		summary: "follow a node live, watch cases, deliver alerts and serve the HTTP API (docs/server.md); without --rpc, serve the index as it is",
		usage:   "[--rpc URL] [--listen 127.0.0.1:8335] [--config FILE]",
		// Main may run in-process more than once (tests): start from zero.
		flags: func(fs *flag.FlagSet) { *f = serveFlags{}; f.register(fs) },
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			cfg, err := f.configure(g, fs)
			if err != nil {
				return err
			}
			log := serveLogger(env, cfg)
			g2 := *g
			g2.data, g2.network = cfg.Data, cfg.Network
			n, err := g2.net()
			if err != nil {
				return err
			}
			if cfg.RPC.URL == "" {
				// Without a node there is nothing to follow: serving an index
				// that does not exist would only answer "empty".
				if err := g2.haveIndex(n); err != nil {
					return err
				}
			}
			ix, err := index.Open(cfg.Data, n, index.Options{}, log)
			if err != nil {
				return err
			}
			defer ix.Close()
			s, err := server.New(cfg, ix, log)
			if err != nil {
				return err
			}
			if err := s.Listen(); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "cointrail serve: listening on http://%s\n", s.Addr())
			if cfg.RPC.URL == "" {
				fmt.Fprintf(env.Stdout, "cointrail serve: no --rpc: serving the index at height %d as it is (API and cases; no follow, no alerts from new blocks)\n", ix.Tip().Height)
			}
			return s.Run(ctx)
		},
	})
}
