package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/screen"
)

func init() {
	var hops int
	var policy, input, out string
	register(&command{
		name: "screen", summary: "exposure of an address or transaction to labelled categories (direct and within N hops), with a risk level; --input screens a CSV in bulk",
		usage: "ADDR|TXID | --input FILE.csv",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&hops, "hops", screen.DefaultHops, fmt.Sprintf("how many transactions back indirect exposure looks (1..%d)", screen.MaxHops))
			fs.StringVar(&policy, "policy", "", "risk policy file (YAML or JSON, docs/screening.md); default: the built-in policy")
			fs.StringVar(&input, "input", "", "CSV of addresses or txids (one per row, header optional): writes one CSV row per input")
			fs.StringVar(&out, "o", "", "with --input: write the CSV here instead of standard output")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if (input == "") == (len(args) != 1) {
				return usagef("give one address or txid, or --input FILE.csv")
			}
			opts := screen.Options{Hops: hops}
			if policy != "" {
				p, err := screen.LoadPolicy(policy)
				if err != nil {
					return err
				}
				opts.Policy = p
			}
			return g.withReader(env, func(ix *index.Index) error {
				if input != "" {
					f, err := os.Open(input)
					if err != nil {
						return usagef("%v", err)
					}
					defer f.Close()
					var done, failed int
					err = writeOut(env, out, func(w io.Writer) error {
						var err error
						done, failed, err = screen.ScreenCSV(ctx, ix, f, w, opts, env.Log)
						return err
					})
					if err != nil {
						return err
					}
					env.Log.Info("screened", "rows", done, "failed", failed)
					return nil
				}
				r, err := screen.Screen(ctx, ix, args[0], opts, env.Log)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, r)
				}
				writeScreen(env.Stdout, r, fmt.Sprintf("cointrail screen --data %s --network %s", g.data, g.network))
				return nil
			})
		},
	})
}

// writeScreen prints a screening report as text. Categories, labels and
// notes quote third-party text (label files): escaped so that no control
// character reaches the terminal.
// again is the command that screens the target again (with more hops).
func writeScreen(w io.Writer, r *screen.Report, again string) {
	esc := labels.Escape
	fmt.Fprintf(w, "%s %s: risk %s", r.Kind, esc(r.Target), r.Risk)
	if r.TopCategory != "" {
		fmt.Fprintf(w, " (%s: %s)", esc(r.TopCategory), esc(r.TopLabel))
	}
	fmt.Fprintf(w, "\nscreened %s BTC in %d outputs, %d hops back, at tip %d\n", report.BTC(r.ValueSat), r.Outputs, r.Hops, r.TipHeight)
	for _, re := range r.Reasons {
		fmt.Fprintf(w, "  %s %s: %s BTC (%.1f%%) → %s\n", re.Exposure, esc(re.Category), report.BTC(re.Sat), 100*re.Share, re.Level)
	}
	if u := r.Indirect.UnattributedSat; u > 0 && r.ValueSat > 0 {
		share := float64(u) / float64(r.ValueSat)
		fmt.Fprintf(w, "  unattributed within %d hops: %s BTC (%.1f%%) reached no label\n", r.Hops, report.BTC(u), 100*share)
		// A large unknown remainder may hide a source one hop further.
		if share >= 0.25 && r.Hops < screen.MaxHops {
			fmt.Fprintf(w, "  look further back: %s --hops %d %s\n", again, min(screen.MaxHops, 2*r.Hops), r.Target)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", esc(n))
	}
	fmt.Fprintln(w, "(--json for the labels and paths behind it)")
}
