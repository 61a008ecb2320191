package report

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
)

// The flow graph is drawn to print: hops run top to bottom, each hop a
// band of nodes side by side (several lines of them when a hop has many
// transactions), where the taint ended in the last band. A fixed design
// width that the page scales to (A4's and Letter's text widths alike)
// keeps every node, arrivals included, inside the page however many hops
// the trace has; a left-to-right line of hops ran off the right edge at
// the fifth. The drawing is cut between lines into pieces no taller than
// a page, each its own SVG showing its window of the same coordinates, so
// an edge that crosses a cut continues at the top of the next piece.
const (
	flowW        = 700 // design width; CSS scales it to the page
	flowPerLine  = 4   // nodes side by side in a band's line
	flowNodeW    = 152
	flowNodeH    = 34
	flowLineGap  = 46  // room between lines for the edges and their amounts
	flowBandHead = 18  // a band's caption
	flowPad      = 8   // margin around the drawing
	flowPieceH   = 860 // tallest piece: fits a page below a heading, A4 or Letter
)

// flowPiece is one page-sized window of the drawing.
type flowPiece struct{ y0, y1 int }

type flowCaption struct {
	y    int
	text string
}

// flowLayout places the nodes (setting each node's x, y) and returns the
// band captions, the pieces and the drawing's height.
func flowLayout(g *flow) ([]flowCaption, []flowPiece, int) {
	cols := map[int][]*flowNode{}
	maxCol := 0
	for _, n := range g.nodes {
		cols[n.col] = append(cols[n.col], n)
		maxCol = max(maxCol, n.col)
	}
	var caps []flowCaption
	cuts := []int{0} // where a piece may start: before a band or a line
	y := flowPad
	gapX := (flowW - 2*flowPad - flowPerLine*flowNodeW) / (flowPerLine - 1)
	for c := 0; c <= maxCol; c++ {
		ns := cols[c]
		if len(ns) == 0 {
			continue
		}
		sort.SliceStable(ns, func(i, j int) bool {
			if ns[i].taint != ns[j].taint {
				return ns[i].taint > ns[j].taint
			}
			return ns[i].id < ns[j].id
		})
		if y > flowPad {
			cuts = append(cuts, y-flowLineGap/2)
		}
		text := fmt.Sprintf("hop %d", c)
		switch {
		case c == 0:
			text = "hop 0: the seeds' transactions"
		case ns[0].kind != "tx" && ns[0].kind != "folded":
			text = "where the taint ended"
		}
		caps = append(caps, flowCaption{y + 12, text})
		y += flowBandHead
		for i := 0; i < len(ns); i += flowPerLine {
			line := ns[i:min(i+flowPerLine, len(ns))]
			if i > 0 {
				cuts = append(cuts, y-flowLineGap/2)
			}
			// A short line is centred, so edges into it stay near vertical.
			x := (flowW - (len(line)*flowNodeW + (len(line)-1)*gapX)) / 2
			for _, n := range line {
				n.x, n.y = x, y
				x += flowNodeW + gapX
			}
			y += flowNodeH + flowLineGap
		}
	}
	height := y - flowLineGap + flowPad
	cuts = append(cuts, height)
	var pieces []flowPiece
	start := 0
	for start < height {
		end := -1
		for _, c := range cuts {
			if c > start && c-start <= flowPieceH {
				end = c
			}
		}
		if end < 0 { // cannot happen: a line is far shorter than a piece
			end = min(start+flowPieceH, height)
		}
		pieces = append(pieces, flowPiece{start, end})
		start = end
	}
	return caps, pieces, height
}

