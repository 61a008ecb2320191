package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/taint"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// traceFlags are the flags of `trace` (and of the demo's traces).
type traceFlags struct {
	from                           stringList
	model, direction, format, out  string
	maxHops, maxTxs                int
	minSats                        int64
	fromHeight, toHeight           uint
	fromTime, toTime               string
	seedFromHeight, seedToHeight   uint
	stopAtCoinJoin, feesToCoinbase bool
	noStopAtService                bool
	report                         reportFlags
}

func (f *traceFlags) register(fs *flag.FlagSet) {
	f.from = nil // repeatable: Main may run in-process more than once
	fs.Var(&f.from, "from", "seed: TXID:VOUT, TXID (all outputs) or ADDRESS, optionally @SATS; repeatable (seeds may also follow the flags)")
	fs.StringVar(&f.model, "model", "haircut", "poison, haircut, fifo, lifo or tiho; several comma-separated run side by side")
	fs.StringVar(&f.direction, "direction", "forward", "forward (where did it go) or backward (where did it come from)")
	fs.StringVar(&f.format, "format", "text", "text, json, csv, graphml, html (the printable report), pdf (that report printed by a local Chromium), freeze (deposits per entity, CSV), freeze-json, seizable (unspent tainted outputs, CSV) or seizable-json")
	fs.StringVar(&f.out, "o", "", "write to this file instead of standard output")
	fs.IntVar(&f.maxHops, "max-hops", 0, "stop this many transactions from a seed (0: no limit)")
	fs.IntVar(&f.maxTxs, "max-txs", 1_000_000, "visit at most this many transactions; a larger trace fails with a limit error")
	fs.Int64Var(&f.minSats, "min-sats", 1000, "dust threshold: outputs carrying less taint are not followed")
	fs.UintVar(&f.fromHeight, "from-height", 0, "only follow into transactions at or above this height")
	fs.UintVar(&f.toHeight, "to-height", 0, "only follow into transactions at or below this height (0: no limit)")
	fs.StringVar(&f.fromTime, "from-time", "", "only follow into transactions at or after this time (RFC 3339 or unix seconds)")
	fs.StringVar(&f.toTime, "to-time", "", "only follow into transactions at or before this time")
	fs.UintVar(&f.seedFromHeight, "seed-from-height", 0, "address seeds: only outputs received at or above this height")
	fs.UintVar(&f.seedToHeight, "seed-to-height", 0, "address seeds: only outputs received at or below this height")
	fs.BoolVar(&f.stopAtCoinJoin, "stop-at-coinjoin", false, "stop at CoinJoins instead of passing through them (annotated either way)")
	fs.BoolVar(&f.feesToCoinbase, "fees-to-coinbase", false, "follow tainted fees into the block's coinbase (subsidy clean) instead of reporting them lost")
	fs.BoolVar(&f.noStopAtService, "no-stop-at-service", false, "go on through labelled services instead of stopping there")
	f.report.register(fs)
}

func parseTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	var u int64
	if _, err := fmt.Sscan(s, &u); err == nil && fmt.Sprint(u) == s {
		return u, nil
	}
	return 0, usagef("time %q: want RFC 3339 (2024-05-31T00:00:00Z) or unix seconds", s)
}

// params turns the flags into trace parameters and models.
func (f *traceFlags) params() (taint.Params, []taint.Model, error) {
	p := taint.DefaultParams()
	models, err := taint.ParseModels(f.model)
	if err != nil {
		return p, nil, usagef("%v", err)
	}
	if p.Direction, err = taint.ParseDirection(f.direction); err != nil {
		return p, nil, usagef("%v", err)
	}
	p.MaxHops, p.MaxTxs, p.MinSats = f.maxHops, f.maxTxs, f.minSats
	p.FromHeight, p.ToHeight = uint32(f.fromHeight), uint32(f.toHeight)
	if p.FromTime, err = parseTime(f.fromTime); err != nil {
		return p, nil, err
	}
	if p.ToTime, err = parseTime(f.toTime); err != nil {
		return p, nil, err
	}
	p.StopAtCoinJoin, p.FeesToCoinbase, p.StopAtService = f.stopAtCoinJoin, f.feesToCoinbase, !f.noStopAtService
	p.Model = models[0]
	return p, models, nil
}

