package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/cointrail/cointrail/accuracy"
	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/sim"
	"github.com/cointrail/cointrail/taint"
)

func init() {
	var seed uint64
	var serve bool
	var listen string
	register(&command{
		name:    "demo",
		summary: "simulate the DMM Bitcoin heist (May 2024), ingest it, import its labels and trace the theft end to end; --serve: live, on a btcd regtest node followed by `serve`",
		usage:   "[--seed S] [--serve [--listen ADDR]]",
		flags: func(fs *flag.FlagSet) {
			fs.Uint64Var(&seed, "seed", 1, "simulation seed")
			fs.BoolVar(&serve, "serve", false, "start a btcd regtest node (btcd on PATH or in $(go env GOPATH)/bin), submit the heist to it and run the API following it live until Ctrl-C")
			fs.StringVar(&listen, "listen", "127.0.0.1:8335", "API address with --serve")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			explicit := env.Getenv("COINTRAIL_DATA") != ""
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "data" {
					explicit = true
				}
			})
			dir := g.data
			if !explicit {
				var err error
				if dir, err = os.MkdirTemp("", "cointrail-demo-"); err != nil {
					return err
				}
			}
			if serve {
				return demoServe(ctx, env, dir, seed, listen)
			}
			return demo(ctx, env, dir, seed)
		},
	})
}

