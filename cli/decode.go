package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/cointrail/cointrail/chain"
)

func init() {
	var format string
	register(&command{
		name: "decode", summary: "decode a raw block, a framed blk file or a raw tx (file or hex) without an index", usage: "FILE|HEX",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "text", "text, csv (one row per output) or json")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "a file or hex string"); err != nil {
				return err
			}
			if g.json {
				format = "json"
			}
			net, err := g.net()
			if err != nil {
				return err
			}
			d, err := chain.DecodeArg(args[0], net)
			if err != nil {
				return err
			}
			rows := d.Rows(net)
			switch format {
			case "csv":
				return chain.WriteCSV(env.Stdout, rows)
			case "json":
				type jrow struct {
					BlockHash  string `json:"block_hash"`
					TxID       string `json:"txid"`
					Vout       uint32 `json:"vout"`
					ValueSat   int64  `json:"value_sat"`
					Address    string `json:"address"`
					ScriptType string `json:"script_type"`
				}
				out := make([]jrow, len(rows))
				for i, r := range rows {
					out[i] = jrow{r.BlockHash, r.TxID, r.Vout, r.ValueSat, r.Address, r.ScriptType.String()}
				}
				return printJSON(env.Stdout, map[string]any{"blocks": len(d.Blocks), "outputs": out})
			case "text":
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				for _, b := range d.Blocks {
					fmt.Fprintf(tw, "block %s\t%d txs\t%s\n", b.BlockHash(), len(b.Transactions), b.Header.Timestamp.UTC().Format("2006-01-02 15:04:05Z"))
				}
				for _, r := range rows {
					fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\n", r.TxID, r.Vout, btc(r.ValueSat), orNone(r.Address), r.ScriptType)
				}
				return tw.Flush()
			}
			return usagef("unknown --format %q (want text, csv or json)", format)
		},
	})
}
