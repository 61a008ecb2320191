package cli

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/report"
)

func init() {
	register(&command{
		name: "tx", summary: "show a transaction: inputs resolved, outputs with their spenders", usage: "TXID",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "one TXID"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				h, err := index.ParseTxID(args[0])
				if err != nil {
					return argError(err)
				}
				tx, err := ix.FindTx(h)
				if err != nil {
					return err
				}
				v, err := ix.Tx(tx)
				if err != nil {
					return err
				}
				d, err := attrib.DetailOfTx(ix, v)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, d)
				}
				w := env.Stdout
				fmt.Fprintf(w, "tx %s\nblock %d %s (%s), position %d\nfee %s, vsize %d, locktime %d, version %d\n",
					v.TxID, v.Height, v.BlockHash, unixTime(v.BlockTime), v.Position, btc(v.FeeSat), v.Vsize, v.LockTime, v.Version)
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				if v.Coinbase {
					fmt.Fprintln(tw, "inputs:\tcoinbase")
				}
				for i, in := range v.Inputs {
					fmt.Fprintf(tw, "in %d\t%s:%d\t%s\t%s\t%s\n", i, in.PrevTxID, in.PrevVout, btc(in.ValueSat), in.Address, in.ScriptType)
				}
				for _, o := range v.Outputs {
					spent := "unspent"
					if o.Spent {
						spent = fmt.Sprintf("spent by %s:%d", o.SpentByTxID, *o.SpentByInput)
					}
					fmt.Fprintf(tw, "out %d\t%s\t%s\t%s\t%s\n", o.Vout, btc(o.ValueSat), orNone(o.Address), o.ScriptType, spent)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				writeLabelLines(w, "", "this tx", d.Labels.Tx)
				for _, a := range slices.Sorted(maps.Keys(d.Labels.Addresses)) {
					writeLabelLines(w, "", a, d.Labels.Addresses[a])
				}
				writeNotes(w, "", d.Notes, true)
				return nil
			})
		},
	})
	var offset, limit int
	register(&command{
		name: "address", summary: "show an address: received, sent, balance and history (newest first, paged)", usage: "ADDR",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&offset, "offset", 0, "skip this many history entries")
			fs.IntVar(&limit, "limit", 25, fmt.Sprintf("history entries per page (max %d)", index.MaxPage))
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "one address"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				id, _, err := ix.ParseAddr(args[0])
				if err != nil {
					return argError(err)
				}
				v, err := ix.Address(id, offset, limit)
				if err != nil {
					return err
				}
				d, err := attrib.DetailOfAddress(ix, v)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, d)
				}
				w := env.Stdout
				fmt.Fprintf(w, "address %s\nreceived %s, sent %s, balance %s\n%d transactions, heights %d..%d\n",
					v.Address, btc(v.ReceivedSat), btc(v.SentSat), btc(v.BalanceSat), v.TxCount, v.FirstHeight, v.LastHeight)
				writeLabelLines(w, "", "this address", d.Labels)
				writeNotes(w, "", d.Notes, false)
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				for _, h := range v.History {
					fmt.Fprintf(tw, "%d\t%s\t%s\t+%s\t-%s\n", h.Height, unixTime(h.Time), h.TxID, btc(h.ReceivedSat), btc(h.SentSat))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if shown := offset + len(v.History); shown < v.TxCount {
					fmt.Fprintf(w, "(%d more: --offset %d)\n", v.TxCount-shown, shown)
				}
				return nil
			})
		},
	})
	register(&command{
		name: "block", summary: "show a block by height or hash", usage: "HEIGHT|HASH",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 1, "a height or block hash"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				h, err := ix.ParseBlockArg(args[0])
				if err != nil {
					return argError(err)
				}
				v, err := ix.Block(h)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(env.Stdout, v)
				}
				fmt.Fprintf(env.Stdout, "block %d %s\nprev %s\ntime %s, size %d, %d txs, fees %s\n", v.Height, v.Hash, v.Prev, unixTime(v.Time), v.Size, v.TxCount, btc(v.FeeSat))
				for _, id := range v.TxIDs {
					fmt.Fprintln(env.Stdout, id)
				}
				return nil
			})
		},
	})
	register(&command{
		name: "status", summary: "show the index: network, tip, counts, size on disk",
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				s := ix.Status()
				bulk, building := ix.BulkBuild()
				if g.json {
					v := struct {
						index.StatusView
						Bulk *index.BulkView `json:"bulk_build,omitempty"`
					}{StatusView: s}
					if building {
						v.Bulk = &bulk
					}
					return printJSON(env.Stdout, v)
				}
				fmt.Fprintf(env.Stdout, "network %s (schema v%d)\n", s.Network, s.SchemaVersion)
				if building {
					// The empty tip and zero counts of an index the build has
					// not installed yet would read as "nothing indexed".
					fmt.Fprintf(env.Stdout, "bulk build in progress: phase %d of %d (%s), %s\nresume it: %s\n",
						bulk.Phase, bulk.Phases, bulk.PhaseName, bulkRead(bulk), resumeHint(g))
				} else {
					tip := "empty"
					if !s.Empty {
						tip = fmt.Sprintf("%d %s (%s)", s.TipHeight, s.TipHash, unixTime(s.TipTime))
					}
					fmt.Fprintf(env.Stdout, "tip %s\n%d txs, %d outputs, %d inputs, %d addresses\n", tip, s.Txs, s.Outputs, s.Inputs, s.Addresses)
				}
				fmt.Fprintf(env.Stdout, "index size %.1f MB\n", float64(s.DiskBytes)/1e6)
				return nil
			})
		},
	})
}

// bulkRead says how far an unfinished bulk build has read the chain.
func bulkRead(b index.BulkView) string {
	if b.Height < 0 {
		return "no block recorded yet: the blocks are read again from height 0"
	}
	return fmt.Sprintf("blocks read to height %d (%d blocks, %d txs), not installed: the index stays empty until the build ends", b.Height, b.Blocks, b.Txs)
}

// resumeHint is the command that resumes a bulk build: the same ingest
// (the build checks that its source still has the block it stopped at).
func resumeHint(g *globals) string {
	return fmt.Sprintf("cointrail ingest --data %s --network %s --blocks DIR (or --rpc URL), from the same source", g.data, g.network)
}

func unixTime(t uint32) string { return time.Unix(int64(t), 0).UTC().Format("2006-01-02 15:04:05Z") }

// btc renders satoshis as BTC with 8 decimals, exactly, and the unit.
func btc(sat int64) string { return report.BTC(sat) + " BTC" }

func orNone(s string) string {
	if s == "" {
		return "(no address)"
	}
	return s
}
