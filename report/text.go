package report

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// BTC renders satoshis as BTC with 8 decimals, exactly.
func BTC(sat int64) string {
	sign := ""
	if sat < 0 {
		sign, sat = "-", -sat
	}
	return fmt.Sprintf("%s%d.%08d", sign, sat/100_000_000, sat%100_000_000)
}

func when(unix int64) string {
	if unix == 0 {
		return "-"
	}
	return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04Z")
}

// Text writes a human summary of one or more results of the same seeds,
// one column per model.
func Text(w io.Writer, rs []*taint.Result) error {
	if len(rs) == 0 {
		return nil
	}
	r0 := rs[0]
	fmt.Fprintf(w, "trace %s from %d seed(s) at tip %d %s\n", r0.Params.Direction, len(r0.Seeds), r0.TipHeight, r0.TipHash)
	for _, s := range r0.Seeds {
		fmt.Fprintf(w, "  seed %s:%d  %s BTC\n", s.TxID, s.Vout, BTC(s.AmountSat))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	row := func(name string, f func(r *taint.Result) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	row("model", func(r *taint.Result) string { return r.Model.String() })
	row("traced BTC", func(r *taint.Result) string { return BTC(r.Summary.TracedSat) })
	backward := r0.Params.Direction == taint.Backward
	if backward {
		row("from services BTC", func(r *taint.Result) string { return BTC(r.Summary.ArrivedSat()) })
		row("mined BTC", func(r *taint.Result) string { return BTC(r.Summary.MinedSat) })
	} else {
		row("arrived at services BTC", func(r *taint.Result) string { return BTC(r.Summary.ArrivedSat()) })
		row("still unspent BTC", func(r *taint.Result) string { return BTC(r.Summary.UnspentSat) })
		row("lost to fees BTC", func(r *taint.Result) string { return BTC(r.Summary.FeeSat) })
	}
	row("dust BTC", func(r *taint.Result) string { return BTC(r.Summary.DustSat) })
	row("stopped at limits BTC", func(r *taint.Result) string { return BTC(r.Summary.StoppedSat) })
	row("through CoinJoins BTC", func(r *taint.Result) string { return BTC(r.Summary.InCoinJoinSat) })
	row("tainted outputs", func(r *taint.Result) string { return fmt.Sprint(r.NumOutputs()) })
	row("txs visited", func(r *taint.Result) string { return fmt.Sprint(r.Summary.TxsVisited) })
	row("max hops", func(r *taint.Result) string { return fmt.Sprint(r.Summary.MaxHop) })
	row("coinjoins / peel chains", func(r *taint.Result) string {
		return fmt.Sprintf("%d / %d", r.Summary.CoinJoins, len(r.Summary.PeelChains))
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "time span %s .. %s\n", when(r0.Summary.FirstTime), when(r0.Summary.LastTime))
	if in := r0.Inputs; in.ToolVersion != "" {
		// What the figures depend on, as the JSON's inputs record it.
		fmt.Fprintf(w, "inputs: cointrail %s, index %s, labels %s (%d files), clusters %s\n",
			in.ToolVersion, in.IndexDigest, in.LabelsDigest, len(in.LabelFiles), in.ClustersDigest)
		for _, c := range in.CapsBound {
			fmt.Fprintf(w, "note: the server's cap %s=%d stopped this trace\n", c.Param, c.Value)
		}
	}
	ents := entities(rs)
	if len(ents) > 0 {
		if backward {
			fmt.Fprintln(w, "\ncame from (BTC per model):")
		} else {
			fmt.Fprintln(w, "\narrived at (BTC per model, first block):")
		}
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, e := range ents {
			fmt.Fprintf(tw, "  %s (%s)\t", labels.Escape(e.label), labels.Escape(e.category))
			for _, r := range rs {
				a := arrival(r, e.label)
				if a == nil {
					fmt.Fprint(tw, "-\t")
				} else {
					fmt.Fprintf(tw, "%s @%d\t", BTC(a.Sat), a.FirstHeight)
				}
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, r := range rs {
		if r.Summary.Truncated {
			fmt.Fprintf(w, "\nnote: the %s trace stopped at max_txs=%d; raise --max-txs to see further\n", r.Model, r.Params.MaxTxs)
		}
	}
	if len(r0.Summary.PeelChains) > 0 {
		// One per line with the whole txid: `cointrail tx` takes it as printed.
		fmt.Fprintf(w, "\npeel chains (%s):\n", r0.Model)
		for _, p := range r0.Summary.PeelChains {
			fmt.Fprintf(w, "  %d txs peeling %s BTC, from tx %s\n", p.Length, BTC(p.PeeledSat), p.FirstTxID)
		}
	}
	return nil
}

type entityKey struct{ label, category string }

// entities lists every arrival entity of any result, ordered by the first
// result's amounts (largest first), then by label.
func entities(rs []*taint.Result) []entityKey {
	seen := map[string]bool{}
	var out []entityKey
	for _, r := range rs {
		for _, a := range r.Summary.Arrived {
			if !seen[a.Label] {
				seen[a.Label] = true
				out = append(out, entityKey{a.Label, a.Category})
			}
		}
	}
	return out
}

func arrival(r *taint.Result, label string) *taint.Arrival {
	for i := range r.Summary.Arrived {
		if r.Summary.Arrived[i].Label == label {
			return &r.Summary.Arrived[i]
		}
	}
	return nil
}
