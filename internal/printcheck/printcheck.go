// Package printcheck measures how an HTML report prints, in the headless
// Chromium that PDF export uses, for the tests of the report and the
// demo: the PDF's pages and paper, and where the flow graph's arrival
// nodes lie in the page's text area.
package printcheck

import (
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/cointrail/cointrail/report"
)

// Paper is a page size in CSS pixels (96 per inch) of the area inside the
// report's margins (14 mm top, 12 mm sides, 16 mm bottom), and the PDF's
// page size in points.
type Paper struct {
	TextW, TextH   float64
	PointW, PointH float64
}

// Papers by the report's names.
var Papers = map[string]Paper{
	"a4":     {TextW: mm(210 - 24), TextH: mm(297 - 30), PointW: 595.92, PointH: 842.88},
	"letter": {TextW: mm(215.9 - 24), TextH: mm(279.4 - 30), PointW: 612, PointH: 792},
}

func mm(v float64) float64 { return v / 25.4 * 96 }

// Rect is an element's box in CSS pixels.
type Rect struct {
	Left, Right, Top, Bottom float64
	Name                     string
}

// Layout is what Measure found.
type Layout struct {
	ViewportW   float64 // the text width the page was laid out at
	ScrollW     float64 // the document's width: more than ViewportW overflows the page
	Arrivals    []Rect  // the flow graph's arrival nodes
	Pieces      []float64
	ArrivalRows int // rows of the arrivals tables
}

// Measure lays out the HTML file at path as Chromium prints it on paper
// (print media, the page's text width) and measures it.
func Measure(ctx context.Context, browser, path string, paper Paper) (Layout, error) {
	dir, err := os.MkdirTemp("", "cointrail-printcheck-")
	if err != nil {
		return Layout{}, err
	}
	defer os.RemoveAll(dir)
	tctx, cancel := report.BrowserContext(ctx, browser, dir)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(int64(paper.TextW), int64(paper.TextH))); err != nil {
		return Layout{}, fmt.Errorf("printcheck: %w", err)
	}
	if _, err := chromedp.Call(tctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		return Layout{}, fmt.Errorf("printcheck: %w", err)
	}
	if err := chromedp.Do(tctx, chromedp.Navigate("file://"+path)); err != nil {
		return Layout{}, fmt.Errorf("printcheck: %s: %w", path, err)
	}
	l, err := chromedp.Run(tctx, chromedp.Evaluate[Layout](`(() => {
		const d = document.documentElement;
		const box = e => { const r = e.getBoundingClientRect(); return {Left: r.left, Right: r.right, Top: r.top, Bottom: r.bottom, Name: (e.querySelector('title')||{}).textContent || ''}; };
		return {
			ViewportW: d.clientWidth, ScrollW: d.scrollWidth,
			Arrivals: [...document.querySelectorAll('svg.flow .node.arrival')].map(box),
			Pieces: [...document.querySelectorAll('svg.flow')].map(e => e.getBoundingClientRect().height),
			ArrivalRows: document.querySelectorAll('tr.arrival').length,
		};
	})()`))
	if err != nil {
		return l, fmt.Errorf("printcheck: %s: %w", path, err)
	}
	return l, nil
}

var (
	pageObj  = regexp.MustCompile(`/Type\s*/Page\b[^s]`)
	mediaBox = regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`)
)

// Pages counts a PDF's page objects and returns the size of each page
// that names its MediaBox (Chromium writes both uncompressed).
func Pages(pdf []byte) (int, [][2]string) {
	var boxes [][2]string
	for _, m := range mediaBox.FindAllSubmatch(pdf, -1) {
		boxes = append(boxes, [2]string{string(m[1]), string(m[2])})
	}
	return len(pageObj.FindAll(pdf, -1)), boxes
}