// flowSVG draws the flow graph as one SVG per piece, each scaling to the
// page width; nodes carry their kind as a class (arrivals "arrival").
func flowSVG(g *flow) string {
	if len(g.nodes) == 0 {
		return ""
	}
	caps, pieces, _ := flowLayout(g)
	maxSat := int64(1)
	for _, e := range g.edges {
		maxSat = max(maxSat, e.sat)
	}
	type seg struct {
		x1, y1, x2, y2 int
		e              flowEdge
		label          bool
	}
	segs := make([]seg, 0, len(g.edges))
	for _, e := range g.edges {
		f, t := g.byID[e.from], g.byID[e.to]
		// Label only the edges that carry a visible share and say more
		// than the node they enter (which shows its own taint), and none of
		// the folded node's: their labels would pile up unreadably.
		label := e.sat*20 >= maxSat && f.kind != "folded" && t.kind != "folded" && (t.taint-e.sat)*100 > e.sat
		segs = append(segs, seg{f.x + flowNodeW/2, f.y + flowNodeH, t.x + flowNodeW/2, t.y, e, label})
	}
	var b strings.Builder
	for _, p := range pieces {
		h := p.y1 - p.y0
		fmt.Fprintf(&b, `<svg class="flow" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 %d %d %d" font-family="system-ui,sans-serif" font-size="11">`, flowW, h, p.y0, flowW, h)
		for _, c := range caps {
			if c.y >= p.y0 && c.y < p.y1 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#667085" font-size="10">%s</text>`, flowPad, c.y, template.HTMLEscapeString(c.text))
			}
		}
		for _, s := range segs {
			const bend = 40
			if min(s.y1, s.y2)-bend >= p.y1 || max(s.y1, s.y2)+bend <= p.y0 {
				continue
			}
			sw := 1 + 5*math.Sqrt(float64(s.e.sat)/float64(maxSat))
			fmt.Fprintf(&b, `<path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#94a3b8" stroke-opacity="0.75" stroke-width="%.1f"><title>%s BTC</title></path>`,
				s.x1, s.y1, s.x1, s.y1+bend, s.x2, s.y2-bend, s.x2, s.y2, sw, BTC(s.e.sat))
			if my := (s.y1 + s.y2) / 2; s.label && my >= p.y0 && my < p.y1 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#475569" text-anchor="middle" paint-order="stroke" stroke="#fff" stroke-width="3">%s</text>`, (s.x1+s.x2)/2, my+4, BTC(s.e.sat))
			}
		}
		for _, n := range g.nodes {
			if n.y < p.y0 || n.y >= p.y1 {
				continue
			}
			fill, stroke, class := "#e2e8f0", "#64748b", n.kind
			switch n.kind {
			case "entity":
				fill, stroke, class = "#fde68a", "#b45309", "entity arrival"
				if c, ok := categoryColor[n.category]; ok {
					stroke = c
				}
			case "unspent":
				fill, stroke = "#bbf7d0", "#15803d"
			case "stop", "folded":
				fill = "#f1f5f9"
			}
			if n.col == 0 && n.kind == "tx" {
				fill, stroke = "#fecaca", "#b91c1c"
			}
			tip := n.id
			if n.kind == "entity" {
				tip = n.label + " (" + n.category + ")"
			}
			fmt.Fprintf(&b, `<g class="node %s"><title>%s — %s BTC</title><rect x="%d" y="%d" width="%d" height="%d" rx="5" fill="%s" stroke="%s" stroke-width="%d"/>`,
				class, template.HTMLEscapeString(tip), BTC(n.taint), n.x, n.y, flowNodeW, flowNodeH, fill, stroke, map[bool]int{true: 3, false: 1}[n.kind == "entity"])
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, n.x+flowNodeW/2, n.y+14, template.HTMLEscapeString(trim(n.label, 26)))
			if n.taint > 0 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#475569">%s BTC</text>`, n.x+flowNodeW/2, n.y+27, BTC(n.taint))
			}
			b.WriteString(`</g>`)
		}
		b.WriteString(`</svg>`)
	}
	return b.String()
}

var categoryColor = map[string]string{
	"exchange": "#f59e0b", "mixing_service": "#a855f7", "mixer": "#a855f7", "coinjoin": "#a855f7",
	"gambling": "#ef4444", "market": "#ef4444",
}

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