// traceSetup resolves the seeds and loads the attribution a trace stops at.
func traceSetup(ix *index.Index, f *traceFlags, seedArgs []string) ([]taint.Seed, *attrib.Map, error) {
	if len(seedArgs) == 0 {
		return nil, nil, usagef("give at least one seed with --from (TXID:VOUT, TXID or ADDRESS)")
	}
	var seeds []taint.Seed
	w := index.SeedWindow{FromHeight: uint32(f.seedFromHeight), ToHeight: uint32(f.seedToHeight)}
	for _, s := range seedArgs {
		outs, err := ix.ResolveSeed(s, w)
		if err != nil {
			return nil, nil, argError(err)
		}
		for _, o := range outs {
			seeds = append(seeds, taint.Seed{Out: o.Out, Amount: o.Amount})
		}
	}
	attr, err := attrib.Build(ix, nil)
	return seeds, attr, err
}

// evidence computes the inputs a result records (see taint.Inputs).
func (f *traceFlags) evidence(ctx context.Context, ix *index.Index, seedArgs []string) (taint.Inputs, error) {
	return attrib.Evidence(ctx, ix, seedArgs, index.SeedWindow{FromHeight: uint32(f.seedFromHeight), ToHeight: uint32(f.seedToHeight)})
}

// runTrace resolves seeds and runs the trace for every model.
func runTrace(ctx context.Context, env *Env, ix *index.Index, f *traceFlags, seedArgs []string) ([]*taint.Result, error) {
	p, models, err := f.params()
	if err != nil {
		return nil, err
	}
	seeds, attr, err := traceSetup(ix, f, seedArgs)
	if err != nil {
		return nil, err
	}
	if p.Inputs, err = f.evidence(ctx, ix, seedArgs); err != nil {
		return nil, err
	}
	if isTerminal(env.Stderr) {
		var last time.Time
		p.Progress = func(n int) {
			if time.Since(last) > 200*time.Millisecond {
				fmt.Fprintf(env.Stderr, "\rtracing: %d transactions visited", n)
				last = time.Now()
			}
		}
		defer fmt.Fprint(env.Stderr, "\r\033[K")
	}
	return taint.TraceModels(ctx, &index.Graph{Index: ix}, attr, seeds, p, models, env.Log)
}

