package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/server"
)

func init() {
	var q server.AlertQuery
	var caseID uint
	register(&command{
		name: "alerts", summary: "list the alerts `serve` raised (newest first; --after ID for the ones after an id, oldest first); works while serve runs",
		flags: func(fs *flag.FlagSet) {
			q = server.AlertQuery{}
			fs.UintVar(&caseID, "case", 0, "only this case's alerts")
			fs.BoolVar(&q.Unacked, "unacked", false, "only alerts nobody acknowledged")
			fs.Uint64Var(&q.After, "after", 0, "only alerts with a larger id, oldest first")
			fs.IntVar(&q.Limit, "limit", 50, "at most this many")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			if q.Limit < 1 || caseID > 1<<32-1 {
				return usagef("--limit must be positive and --case a case id")
			}
			q.Case = uint32(caseID)
			q.Descending = q.After == 0
			return g.withReader(env, func(ix *index.Index) error {
				as, err := server.ListAlerts(ix.Store, q)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, as)
				}
				if len(as) == 0 {
					fmt.Fprintln(env.Stdout, "no alerts")
					return nil
				}
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				for _, a := range as {
					ack := "unacked"
					if a.Ack != nil {
						ack = "acked by " + labels.Escape(a.Ack.By)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.ID, a.CreatedAt.UTC().Format(time.RFC3339), a.Kind, ack, labels.Escape(a.Message))
				}
				return tw.Flush()
			})
		},
	})
}
