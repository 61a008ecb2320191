package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/regtest"
	"github.com/cointrail/cointrail/server"
	"github.com/cointrail/cointrail/sim"
)

// demoServe is the live half of the demo: a private btcd regtest node in
// dir/btcd, the heist submitted to it (truth and labels in dir/sim), the
// labels imported, an admin API key, and `serve` following the node until
// ctx ends; then btcd is stopped too.
func demoServe(ctx context.Context, env *Env, dir string, seed uint64, listen string) error {
	w := env.Stdout
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if !isTerminal(env.Stderr) {
		quiet = env.Log
	}
	step := func(n int, what string) { fmt.Fprintf(env.Stderr, "[%d/4] %s\n", n, what) }
	simDir := filepath.Join(dir, "sim")
	if _, err := os.Stat(filepath.Join(simDir, "truth.json")); err == nil {
		return usagef("%s already holds a demo; give --data a new directory", dir)
	}
	bin, err := regtest.FindBtcd()
	if err != nil {
		return fmt.Errorf("demo --serve runs a btcd regtest node: %w", err)
	}

	step(1, "starting a btcd regtest node")
	node, err := regtest.Start(ctx, bin, filepath.Join(dir, "btcd"), quiet)
	if err != nil {
		return err
	}
	defer node.Stop()
	fmt.Fprintf(w, "started btcd (%s, pid %d) on regtest: RPC %s, user %s, password %s; its data and output in %s\n",
		bin, node.PID, node.URL, node.User, node.Pass, node.Dir)

	step(2, "simulating the dmm-2024 heist and submitting it to the node (every block checked by btcd's rules first)")
	res, err := sim.Submit(ctx, sim.Config{Scenario: "dmm-2024", Seed: seed, Progress: simProgress(env, "generate")}, node.Client(), quiet)
	if err != nil {
		return err
	}
	if err := sim.WriteTruth(simDir, res); err != nil {
		return err
	}
	t := res.Truth
	fmt.Fprintf(w, "submitted %d blocks, %d transactions; tip %s\ntheft: %s in tx %s at height %d; labels and ground truth in %s\n",
		res.Blocks, res.Txs, res.TipHash, btc(t.StolenSat), t.TheftTxid, t.TheftHeight, simDir)

	step(3, "importing what investigators know on day one (a GraphSense TagPack) and creating an admin API key")
	g := &globals{data: dir, network: "regtest"}
	var key string
	err = g.withNewIndex(env, func(ix *index.Index) error {
		if _, err := labels.Import(ix.Store, ix.Net, []string{filepath.Join(simDir, "labels.yaml")}, time.Now().UTC(), quiet); err != nil {
			return err
		}
		var err error
		key, _, err = server.CreateAPIKey(ix.Store, server.RoleAdmin, "demo --serve", time.Now())
		return err
	})
	if err != nil {
		return err
	}

	step(4, "serving the API and following the node live")
	cfg := server.DefaultConfig()
	cfg.Data, cfg.Network, cfg.Listen = dir, "regtest", listen
	cfg.RPC = server.RPC{URL: node.URL, User: node.User, Pass: node.Pass}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	log := serveLogger(env, cfg)
	n, err := g.net()
	if err != nil {
		return err
	}
	ix, err := index.Open(dir, n, index.Options{}, log)
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
	base := "http://" + s.Addr()
	fmt.Fprintf(w, "cointrail serve: listening on %s, following btcd at %s\n", base, node.URL)
	fmt.Fprintf(w, "admin API key: %s\n\ntry:\n", key)
	fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' %s/v1/status\n", key, base)
	fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' %s/v1/tx/%s\n", key, base, t.TheftTxid)
	fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' -d '{\"name\":\"dmm\",\"seeds\":[\"%s\"]}' %s/v1/cases   (a case, followed block by block)\n", key, t.TheftTxid, base)
	fmt.Fprintf(w, "  cointrail sim --rpc %s --rpc-user %s --rpc-pass %s --seed 2 --txs 300   (more blocks, followed live)\n", node.URL, node.User, node.Pass)
	fmt.Fprintf(w, "stop: Ctrl-C (or SIGTERM) stops serve, then btcd (pid %d); the index, labels and truth stay in %s\n", node.PID, dir)

	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Say when the index has caught up with the heist on the node.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for caught := false; ; {
		select {
		case err := <-done:
			node.Stop()
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			fmt.Fprintf(w, "stopped serve and btcd; data in %s\n", dir)
			return nil
		case <-tick.C:
			if h := ix.Tip().Height; !caught && int(h) >= res.Blocks {
				caught = true
				fmt.Fprintf(w, "following: indexed the node's chain up to height %d\n", h)
			}
		}
	}
}
