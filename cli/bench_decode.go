package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/cointrail/cointrail/bench"
	"github.com/cointrail/cointrail/index"
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

func init() {
	var n int
	var hops int
	register(&command{
		name:    "bench lookups",
		summary: "time random tx, address, spent-by, outpoint and screen lookups on an index, with disk page reads per lookup",
		usage:   "[--n N] [--hops H]",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&n, "n", 20000, "lookups of each kind")
			fs.IntVar(&hops, "hops", 1, "screening depth for the screen lookups")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			return g.withIndex(env, func(ix *index.Index) error {
				look, err := bench.Lookups(ix, n, 1)
				if err != nil {
					return err
				}
				scr, err := bench.Screens(ctx, ix, n/10, hops, 1, env.Log)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, map[string]any{"lookups": look, "screen": scr})
				}
				fmt.Fprintf(env.Stdout, "per second: tx %.0f, address %.0f, spent-by %.0f, outpoint %.0f, screen (%d hop) %.0f\n",
					look.TxPerSec, look.AddressPerSec, look.SpentByPerSec, look.OutpointPerSec, hops, scr.PerSec)
				fmt.Fprintf(env.Stdout, "disk page reads per lookup: tx %.2f, address %.2f, spent-by %.2f, outpoint %.2f, screen %.2f\n",
					look.TxFaults, look.AddressFaults, look.SpentByFaults, look.OutpointFaults, scr.Faults)
				return nil
			})
		},
	})
}
