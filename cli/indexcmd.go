package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
)

func init() {
	register(&command{
		name: "index digest", summary: "print content hashes of the index, and of the labels and the clustering a trace runs with",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				v, err := digests(ctx, ix)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, v)
				}
				// The first line stays the bare index digest: scripts compare it.
				fmt.Fprintln(env.Stdout, v.Digest)
				l := v.Labels
				switch l.State {
				case "none":
					fmt.Fprintln(env.Stdout, "labels_sha256 none")
				default:
					fmt.Fprintf(env.Stdout, "labels_sha256 %s (%d labels from %d files)\n", l.SHA256, l.Labels, l.Files)
				}
				c := v.Clusters
				switch c.State {
				case "built":
					fmt.Fprintf(env.Stdout, "clusters_sha256 %s (clustered tip height %d, %d addresses, %d merges)\n", c.SHA256, c.Tip.Height, c.Tip.Addrs, c.Tip.Merges)
				case "none":
					fmt.Fprintln(env.Stdout, "clusters_sha256 none")
				default:
					fmt.Fprintf(env.Stdout, "clusters_sha256 %s (%s)\n", c.State, c.Reason)
				}
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
			// A corrupt index is opened anyway: saying what is wrong is the point.
			return g.withReaderOpts(env, index.Options{AllowCorrupt: true}, func(ix *index.Index) error {
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
			// A corrupt index is opened anyway: rolling back below the
			// damage is one way to repair it.
			return g.withIndexOpts(env, index.Options{AllowCorrupt: true}, func(ix *index.Index) error {
				before := ix.Status().TipHeight
				if err := ix.Rollback(n); err != nil {
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
		name: "export", summary: "export the transaction graph (txs, outputs, inputs, and the addresses outputs.csv refers to by id) as CSV files with dense ids",
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
				fmt.Fprintf(env.Stdout, "wrote %s/txs.csv, outputs.csv, inputs.csv, addresses.csv\n", out)
				return nil
			})
		},
	})
}

// digestView is what `index digest` prints: everything that determines a
// trace's result, each part with its own digest, so that a report can
// name the chain, the attribution and the clustering it ran with and a
// change to one of them shows as that one — the index digest (blocks,
// transactions, outputs, inputs, addresses: index.Digest), the labels
// (labels.Digest) and the clustering (cluster.Digest).
type digestView struct {
	Digest    string `json:"digest"`
	TipHeight int64  `json:"tip_height"`
	TipHash   string `json:"tip_hash"`
	Labels    struct {
		State  string `json:"state"` // none, imported
		SHA256 string `json:"sha256,omitempty"`
		Labels int    `json:"labels"`
		Files  int    `json:"files"`
	} `json:"labels"`
	Clusters cluster.Clustering `json:"clusters"`
}

func digests(ctx context.Context, ix *index.Index) (digestView, error) {
	var v digestView
	d, err := ix.Digest()
	if err != nil {
		return v, err
	}
	s := ix.Status()
	v.Digest, v.TipHeight, v.TipHash = d, s.TipHeight, s.TipHash
	ld, err := labels.Digest(ix.Store, ix.Net)
	if err != nil {
		return v, err
	}
	v.Labels.State = "none"
	if len(ld.Files) > 0 {
		v.Labels.State, v.Labels.SHA256, v.Labels.Labels, v.Labels.Files = "imported", ld.SHA256, ld.Labels, len(ld.Files)
	}
	if v.Clusters, err = cluster.StateOf(ctx, ix); err != nil {
		return v, err
	}
	return v, nil
}
