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
			checks := make([]chain.BlockCheck, len(d.Blocks))
			for i, b := range d.Blocks {
				checks[i] = chain.Check(b, net)
			}
			switch format {
			case "csv":
				// CSV rows are outputs; a block that fails a check is said on stderr.
				for i, b := range d.Blocks {
					for _, err := range []error{checks[i].PoW, checks[i].Merkle} {
						if err != nil {
							fmt.Fprintf(env.Stderr, "cointrail decode: block %s: %v\n", b.BlockHash(), err)
						}
					}
				}
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
				type jcheck struct {
					Hash        string `json:"hash"`
					PoWOK       bool   `json:"pow_ok"`
					PoWError    string `json:"pow_error,omitempty"`
					MerkleOK    bool   `json:"merkle_ok"`
					MerkleError string `json:"merkle_error,omitempty"`
				}
				jc := make([]jcheck, len(d.Blocks))
				for i, b := range d.Blocks {
					jc[i] = jcheck{Hash: b.BlockHash().String(), PoWOK: checks[i].PoW == nil, PoWError: errText(checks[i].PoW),
						MerkleOK: checks[i].Merkle == nil, MerkleError: errText(checks[i].Merkle)}
				}
				return printJSON(env.Stdout, map[string]any{"blocks": len(d.Blocks), "block_checks": jc, "outputs": out})
			case "text":
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				for i, b := range d.Blocks {
					fmt.Fprintf(tw, "block %s\t%d txs\t%s\tpow %s\tmerkle %s\n", b.BlockHash(), len(b.Transactions),
						b.Header.Timestamp.UTC().Format("2006-01-02 15:04:05Z"), okOr(checks[i].PoW), okOr(checks[i].Merkle))
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

// okOr is "ok" or the failed rule with its detail, for decode's text.
func okOr(err error) string {
	if err == nil {
		return "ok"
	}
	return "INVALID (" + err.Error() + ")"
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
