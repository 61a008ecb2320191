package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/cointrail/cointrail/index"
)

func init() {
	register(&command{
		name: "index digest", summary: "print a content hash of the logical index",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			return g.withReader(env, func(ix *index.Index) error {
				d, err := ix.Digest()
				if err != nil {
					return err
				}
				if g.json {
					s := ix.Status()
					return printJSON(env.Stdout, map[string]any{"digest": d, "tip_height": s.TipHeight, "tip_hash": s.TipHash})
				}
				fmt.Fprintln(env.Stdout, d)
				return nil
			})
		},
	})
	var deep bool
	var deepBlocks string
	var deepRPC rpcFlags
	register(&command{
		name: "index verify", summary: "check the index's invariants (inputs resolve, spent-by symmetric, balances = UTXO total)",
		usage: "[--deep (--blocks DIR | --rpc URL)]",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&deep, "deep", false, "also re-check every block's merkle root against the stored txids, with headers read again from --blocks or --rpc")
			fs.StringVar(&deepBlocks, "blocks", "", "with --deep: the blocks/ directory the headers come from")
			deepRPC.register(fs)
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			if deep && (deepBlocks == "") == (deepRPC.url == "") {
				return usagef("--deep needs exactly one of --blocks DIR or --rpc URL: the index keeps block hashes, not headers")
			}
			if !deep && (deepBlocks != "" || deepRPC.url != "") {
				return usagef("--blocks and --rpc go with --deep")
			}
			return g.withReader(env, func(ix *index.Index) error {
				r, err := ix.Verify(ctx)
				if err != nil {
					return err
				}
				var dr *index.DeepReport
				if deep {
					var src index.HeaderSource
					if deepBlocks != "" {
						s, closeDir, err := index.BlkDirHeaders(deepBlocks, ix.Net)
						if err != nil {
							return err
						}
						defer closeDir()
						src = s
					} else {
						c, err := deepRPC.client(env)
						if err != nil {
							return err
						}
						src = index.RPCHeaders(c)
					}
					d, err := ix.VerifyDeep(ctx, src)
					if err != nil {
						return err
					}
					dr = &d
				}
				if g.json {
					if dr != nil {
						return printJSON(env.Stdout, map[string]any{"verify": r, "deep": dr})
					}
					return printJSON(env.Stdout, r)
				}
				fmt.Fprintf(env.Stdout, "ok: %d blocks, %d txs, %d outputs, %d inputs, %d addresses, %d history rows; %d UTXOs hold %s = Σ balances\n",
					r.Blocks, r.Txs, r.Outputs, r.Inputs, r.Addresses, r.HistoryRows, r.UTXOs, btc(r.UTXOSat))
				if dr != nil {
					fmt.Fprintf(env.Stdout, "deep: %d blocks' merkle roots match their %d stored txids\n", dr.Blocks, dr.Txs)
				}
				return nil
			})
		},
	})
	register(&command{
		name: "index rollback", summary: "disconnect blocks from the tip down to height N (-1 empties the index)", usage: "N",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "the height N to keep"); err != nil {
				return err
			}
			n, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || n < -1 {
				return usagef("height %q: want a number ≥ -1", args[0])
			}
			return g.withIndex(env, func(ix *index.Index) error {
				before := ix.Status().TipHeight
				if err := ix.Rollback(n, true); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "rolled back from %d to %d\n", before, ix.Status().TipHeight)
				return nil
			})
		},
	})
}

func init() {
	var format, out string
	register(&command{
		name: "export", summary: "export the transaction graph (txs, outputs, inputs) as CSV files with dense ids",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "csv", "csv")
			fs.StringVar(&out, "o", "export", "output directory")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			if format != "csv" {
				return usagef("unknown --format %q (want csv)", format)
			}
			return g.withReader(env, func(ix *index.Index) error {
				if err := ix.ExportCSV(ctx, out); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "wrote %s/txs.csv, outputs.csv, inputs.csv\n", out)
				return nil
			})
		},
	})
}
