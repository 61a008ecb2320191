package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/cointrail/cointrail/bench"
)

func init() {
	var blocks string
	var workers int
	register(&command{
		name:    "bench decode",
		summary: "time a decode-only pass (btcd wire + every txid) over a blocks/ directory: the ingest baseline",
		usage:   "--blocks DIR [--workers N]",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&blocks, "blocks", "", "Bitcoin Core style blocks/ directory")
			fs.IntVar(&workers, "workers", 1, "decoding cores")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if blocks == "" {
				return usagef("--blocks DIR is required")
			}
			net, err := g.net()
			if err != nil {
				return err
			}
			r, err := bench.DecodeOnlyN(ctx, blocks, net, env.Log, workers)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(env.Stdout, map[string]any{"blocks": r.Blocks, "txs": r.Txs, "block_bytes": r.Bytes,
					"workers": workers, "seconds": r.Elapsed.Seconds(), "mb_per_s": float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()})
			}
			fmt.Fprintf(env.Stdout, "decode-only on %d core(s): %d blocks, %d txs, %.1f MB in %.2fs (%.1f MB/s)\n", workers, r.Blocks, r.Txs,
				float64(r.Bytes)/1e6, r.Elapsed.Seconds(), float64(r.Bytes)/1e6/r.Elapsed.Seconds())
			return nil
		},
	})
}