// demo runs the whole story into dir: dir/sim (chain, labels, truth),
// dir/regtest (the index), dir/report.html and dir/trace.json.
func demo(ctx context.Context, env *Env, dir string, seed uint64) error {
	start := time.Now()
	w := env.Stdout
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if !isTerminal(env.Stderr) {
		quiet = env.Log
	}
	step := func(n int, what string) { fmt.Fprintf(env.Stderr, "[%d/6] %s\n", n, what) }
	simDir := filepath.Join(dir, "sim")
	if _, err := os.Stat(filepath.Join(simDir, "blocks")); err == nil {
		return usagef("%s already holds a demo; give --data a new directory", dir)
	}

	step(1, "simulating the dmm-2024 heist on a regtest chain (real keys and signatures)")
	cfg := sim.Config{Scenario: "dmm-2024", Seed: seed, Progress: simProgress(env, "generate")}
	res, err := sim.WriteDir(ctx, cfg, simDir, quiet)
	if err != nil {
		return err
	}
	t := res.Truth

	step(2, "ingesting its blocks into the index")
	g := &globals{data: dir, network: "regtest"}
	ix, err := g.open(env)
	if err != nil {
		return err
	}
	defer ix.Close()
	if _, err := ix.IngestBlkDir(ctx, filepath.Join(simDir, "blocks"), index.IngestOptions{Progress: ingestProgress(env.Stderr, quiet, "ingest")}); err != nil {
		return err
	}

	step(3, "importing what investigators know on day one (a GraphSense TagPack)")
	st, err := labels.Import(ix.Store, ix.Net, []string{filepath.Join(simDir, "labels.yaml")}, time.Now().UTC(), quiet)
	if err != nil {
		return err
	}

	// Without clustering an arrival is wherever the exchange's label sits
	// (its hot wallet after a sweep), not the customer's deposit address
	// that the exchange must freeze: the demo clusters as an investigator
	// should before tracing.
	step(4, "clustering addresses (multi-input heuristic), so arrivals name the deposit address")
	cst, err := cluster.Build(ctx, ix, cluster.Options{}, quiet)
	if err != nil {
		return err
	}

	step(5, "tracing the theft forward under haircut and FIFO")
	f := &traceFlags{model: "haircut,fifo", direction: "forward", minSats: 1000, maxTxs: 1_000_000}
	rs, err := runTrace(ctx, env, ix, f, []string{t.TheftTxid})
	if err != nil {
		return err
	}

	step(6, "writing the report")
	scores := make([]accuracy.Score, len(rs))
	for i, r := range rs {
		scores[i] = accuracy.ScoreTrace(t, r)
	}
	theftTime, _ := time.Parse(time.RFC3339, t.TheftTime)
	notes := []string{
		fmt.Sprintf("On %s, %s BTC left DMM Bitcoin's 2-of-3 multisig hot wallet %s in one transaction spending its %d coins, paid to %s — a look-alike of the routine payee %s (same first %d characters). This chain re-enacts it on regtest; the trace below starts at that transaction.",
			theftTime.UTC().Format("2006-01-02 15:04 MST"), report.BTC(t.StolenSat), t.VictimAddress, t.VictimInputs, t.AttackerAddress, t.LookalikeOf, t.LookalikeChars),
		"Haircut spreads taint pro rata over every output of a transaction; FIFO follows the stolen satoshis in order. Where they disagree, the conclusion depends on the model.",
	}
	// The cover names the trace command that re-runs this one: the demo's
	// parameters are trace's defaults, so its result_sha256 is the same.
	g.cmdline = shellQuote([]string{"cointrail", "trace", "--data", dir, "--network", "regtest", "--model", f.model, "--format", "html", "--from", t.TheftTxid})
	rf := reportFlags{title: "cointrail demo: the DMM Bitcoin heist (simulated)", investigator: "cointrail demo", paper: "a4"}
	opt, err := rf.options(env, g, ix, "")
	if err != nil {
		return err
	}
	opt.Notes = notes
	reportPath := filepath.Join(dir, "report.html")
	if err := writeOut(env, reportPath, func(w io.Writer) error { return report.HTML(w, rs, opt) }); err != nil {
		return err
	}
	jsonPath := filepath.Join(dir, "trace.json")
	if err := writeOut(env, jsonPath, func(w io.Writer) error { return writeResultsJSON(w, rs) }); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nThe DMM Bitcoin heist, simulated (seed %d): %d blocks, %d transactions, %d labels, %d address clusters of 2+.\n\n", seed, res.Blocks, res.Txs, st.Applied, cst.Clusters)
	fmt.Fprintf(w, "Stolen: %s BTC on %s in tx %s\n  from DMM Bitcoin's 2-of-3 multisig hot wallet %s (%d coins)\n  to %s, a look-alike of its routine payee %s\n\n",
		report.BTC(t.StolenSat), theftTime.UTC().Format("2006-01-02 15:04 MST"), t.TheftTxid, t.VictimAddress, t.VictimInputs, t.AttackerAddress, t.LookalikeOf)
	printWhere(w, t, rs)
	for i, s := range scores {
		fmt.Fprintf(w, "%-8s %d hops, %d txs, %d CoinJoins, %d peel chains; tainted outputs vs truth: precision %.2f, recall %.2f\n",
			rs[i].Model, rs[i].Summary.MaxHop, rs[i].Summary.TxsVisited, rs[i].Summary.CoinJoins, len(rs[i].Summary.PeelChains), s.Precision, s.Recall)
	}
	s0 := rs[0].Summary
	fmt.Fprintf(w, "time span: %s .. %s (%s)\n", when(s0.FirstTime), when(s0.LastTime), time.Duration(s0.LastTime-s0.FirstTime)*time.Second)
	fmt.Fprintf(w, "\nreport: %s\ntrace:  %s\ndone in %s\n\ncontinue:\n", reportPath, jsonPath, time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(w, "  cointrail trace   --data %s --network regtest --model fifo,haircut,poison --from %s\n", dir, t.TheftTxid)
	fmt.Fprintf(w, "  cointrail address --data %s --network regtest %s\n", dir, t.AttackerAddress)
	fmt.Fprintf(w, "  cointrail trace   --data %s --network regtest --model fifo --format freeze --from %s   (deposits per exchange)\n", dir, t.TheftTxid)
	fmt.Fprintf(w, "  cointrail trace   --data %s --network regtest --model %s --format pdf -o %s --from %s   (the report as PDF; needs Chromium)\n", dir, f.model, filepath.Join(dir, "report.pdf"), t.TheftTxid)
	fmt.Fprintf(w, "  cointrail apikey create --data %s --network regtest --role admin\n", dir)
	fmt.Fprintf(w, "  cointrail serve   --data %s --network regtest --listen 127.0.0.1:8335   (the HTTP API over this index; add --rpc URL to follow a node)\n", dir)
	return nil
}

func when(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04Z") }

// printWhere tabulates where the stolen coins went per model beside the truth.
func printWhere(w io.Writer, t *sim.Truth, rs []*taint.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "where it went (BTC)\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t", r.Model)
	}
	fmt.Fprint(tw, "truth\t\n")
	row := func(name, truth string, f func(*taint.Result) int64) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t", report.BTC(f(r)))
		}
		fmt.Fprintf(tw, "%s\t\n", truth)
	}
	arrived := func(label string) func(*taint.Result) int64 {
		return func(r *taint.Result) int64 {
			for _, x := range r.Summary.Arrived {
				if x.Label == label {
					return x.Sat
				}
			}
			return 0
		}
	}
	known := map[string]bool{}
	for _, a := range t.Arrivals {
		known[a.Label] = true
		row(a.Label, report.BTC(a.StolenSat), arrived(a.Label))
	}
	// Services the simulation's truth does not route stolen coins to (the
	// victim's own wallet, a payee of a mixed coin) get a row each: a
	// model that sends taint there says so by name; "-" marks no truth.
	var others []string
	for _, r := range rs {
		for _, x := range r.Summary.Arrived {
			if !known[x.Label] {
				known[x.Label] = true
				others = append(others, x.Label)
			}
		}
	}
	slices.Sort(others)
	for _, l := range others {
		row(l, "-", arrived(l))
	}
	row("still unspent", report.BTC(t.UnspentSat), func(r *taint.Result) int64 { return r.Summary.UnspentSat })
	row("lost to fees", report.BTC(t.FeesSat), func(r *taint.Result) int64 { return r.Summary.FeeSat })
	row("dust, limits", report.BTC(0), func(r *taint.Result) int64 { return r.Summary.DustSat + r.Summary.StoppedSat })
	tw.Flush()
	fmt.Fprintln(w)
}
