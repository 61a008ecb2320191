package taint_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/taint"
)

// On the real index of the simulated DMM heist, with its labels, every
// model in both directions gives the same bytes streamed from the compact
// state as the in-memory reference tracer, in every format: JSON, CSV,
// text, GraphML and HTML.
func TestStreamMatchesReferenceDMM(t *testing.T) {
	ix, _, truth := testchain.DMMIndex(t, 0, true)
	g := &index.Graph{Index: ix}
	attr, err := attrib.Build(ix, nil)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := ix.ResolveSeed(truth.TheftTxid, index.SeedWindow{})
	if err != nil {
		t.Fatal(err)
	}
	var seeds []taint.Seed
	for _, o := range outs {
		seeds = append(seeds, taint.Seed{Out: o.Out, Amount: o.Amount})
	}
	// Backward from what the thief's transactions paid out: the first
	// tainted outputs of a forward trace.
	fwd, err := taint.Trace(context.Background(), g, attr, seeds, taint.DefaultParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var backSeeds []taint.Seed
	for _, o := range fwd.Outputs {
		if o.Stop == taint.StopArrival && len(backSeeds) < 3 {
			backSeeds = append(backSeeds, taint.Seed{Out: o.Out})
		}
	}
	if len(backSeeds) == 0 {
		t.Fatal("the forward trace reaches no service")
	}
	for _, dir := range []taint.Direction{taint.Forward, taint.Backward} {
		for _, variant := range []string{"default", "no limits", "fees to coinbase, max txs"} {
			p := taint.DefaultParams()
			p.Direction = dir
			sd := seeds
			if dir == taint.Backward {
				sd = backSeeds
				if variant == "fees to coinbase, max txs" {
					p.MaxTxs = 50
				}
			}
			switch variant {
			case "no limits":
				p.MinSats, p.MaxTxs, p.StopAtService = 0, 0, false
			case "fees to coinbase, max txs":
				if dir == taint.Forward {
					p.FeesToCoinbase, p.MaxTxs = true, 400
				}
			}
			var refs []*taint.Result
			var ss []*taint.TraceStream
			for _, m := range taint.AllModels {
				q := p
				q.Model = m
				ref, refErr := taint.RefTrace(context.Background(), g, attr, sd, q, nil)
				s, err := taint.Stream(context.Background(), g, attr, sd, q, taint.StreamOptions{TempDir: t.TempDir()}, nil)
				if (refErr == nil) != (err == nil) || (refErr != nil && !errors.Is(refErr, taint.ErrLimit)) || s == nil {
					t.Fatalf("%s %s %s: reference error %v, stream error %v", dir, variant, m, refErr, err)
				}
				defer s.Close()
				refs, ss = append(refs, ref), append(ss, s)
			}
			what := dir.String() + " " + variant
			compare := func(format string, want, got func(*bytes.Buffer) error) {
				var a, b bytes.Buffer
				if err := want(&a); err != nil {
					t.Fatal(err)
				}
				if err := got(&b); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatalf("%s: %s differs (%d bytes streamed, %d from the reference)", what, format, b.Len(), a.Len())
				}
				if a.Len() < 200 {
					t.Fatalf("%s: %s is only %q", what, format, a.Bytes())
				}
			}
			for i := range refs {
				compare("JSON of "+refs[i].Model.String(), func(b *bytes.Buffer) error {
					j, err := refs[i].JSON()
					b.Write(j)
					return err
				}, func(b *bytes.Buffer) error { _, err := ss[i].WriteJSON(b); return err })
			}
			results := func() []*taint.Result {
				var rs []*taint.Result
				for _, s := range ss {
					r, err := s.Result()
					if err != nil {
						t.Fatal(err)
					}
					rs = append(rs, r)
				}
				return rs
			}
			heads := func() []*taint.Result {
				var rs []*taint.Result
				for _, s := range ss {
					rs = append(rs, s.Head())
				}
				return rs
			}
			compare("JSON array", func(b *bytes.Buffer) error {
				b.WriteByte('[')
				for i, r := range refs {
					if i > 0 {
						b.WriteByte(',')
					}
					j, err := r.JSON()
					if err != nil {
						return err
					}
					b.Write(j)
				}
				b.WriteString("]\n")
				return nil
			}, func(b *bytes.Buffer) error { return taint.WriteJSONAll(b, ss) })
			compare("CSV", func(b *bytes.Buffer) error { return report.CSV(b, refs) }, func(b *bytes.Buffer) error { return report.CSVStreams(b, ss) })
			compare("text", func(b *bytes.Buffer) error { return report.Text(b, refs) }, func(b *bytes.Buffer) error { return report.Text(b, heads()) })
			compare("GraphML", func(b *bytes.Buffer) error { return report.GraphML(b, refs) }, func(b *bytes.Buffer) error { return report.GraphML(b, results()) })
			compare("HTML", func(b *bytes.Buffer) error { return report.HTML(b, refs, report.HTMLOptions{}) }, func(b *bytes.Buffer) error {
				return report.HTML(b, results(), report.HTMLOptions{})
			})
		}
	}
}
