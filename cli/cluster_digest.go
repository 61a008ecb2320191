package cli

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
)

func init() {
	register(&command{
		name: "cluster digest", summary: "print the SHA-256 of the stored clustering (address → cluster, members, aggregates, merges; docs/clustering.md)",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				d, err := cluster.Digest(ctx, ix)
				if err != nil {
					return err
				}
				r, err := cluster.Open(ix)
				if err != nil {
					return err
				}
				tip := r.Tip()
				if g.json {
					return printJSON(env.Stdout, struct {
						Digest string          `json:"clusters_sha256"`
						Tip    cluster.TipView `json:"tip"`
					}{hex.EncodeToString(d[:]), tip})
				}
				fmt.Fprintf(env.Stdout, "clusters_sha256 %x (clustered tip height %d, %d addresses, %d merges)\n", d, tip.Height, tip.Addrs, tip.Merges)
				return nil
			})
		},
	})
}
