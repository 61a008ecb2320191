package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/sim"
	"github.com/schollz/progressbar/v3"
)

// simProgress renders generation progress like ingest progress.
func simProgress(env *Env, what string) func(done, total int) {
	if isTerminal(env.Stderr) {
		var bar *progressbar.ProgressBar
		return func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(env.Stderr), progressbar.OptionSetDescription(what),
					progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(true))
			}
			_ = bar.Set(done)
			if done >= total {
				_ = bar.Finish()
			}
		}
	}
	var last time.Time
	return func(done, total int) {
		if done < total && time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		env.Log.Info(what, "done", done, "total", total)
	}
}

func init() {
	var cfg sim.Config
	var seed uint64
	var out string
	var rpc rpcFlags
	var stats bool
	register(&command{
		name:    "sim",
		summary: "generate a valid regtest chain: background traffic and optionally a heist scenario with its ground truth",
		usage:   "(--out DIR | --rpc URL [--out DIR])",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.Scenario, "scenario", "", "heist scenario: "+strings.Join(sim.Scenarios(), ", ")+" (empty: background traffic only)")
			fs.StringVar(&cfg.Profile, "profile", "", "chain profile: "+strings.Join(sim.Profiles(), ", ")+" (empty: the default actor economy; see docs/simulator.md)")
			fs.Uint64Var(&seed, "seed", 1, "everything is derived from the seed")
			fs.IntVar(&cfg.Txs, "txs", 0, "background transactions (0: the scenario's default)")
			fs.IntVar(&cfg.TxsPerBlock, "txs-per-block", 0, "background transactions per block (0: txs/100, within 20..3000)")
			fs.BoolVar(&cfg.Fast, "fast", false, "skip real signatures (dummy ones of the right size): structurally valid chains for benchmarks only")
			fs.BoolVar(&cfg.XOR, "xor", false, "obfuscate the blk files with a blocks/xor.dat key (Bitcoin Core ≥ 28)")
			fs.IntVar(&cfg.Stale, "stale", 0, "add this many stale side blocks (a losing fork)")
			fs.StringVar(&out, "out", "", "write DIR/blocks/, DIR/labels.yaml and DIR/truth.json (beside --rpc: the labels and truth only; the blocks are on the node)")
			fs.BoolVar(&stats, "stats", false, "measure the generated chain (inputs/outputs per tx, script mix per tenth, reuse, UTXO fraction, spent ages) into DIR/stats.json")
			rpc.register(fs)
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			live := rpc.url != ""
			switch {
			case out == "" && !live:
				return usagef("give --out DIR, --rpc URL or both")
			case stats && (out == "" || live):
				return usagef("--stats needs --out DIR without --rpc (it measures DIR/blocks)")
			case live && out != "" && cfg.Scenario == "":
				return usagef("--out beside --rpc writes a scenario's labels and truth: give --scenario too")
			}
			if cfg.Profile != "" {
				// A profile's live heap is its UTXO pool: let it grow
				// before collecting, within a bound (generation is
				// allocation-heavy and the default GC target costs ~25 %).
				defer debug.SetGCPercent(debug.SetGCPercent(400))
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 30))
			}
			cfg.Seed = seed
			cfg.Progress = simProgress(env, "generate")
			start := time.Now()
			var res *sim.Result
			var err error
			if !live {
				res, err = sim.WriteDir(ctx, cfg, out, env.Log)
			} else {
				if out != "" {
					// Fail before submitting, not after.
					if err := os.MkdirAll(out, 0o755); err != nil {
						return err
					}
				}
				c, cerr := rpc.client(env)
				if cerr != nil {
					return cerr
				}
				if n, nerr := c.Network(ctx); nerr != nil {
					return nerr
				} else if n != "regtest" {
					return fmt.Errorf("%w: node %s is on %s; the simulator only submits to regtest", chain.ErrWrongNetwork, c.Endpoint(), n)
				}
				if res, err = sim.Submit(ctx, cfg, c, env.Log); err == nil && out != "" {
					if err = sim.WriteTruth(out, res); err != nil {
						err = fmt.Errorf("the chain is on %s, but its truth is not written: %w", c.Endpoint(), err)
					}
				}
			}
			if err != nil {
				return err
			}
			el := time.Since(start)
			var st *sim.Stats
			if stats {
				if st, err = sim.WriteStats(ctx, out, env.Log); err != nil {
					return err
				}
			}
			if g.json {
				m := map[string]any{"blocks": res.Blocks, "txs": res.Txs, "tip_hash": res.TipHash.String(),
					"seconds": el.Seconds(), "tx_per_s": float64(res.Txs) / el.Seconds()}
				if st != nil {
					m["stats"] = st
				}
				if t := res.Truth; t != nil {
					m["theft_txid"], m["theft_height"], m["stolen_sat"] = t.TheftTxid, t.TheftHeight, t.StolenSat
				}
				return printJSON(env.Stdout, m)
			}
			verb := "generated"
			if live {
				verb = "generated, checked and submitted to " + rpc.url + ":"
			}
			fmt.Fprintf(env.Stdout, "%s %d blocks, %d transactions in %s (%.0f tx/s); tip %s\n", verb, res.Blocks, res.Txs, el.Round(time.Millisecond), float64(res.Txs)/el.Seconds(), res.TipHash)
			if t := res.Truth; t != nil {
				fmt.Fprintf(env.Stdout, "theft: %s in tx %s at height %d, from %s to %s\n", btc(t.StolenSat), t.TheftTxid, t.TheftHeight, t.VictimAddress, t.AttackerAddress)
			}
			if st != nil {
				fmt.Fprintf(env.Stdout, "stats (%s/stats.json): %.2f inputs/tx, %.2f outputs/tx, reuse %.1f %%, UTXO %.1f %% of outputs, spent age p50 %d blocks (p90 %d)\n",
					out, st.InputsPerTx, st.OutputsPerTx, 100*st.Reuse, 100*st.UTXOFraction, st.SpentAge.P50, st.SpentAge.P90)
			}
			switch {
			case live:
				if out != "" {
					fmt.Fprintf(env.Stdout, "labels in %s/labels.yaml, ground truth in %s/truth.json\n", out, out)
				}
				fmt.Fprintf(env.Stdout, "next (with the same --rpc-user/--rpc-pass): cointrail ingest --network regtest --rpc %s", rpc.url)
				if out != "" {
					fmt.Fprintf(env.Stdout, "; cointrail labels import --network regtest %s/labels.yaml", out)
				}
				fmt.Fprintf(env.Stdout, "; cointrail serve --network regtest --rpc %s (follows the node live)\n", rpc.url)
			default:
				fmt.Fprintf(env.Stdout, "blocks in %s/blocks", out)
				if cfg.Scenario != "" {
					fmt.Fprintf(env.Stdout, ", labels in %s/labels.yaml, ground truth in %s/truth.json", out, out)
				}
				fmt.Fprintf(env.Stdout, "\nnext: cointrail ingest --network regtest --blocks %s/blocks\n", out)
			}
			return nil
		},
	})
}
