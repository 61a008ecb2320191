package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/report"
)

func init() {
	var change string
	var p10 int
	var super uint
	printStats := func(env *Env, g *globals, what string, st *cluster.Stats) error {
		if g.json {
			return printJSON(env.Stdout, st)
		}
		fmt.Fprintf(env.Stdout, "%s: clustered blocks %d..%d (%d txs, %d inputs, %d CoinJoins skipped) in %s\n", what, st.FromHeight, st.Height, st.Txs, st.Inputs, st.CoinJoins, st.Elapsed)
		fmt.Fprintf(env.Stdout, "%d addresses, %d clusters of 2+ holding %d addresses; largest %d (id %d); %d merges recorded\n",
			st.Addresses, st.Clusters, st.Clustered, st.Largest.Size, st.Largest.ID, st.Merges)
		for _, s := range st.Superclusters {
			fmt.Fprintf(env.Stdout, "supercluster %d: %d addresses\n", s.ID, s.Size)
		}
		return nil
	}
	register(&command{
		name: "cluster build", summary: "cluster addresses from scratch: multi-input heuristic (coinbases and CoinJoins skipped) plus optional change heuristics",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&change, "change", "none", "change heuristics, comma-separated: address-type, optimal-change, power-of-ten, client-change, address-reuse, all or none")
			fs.IntVar(&p10, "power-of-ten-digits", cluster.DefaultPowerOfTenDigits, "power-of-ten heuristic: round values are multiples of 10^d sat")
			fs.UintVar(&super, "supercluster-size", cluster.DefaultSuperclusterSize, "report clusters of at least this many addresses")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			h, err := cluster.ParseHeuristics(change)
			if err != nil {
				return usagef("%v", err)
			}
			return g.withIndex(env, func(ix *index.Index) error {
				st, err := cluster.Build(ctx, ix, cluster.Options{Change: h, PowerOfTenDigits: p10, SuperclusterSize: uint32(super)}, env.Log)
				if err != nil {
					return err
				}
				return printStats(env, g, "built", st)
			})
		},
	})
	register(&command{
		name: "cluster update", summary: "extend the clustering to the index tip (same heuristics as the build)",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withIndex(env, func(ix *index.Index) error {
				c, err := cluster.LoadStored(ctx, ix, env.Log)
				if err != nil {
					return err
				}
				defer c.Close()
				st, err := c.Update(ctx)
				if err != nil {
					return err
				}
				return printStats(env, g, "updated", st)
			})
		},
	})
	var offset, limit int
	register(&command{
		name: "entity", summary: "show the cluster of an address or a cluster id: size, labels, balance, activity, addresses paged", usage: "ADDR|CLUSTERID",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&offset, "offset", 0, "skip this many member addresses")
			fs.IntVar(&limit, "limit", 25, "member addresses per page")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "an address or cluster id"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				v, err := cluster.Entity(ix, args[0], offset, limit)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, v)
				}
				w := env.Stdout
				fmt.Fprintf(w, "cluster %d: %d addresses", v.ClusterID, v.Size)
				if v.Supercluster {
					fmt.Fprint(w, " (supercluster)")
				}
				fmt.Fprintf(w, "\nbalance %s BTC (received %s, sent %s)\nactive blocks %d..%d (%s .. %s)\n", report.BTC(v.BalanceSat), report.BTC(v.ReceivedSat), report.BTC(v.SentSat),
					v.FirstHeight, v.LastHeight, when(v.FirstTime), when(v.LastTime))
				if len(v.Entities) > 0 {
					fmt.Fprintf(w, "entity: %s\n", labels.Escape(strings.Join(v.Entities, "; ")))
				}
				if v.Conflict {
					fmt.Fprintln(w, "CONFLICT: the cluster-defining labels name different entities — a likely false merge")
				}
				for _, l := range v.Labels {
					fmt.Fprintf(w, "  label %s (%s) on %s, %s\n", labels.Escape(l.Label), labels.Escape(l.Category), l.Address, labels.Escape(l.Source))
				}
				for _, l := range v.MemberLabels {
					fmt.Fprintf(w, "  member label %s (%s) on %s, %s\n", labels.Escape(l.Label), labels.Escape(l.Category), l.Address, labels.Escape(l.Source))
				}
				for _, a := range v.Addresses {
					fmt.Fprintln(w, a)
				}
				if shown := v.Offset + len(v.Addresses); uint32(shown) < v.Size {
					fmt.Fprintf(w, "(%d more: --offset %d)\n", int(v.Size)-shown, shown)
				}
				return nil
			})
		},
	})
}
