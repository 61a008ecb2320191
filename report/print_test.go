package report_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/internal/printcheck"
	"github.com/cointrail/cointrail/report"
	"github.com/cointrail/cointrail/taint"
)

// chromium is the browser the print tests render in; scripts/install-test-deps.sh installs Debian's.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	b, err := report.Browser(os.Getenv)
	if err != nil {
		t.Fatalf("%v (scripts/install-test-deps.sh installs it)", err)
	}
	return b
}

// longTrail is the shape that ran off the page: eight branches peeling
// for 24 hops each, every peel paying one of 16 services, with fan-outs
// of 40 outputs on the way, so the trace has many hops, many arrivals and
// hundreds of outputs to list.
func longTrail(t *testing.T) []*taint.Result {
	t.Helper()
	g := taint.NewMemGraph()
	attr := taint.MemAttribution{}
	addr := uint32(1)
	next := func() uint32 { addr++; return addr }
	cb := g.AddBlock(1717129200, taint.MemOut{Value: 4_502_9000_0000, Addr: 1})
	g.AddBlock(1717129800)
	split := make([]taint.MemOut, 8)
	for i := range split {
		split[i] = taint.MemOut{Value: 562_0000_0000, Addr: next()}
	}
	tx, err := g.AddTx([]uint64{g.Out(cb, 0)}, split...)
	if err != nil {
		t.Fatal(err)
	}
	for b := range 8 {
		prev, value := g.Out(tx, uint32(b)), int64(562_0000_0000)
		for hop := range 24 {
			if hop%3 == 0 {
				g.AddBlock(1717129800 + int64(600*(hop+1)))
			}
			peel, svc := value/40, next()
			attr[svc] = taint.Entity{Label: fmt.Sprintf("Service %02d", (b*24+hop)%16), Category: "exchange"}
			outs := []taint.MemOut{{Value: peel, Addr: svc}, {Value: value - peel - 1000, Addr: next()}}
			if hop == 10 {
				// A fan-out: 40 small unspent outputs beside the change.
				each := (value - peel - 1000) / 80
				outs[1].Value -= 40 * each
				for range 40 {
					outs = append(outs, taint.MemOut{Value: each, Addr: next()})
				}
			}
			id, err := g.AddTx([]uint64{prev}, outs...)
			if err != nil {
				t.Fatal(err)
			}
			prev, value = g.Out(id, 1), outs[1].Value
		}
	}
	p := taint.DefaultParams()
	rs, err := taint.TraceModels(context.Background(), g, attr, []taint.Seed{{Out: g.Out(cb, 0)}}, p, []taint.Model{taint.Haircut, taint.FIFO}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestReportPrints renders the report in Chromium on A4 and Letter: the
// PDF has that paper on every page and as many pages as listing every
// output takes; nothing is wider than the page, the flow graph's pieces
// fit a page each, and every arrival's node is drawn inside the page.
func TestReportPrints(t *testing.T) {
	browser := chromium(t)
	rs := longTrail(t)
	arrivals := 0
	for _, r := range rs {
		arrivals += len(r.Summary.Arrived)
		if r.Summary.MaxHop < 20 || len(r.Summary.Arrived) < 16 {
			t.Fatalf("%s: the trail has %d hops and %d services, want 20+ and 16", r.Model, r.Summary.MaxHop, len(r.Summary.Arrived))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, paper := range report.Papers {
		t.Run(paper, func(t *testing.T) {
			var html bytes.Buffer
			opt := report.HTMLOptions{Title: "Case 7: the long trail", Investigator: "Det. A. Example", Paper: paper,
				Command: "cointrail trace --from 3b1f…:0", Generated: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
			if err := report.HTML(&html, rs, opt); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Det. A. Example", "2026-12-05T10:00:00Z", "cointrail trace --from", rs[0].Inputs.IndexDigest, "page \" counter(page) \" of \" counter(pages)"} {
				if !strings.Contains(html.String(), want) {
					t.Errorf("the report lacks %q", want)
				}
			}
			rows := strings.Count(html.String(), "<tr")
			if outs := len(rs[0].Outputs) + len(rs[1].Outputs); rows < outs {
				t.Fatalf("%d table rows for %d outputs: not every output is listed", rows, outs)
			}
			path := filepath.Join(t.TempDir(), "report.html")
			if err := os.WriteFile(path, html.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			size := printcheck.Papers[paper]
			l, err := printcheck.Measure(ctx, browser, path, size)
			if err != nil {
				t.Fatal(err)
			}
			if l.ScrollW > l.ViewportW+0.5 {
				t.Errorf("the report is %.0f px wide on a page of %.0f px: it runs off the page", l.ScrollW, l.ViewportW)
			}
			if len(l.Arrivals) != arrivals {
				t.Errorf("%d arrival nodes drawn, want %d (one per service per model)", len(l.Arrivals), arrivals)
			}
			for _, a := range l.Arrivals {
				if a.Left < 0 || a.Right > l.ViewportW+0.5 {
					t.Errorf("arrival node %q at x %.0f..%.0f lies outside the page (0..%.0f)", a.Name, a.Left, a.Right, l.ViewportW)
				}
			}
			if len(l.Pieces) < 2 {
				t.Errorf("a %d-hop graph drawn in %d piece(s): it should be cut to pages", rs[0].Summary.MaxHop, len(l.Pieces))
			}
			for _, h := range l.Pieces {
				if h > size.TextH {
					t.Errorf("a flow graph piece is %.0f px tall, the page's text area %.0f", h, size.TextH)
				}
			}

			var pdf bytes.Buffer
			if err := report.PDF(ctx, &pdf, html.Bytes(), browser); err != nil {
				t.Fatal(err)
			}
			if d := os.Getenv("COINTRAIL_KEEP_PDF"); d != "" {
				os.WriteFile(filepath.Join(d, paper+".pdf"), pdf.Bytes(), 0o644)
				os.WriteFile(filepath.Join(d, paper+".html"), html.Bytes(), 0o644)
			}
			pages, boxes := printcheck.Pages(pdf.Bytes())
			// The cover, then each model from a new page, then its tables'
			// rows (two lines each: txid and address): at 7.5 pt no page holds
			// 80, and none should hold fewer than 25.
			lo, hi := 1+len(rs)+rows/80, 4+3*len(rs)+rows/25
			t.Logf("%s: %d pages for %d table rows, %d graph pieces", paper, pages, rows, len(l.Pieces))
			if pages < lo || pages > hi {
				t.Errorf("%d pages for %d rows: want %d..%d", pages, rows, lo, hi)
			}
			if len(boxes) != pages {
				t.Errorf("%d pages but %d page sizes", pages, len(boxes))
			}
			for _, b := range boxes {
				w, _ := strconv.ParseFloat(b[0], 64)
				h, _ := strconv.ParseFloat(b[1], 64)
				if math.Abs(w-size.PointW) > 1 || math.Abs(h-size.PointH) > 1 {
					t.Fatalf("a page is %sx%s pt, want %s (%.0fx%.0f)", b[0], b[1], paper, size.PointW, size.PointH)
				}
			}
		})
	}
}
