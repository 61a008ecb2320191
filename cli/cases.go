package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/server"
)

func parseCaseID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 0 {
		return 0, usagef("case id %q: want a positive integer", s)
	}
	return uint32(v), nil
}

func init() {
	var spec server.CaseSpec
	var seeds, watch stringList
	var minSats int64
	var noStopAtService bool
	var seedFrom, seedTo uint
	register(&command{
		name: "case create", summary: "open a case: seeds traced to the tip now, then followed live by `serve` (run while serve is stopped, or use POST /v1/cases)",
		usage: "--name NAME [--seed] SEED... [--watch ADDR]...",
		flags: func(fs *flag.FlagSet) {
			spec, seeds, watch = server.CaseSpec{}, nil, nil // Main may run in-process more than once
			fs.StringVar(&spec.Name, "name", "", "case name")
			fs.Var(&seeds, "seed", "seed: TXID:VOUT, TXID or ADDRESS, optionally @SATS; repeatable (seeds may also follow the flags)")
			fs.StringVar(&spec.Model, "model", "haircut", "taint model: poison, haircut, fifo, lifo or tiho")
			fs.IntVar(&spec.MaxHops, "max-hops", 0, "stop following this many transactions from a seed (0: no limit)")
			fs.Int64Var(&minSats, "min-sats", 1000, "dust threshold: outputs carrying less taint are not followed")
			fs.BoolVar(&spec.StopAtCoinJoin, "stop-at-coinjoin", false, "stop at CoinJoins instead of passing through them")
			fs.BoolVar(&noStopAtService, "no-stop-at-service", false, "go on through labelled services instead of stopping (arriving) there")
			fs.Var(&watch, "watch", "address to watch: any payment to it raises an alert; repeatable")
			fs.UintVar(&seedFrom, "seed-from-height", 0, "address seeds: only outputs received at or above this height")
			fs.UintVar(&seedTo, "seed-to-height", 0, "address seeds: only outputs received at or below this height")
			fs.StringVar(&spec.Note, "note", "", "the case's first note (more with `cointrail note add case:ID TEXT`)")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			spec.Seeds = append(append([]string(nil), seeds...), args...)
			spec.Watch = append([]string(nil), watch...)
			spec.MinSats = &minSats
			stop := !noStopAtService
			spec.StopAtService = &stop
			spec.SeedFromHeight, spec.SeedToHeight = uint32(seedFrom), uint32(seedTo)
			n, err := g.net()
			if err != nil {
				return err
			}
			if err := spec.Check(n); err != nil {
				return usagef("%v", err)
			}
			return g.withIndex(env, func(ix *index.Index) error {
				cs, err := server.OpenCases(ix, env.Log)
				if err != nil {
					return err
				}
				v, err := cs.Create(ctx, spec)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, v)
				}
				fmt.Fprintf(env.Stdout, "created case %d %q (%s) at height %d: %s traced, %s unspent on %d outputs, %s arrived at services\n",
					v.ID, v.Name, v.Model, v.AsOfHeight, btc(v.Summary.TracedSat), btc(v.Summary.UnspentSat), v.Summary.UnspentOutputs, btc(v.Summary.ArrivedSat))
				return nil
			})
		},
	})
	register(&command{
		name: "case list", summary: "list cases with where their taint is",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withIndex(env, func(ix *index.Index) error {
				cs, err := server.OpenCases(ix, env.Log)
				if err != nil {
					return err
				}
				vs := cs.List()
				if g.json {
					return printJSON(env.Stdout, vs)
				}
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "id\tname\tmodel\ttraced\tunspent\tarrived\twatching\tstatus")
				for _, v := range vs {
					st := "following"
					switch {
					case v.Error != "":
						st = "stopped: " + v.Error
					case v.Rebuild:
						st = "rebuild pending"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", v.ID, labels.Escape(v.Name), v.Model, btc(v.Summary.TracedSat), btc(v.Summary.UnspentSat),
						btc(v.Summary.ArrivedSat), len(v.Watch), st)
				}
				return tw.Flush()
			})
		},
	})
	var offset, limit int
	register(&command{
		name: "case show", summary: "show a case: definition, summary and where its funds are now", usage: "ID",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&offset, "offset", 0, "skip this many unspent outputs")
			fs.IntVar(&limit, "limit", 100, "unspent outputs to show")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "one case id"); err != nil {
				return err
			}
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			if limit < 1 || offset < 0 {
				return usagef("--limit must be positive and --offset not negative")
			}
			return g.withIndex(env, func(ix *index.Index) error {
				cs, err := server.OpenCases(ix, env.Log)
				if err != nil {
					return err
				}
				v, err := cs.Get(id)
				if err != nil {
					return err
				}
				fv, err := cs.Funds(id, offset, limit)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, map[string]any{"case": v, "funds": fv})
				}
				w := env.Stdout
				// The case was traced once at creation (AsOfHeight) and has been
				// moved on block by block since: the figures are at fv.Height.
				fmt.Fprintf(w, "case %d %q, model %s, opened at height %d, state at height %d\nseeds: %v\nwatching: %v\n",
					v.ID, v.Name, v.Model, v.AsOfHeight, fv.Height, v.Seeds, v.Watch)
				writeNotes(w, "", v.Notes, false)
				s := v.Summary
				fmt.Fprintf(w, "traced %s: unspent %s on %d outputs, arrived %s, fees %s, dust %s, stopped %s\n",
					btc(s.TracedSat), btc(s.UnspentSat), s.UnspentOutputs, btc(s.ArrivedSat), btc(s.FeeSat), btc(s.DustSat), btc(s.StoppedSat))
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				for _, a := range fv.Arrivals {
					fmt.Fprintf(tw, "arrived\t%s:%d\t%s\t%s\t%s (%s)\n", a.TxID, a.Vout, a.Address, btc(a.TaintSat), labels.Escape(a.Label), labels.Escape(a.Category))
				}
				for _, o := range fv.Unspent {
					fmt.Fprintf(tw, "unspent\t%s:%d\t%s\t%s\t%s\n", o.TxID, o.Vout, o.Address, btc(o.TaintSat), o.Status)
				}
				return tw.Flush()
			})
		},
	})
	register(&command{
		name: "case delete", summary: "delete a case (its alerts stay)", usage: "ID",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "one case id"); err != nil {
				return err
			}
			id, err := parseCaseID(args[0])
			if err != nil {
				return err
			}
			return g.withIndex(env, func(ix *index.Index) error {
				cs, err := server.OpenCases(ix, env.Log)
				if err != nil {
					return err
				}
				if err := cs.Delete(id); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "deleted case %d\n", id)
				return nil
			})
		},
	})
}