// writeResultsJSON writes results as `trace --format json` does: the
// canonical result, or a JSON array of them for several models.
func writeResultsJSON(w io.Writer, rs []*taint.Result) error {
	var buf bytes.Buffer
	if len(rs) > 1 {
		buf.WriteByte('[')
	}
	for i, r := range rs {
		b, err := r.JSON()
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	if len(rs) > 1 {
		buf.WriteByte(']')
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// writeOut writes via fn to path or to stdout when path is "". A file is
// written through a buffer to PATH.tmp and renamed over path when complete,
// so a failed or interrupted run never leaves half a result under the name
// asked for, and the result is never held in memory.
func writeOut(env *Env, path string, fn func(io.Writer) error) error {
	if path == "" {
		return fn(env.Stdout)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// runTraceStreams is runTrace keeping each model's result as a
// TraceStream (compact state, nothing rendered). The caller closes them.
// Every model is traced before anything is written. A model that reaches
// --max-txs keeps its truncated (consistent) result; the error is then a
// *limitError, returned with the streams, for the caller to write them
// and fail after.
func runTraceStreams(ctx context.Context, env *Env, ix *index.Index, f *traceFlags, seedArgs []string) ([]*taint.TraceStream, error) {
	p, models, err := f.params()
	if err != nil {
		return nil, err
	}
	seeds, attr, err := traceSetup(ix, f, seedArgs)
	if err != nil {
		return nil, err
	}
	if p.Inputs, err = f.evidence(ctx, ix, seedArgs); err != nil {
		return nil, err
	}
	if isTerminal(env.Stderr) {
		var last time.Time
		p.Progress = func(n int) {
			if time.Since(last) > 200*time.Millisecond {
				fmt.Fprintf(env.Stderr, "\rtracing: %d transactions visited", n)
				last = time.Now()
			}
		}
		defer fmt.Fprint(env.Stderr, "\r\033[K")
	}
	var ss []*taint.TraceStream
	var limited []string
	for _, m := range models {
		q := p
		q.Model = m
		s, err := taint.Stream(ctx, &index.Graph{Index: ix}, attr, seeds, q, taint.StreamOptions{}, env.Log)
		if errors.Is(err, taint.ErrLimit) && s != nil {
			// The truncated result is consistent (what was not followed
			// stops with "limit"): it is written, and the error after it
			// says so and how to go further.
			limited = append(limited, m.String())
			err = nil
		}
		if err != nil {
			if s != nil {
				s.Close()
			}
			closeStreams(ss)
			return nil, fmt.Errorf("model %s: %w", m, err)
		}
		ss = append(ss, s)
	}
	if len(limited) > 0 {
		return ss, &limitError{models: limited, maxTxs: p.MaxTxs}
	}
	return ss, nil
}

// limitError: the trace of models reached --max-txs. Its result is
// partial but written; the message says how to go further.
type limitError struct {
	models []string
	maxTxs int
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%v: %s stopped after --max-txs %d transactions; the result written is partial (summary.truncated, outputs not followed have stop \"limit\"): "+
		"raise it (--max-txs %d) or bound the trace (--max-hops N, --min-sats S, --to-height H)", taint.ErrLimit, strings.Join(e.models, ", "), e.maxTxs, 2*e.maxTxs)
}

func (e *limitError) Unwrap() error { return taint.ErrLimit }

func closeStreams(ss []*taint.TraceStream) {
	for _, s := range ss {
		s.Close()
	}
}

// traceFormats: the formats WriteStreams renders (those the API offers
// too) and pdf, which prints the HTML report in a local Chromium.
var traceFormats = strings.Join(report.Formats, ", ") + " or pdf"

func init() {
	f := &traceFlags{}
	register(&command{
		name:    "trace",
		summary: "follow funds forward or backward under taint models (poison, haircut, fifo, lifo, tiho)",
		usage:   "[--from] SEED...",
		flags:   f.register,
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if g.json {
				f.format = "json"
			}
			p, _, err := f.params()
			if err != nil {
				return err
			}
			browser := ""
			switch {
			case f.format == "pdf":
				if browser, err = report.Browser(env.Getenv); err != nil {
					return err
				}
			case !slices.Contains(report.Formats, f.format):
				return usagef("unknown --format %q (want %s)", f.format, traceFormats)
			case (strings.HasPrefix(f.format, "freeze") || strings.HasPrefix(f.format, "seizable")) && p.Direction != taint.Forward:
				return usagef("--format %s lists where the taint went: it needs --direction forward", f.format)
			}
			if err := f.report.check(); err != nil {
				return err
			}
			return g.withReader(env, func(ix *index.Index) error {
				seedArgs := append(append([]string(nil), f.from...), args...)
				opt, err := f.report.options(env, g, ix, "cointrail trace "+strings.Join(seedArgs, " "))
				if err != nil {
					return err
				}
				ss, err := runTraceStreams(ctx, env, ix, f, seedArgs)
				var lim *limitError
				if err != nil && !errors.As(err, &lim) {
					return err
				}
				defer closeStreams(ss)
				if err := writeOut(env, f.out, func(w io.Writer) error {
					if f.format == "pdf" {
						return writePDF(ctx, w, ss, opt, browser)
					}
					return report.WriteStreams(w, ss, f.format, opt)
				}); err != nil {
					return err
				}
				clusterNotice(env.Stderr, g, ix.Tip(), ss[0].Head().Inputs)
				if lim != nil {
					return lim // after the partial result: it says how to go further
				}
				return nil
			})
		},
	})
}

// clusterNotice tells the investigator on stderr when the attribution
// behind the result lacks the clustering or lags the index: exchange
// deposit addresses are found through clustering, so without it arrivals
// are at labelled addresses only (an exchange's hot wallet after its
// sweep rather than the customer's deposit).
func clusterNotice(w io.Writer, g *globals, tip index.Tip, in taint.Inputs) {
	switch {
	case in.ClustersDigest == "none":
		fmt.Fprintf(w, "note: this index has no address clustering: arrivals are at labelled addresses only, not the deposit addresses clustering attributes to them; run `cointrail cluster build --data %s --network %s` and trace again\n", g.data, g.network)
	case in.ClusterTip == nil:
		fmt.Fprintf(w, "note: the clustering is not usable (%s): arrivals are at labelled addresses only; run `cointrail cluster build --data %s --network %s`\n", in.ClustersDigest, g.data, g.network)
	case !tip.Empty && in.ClusterTip.Height < int64(tip.Height):
		fmt.Fprintf(w, "note: the clustering is at height %d, the index at %d: addresses first seen after %d are attributed by labels only; run `cointrail cluster update --data %s --network %s`\n",
			in.ClusterTip.Height, tip.Height, in.ClusterTip.Height, g.data, g.network)
	}
}
