package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// HTMLOptions adds context to the HTML report.
type HTMLOptions struct {
	Title string
	// Notes are paragraphs shown under the title (e.g. the demo's story).
	Notes []string
	// MaxGraphTxs bounds the transactions drawn in the flow graph; the rest
	// fold into one node (default 40).
	MaxGraphTxs int
	// MaxRows bounds the rows of the outputs table (default 500).
	MaxRows int
}

// HTML writes one self-contained HTML file (no external resources): a
// summary comparing the models, then per model a flow graph (SVG: seeds on
// the left, where the taint ended on the right, amounts on the edges,
// labelled entities highlighted) and tables of arrivals and outputs.
func HTML(w io.Writer, rs []*taint.Result, opt HTMLOptions) error {
	if opt.MaxGraphTxs <= 0 {
		opt.MaxGraphTxs = 40
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = 500
	}
	if opt.Title == "" {
		opt.Title = "cointrail trace"
	}
	var summary strings.Builder
	if err := Text(&summary, rs); err != nil {
		return err
	}
	type section struct {
		R        *taint.Result
		SVG      template.HTML
		Rows     []taint.TaintedOutput
		More     int
		Hash     string
		Arrived  int64
		Deposits []Deposit
		Seizable []Seizable
	}
	var secs []section
	for _, r := range rs {
		rows := r.Outputs
		more := 0
		if len(rows) > opt.MaxRows {
			// Show terminal outputs first: they answer "where is it now".
			sorted := append([]taint.TaintedOutput(nil), rows...)
			sort.SliceStable(sorted, func(i, j int) bool {
				ti, tj := sorted[i].Stop != taint.StopFollowed, sorted[j].Stop != taint.StopFollowed
				if ti != tj {
					return ti
				}
				return sorted[i].TaintSat > sorted[j].TaintSat
			})
			more = len(rows) - opt.MaxRows
			rows = sorted[:opt.MaxRows]
		}
		j, err := r.JSON()
		if err != nil {
			return err
		}
		hash := ""
		if i := strings.LastIndex(string(j), `"result_sha256":"`); i >= 0 {
			hash = string(j[i+17 : len(j)-2])
		}
		sec := section{R: r, SVG: template.HTML(flowSVG(buildFlow(r, opt.MaxGraphTxs))), Rows: rows, More: more, Hash: hash, Arrived: r.Summary.ArrivedSat()}
		if r.Params.Direction == taint.Forward {
			src := resultSources([]*taint.Result{r})[0]
			if sec.Deposits, err = src.deposits(); err != nil {
				return err
			}
			if sec.Seizable, err = src.seizable(); err != nil {
				return err
			}
			if len(sec.Seizable) > opt.MaxRows {
				sec.Seizable = sec.Seizable[:opt.MaxRows]
			}
		}
		secs = append(secs, sec)
	}
	return htmlTmpl.Execute(w, map[string]any{"Opt": opt, "Summary": summary.String(), "Secs": secs})
}

var htmlTmpl = template.Must(template.New("r").Funcs(template.FuncMap{"btc": BTC, "clean": labels.Escape}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{clean .Opt.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;max-width:1400px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
pre{background:#f5f7fa;padding:12px;overflow-x:auto;font-size:12.5px}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px}td,th{border:1px solid #d8dde6;padding:3px 7px;text-align:left}
th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.svgwrap{overflow-x:auto;border:1px solid #d8dde6;background:#fff}
.arrival{background:#fff1e0}.unspent{background:#e8f6ec}code{font-size:12px}
.muted{color:#667085}
</style></head><body>
<h1>{{clean .Opt.Title}}</h1>
{{range .Opt.Notes}}<p>{{clean .}}</p>{{end}}
<h2>Summary</h2><pre>{{.Summary}}</pre>
{{range .Secs}}
<h2>Model: {{.R.Model}}</h2>
<p class="muted">direction {{.R.Params.Direction}}, max hops {{.R.Params.MaxHops}}, min sats {{.R.Params.MinSats}}, max txs {{.R.Params.MaxTxs}}, tip {{.R.TipHeight}} <code>{{.R.TipHash}}</code><br>result_sha256 <code>{{.Hash}}</code></p>
<table class="inputs"><tr><th colspan="2">inputs (re-run with <code>cointrail verify-result</code>)</th></tr>
<tr><td>tool version</td><td><code>{{.R.Inputs.ToolVersion}}</code></td></tr>
<tr><td>index digest</td><td><code>{{.R.Inputs.IndexDigest}}</code></td></tr>
<tr><td>labels</td><td><code>{{.R.Inputs.LabelsDigest}}</code>{{range .R.Inputs.LabelFiles}}<br>file <code>{{.FileSHA256}}</code> ({{clean .Format}}, {{.Labels}} labels){{end}}</td></tr>
<tr><td>clusters</td><td><code>{{.R.Inputs.ClustersDigest}}</code>{{with .R.Inputs.ClusterTip}} (clustered tip {{.Height}}, {{.Addresses}} addresses, {{.Merges}} merges){{end}}</td></tr>
<tr><td>seeds</td><td>{{range .R.Inputs.Seeds}}<code>{{clean .}}</code> {{end}}{{if or .R.Inputs.SeedFromHeight .R.Inputs.SeedToHeight}}(heights {{.R.Inputs.SeedFromHeight}}..{{.R.Inputs.SeedToHeight}}){{end}}</td></tr>
<tr><td>parameters</td><td>stop at CoinJoins {{.R.Params.StopAtCoinJoin}}, stop at services {{.R.Params.StopAtService}}, fees to coinbase {{.R.Params.FeesToCoinbase}}, heights {{.R.Params.FromHeight}}..{{.R.Params.ToHeight}}, times {{.R.Params.FromTime}}..{{.R.Params.ToTime}}</td></tr>
{{if .R.Inputs.CapsBound}}<tr><td>server caps that bound</td><td>{{range .R.Inputs.CapsBound}}{{.Param}} {{.Value}} {{end}}</td></tr>{{end}}
</table>
<p>Traced {{btc .R.Summary.TracedSat}} BTC: {{btc .Arrived}} BTC reached services, {{btc .R.Summary.UnspentSat}} BTC still unspent, {{btc .R.Summary.FeeSat}} BTC lost to fees.</p>
<div class="svgwrap">{{.SVG}}</div>
{{if .R.Summary.Arrived}}<table><tr><th>entity</th><th>category</th><th>BTC</th><th>first block</th></tr>
{{range .R.Summary.Arrived}}<tr class="arrival"><td>{{clean .Label}}</td><td>{{clean .Category}}</td><td class="n">{{btc .Sat}}</td><td class="n">{{.FirstHeight}}</td></tr>{{end}}</table>{{end}}
{{if .Deposits}}<h3>Deposits to freeze</h3><table><tr><th>entity</th><th>address</th><th>txid:vout</th><th>height</th><th>time (UTC)</th><th>taint BTC</th><th>hops</th></tr>
{{range .Deposits}}<tr class="arrival"><td>{{clean .Entity}}</td><td><code>{{.Address}}</code></td><td><code>{{.TxID}}:{{.Vout}}</code></td><td class="n">{{.Height}}</td><td>{{.Time}}</td><td class="n">{{btc .TaintSat}}</td><td class="n">{{.Hops}}</td></tr>{{end}}</table>{{end}}
{{if .Seizable}}<h3>Seizable: unspent tainted outputs</h3><table><tr><th>address</th><th>txid:vout</th><th>height</th><th>time (UTC)</th><th>taint BTC</th><th>label</th></tr>
{{range .Seizable}}<tr class="unspent"><td><code>{{.Address}}</code></td><td><code>{{.TxID}}:{{.Vout}}</code></td><td class="n">{{.Height}}</td><td>{{.Time}}</td><td class="n">{{btc .TaintSat}}</td><td>{{clean .Label}}</td></tr>{{end}}</table>{{end}}
<table><tr><th>txid:vout</th><th>address</th><th>value BTC</th><th>taint BTC</th><th>hops</th><th>spent</th><th>stop</th><th>label</th><th>time (UTC)</th></tr>
{{range .Rows}}<tr{{if eq .Stop.String "arrival"}} class="arrival"{{else if eq .Stop.String "unspent"}} class="unspent"{{end}}><td><code>{{.TxID}}:{{.Vout}}</code></td><td><code>{{.Address}}</code></td><td class="n">{{btc .ValueSat}}</td><td class="n">{{btc .TaintSat}}</td><td class="n">{{.Hops}}</td><td>{{.Spent}}</td><td>{{.Stop}}</td><td>{{clean .Label}}</td><td>{{.Time}}</td></tr>{{end}}
</table>{{if .More}}<p class="muted">{{.More}} more outputs not shown (the JSON and CSV formats list all).</p>{{end}}
{{end}}
<p class="muted">Generated by cointrail. The same command on an index with the inputs above (the same index digest, labels and clusters, the same tool version) writes a byte-identical file; <code>cointrail verify-result</code> re-runs the trace's JSON and names any input that differs.</p>
</body></html>
`))

var categoryColor = map[string]string{
	"exchange": "#f59e0b", "mixing_service": "#a855f7", "mixer": "#a855f7", "coinjoin": "#a855f7",
	"gambling": "#ef4444", "market": "#ef4444",
}

// flowSVG lays the flow graph out in columns by hop.
func flowSVG(g *flow) string {
	cols := map[int][]*flowNode{}
	maxCol := 0
	for _, n := range g.nodes {
		cols[n.col] = append(cols[n.col], n)
		maxCol = max(maxCol, n.col)
	}
	const colW, rowH, nodeW, nodeH, padX, padY = 230, 46, 150, 30, 20, 20
	maxRows := 0
	for c, ns := range cols {
		sort.SliceStable(ns, func(i, j int) bool {
			if ns[i].taint != ns[j].taint {
				return ns[i].taint > ns[j].taint
			}
			return ns[i].id < ns[j].id
		})
		for i, n := range ns {
			n.row = i
		}
		cols[c] = ns
		maxRows = max(maxRows, len(ns))
	}
	width := padX*2 + (maxCol+1)*colW
	height := padY*2 + maxRows*rowH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui,sans-serif" font-size="11">`, width, height, width, height)
	pos := func(n *flowNode) (x, y int) { return padX + n.col*colW, padY + n.row*rowH }
	maxSat := int64(1)
	for _, e := range g.edges {
		maxSat = max(maxSat, e.sat)
	}
	for _, e := range g.edges {
		f, t := g.byID[e.from], g.byID[e.to]
		x1, y1 := pos(f)
		x2, y2 := pos(t)
		x1 += nodeW
		y1 += nodeH / 2
		y2 += nodeH / 2
		sw := 1 + 5*math.Sqrt(float64(e.sat)/float64(maxSat))
		mx := (x1 + x2) / 2
		fmt.Fprintf(&b, `<path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="#94a3b8" stroke-opacity="0.75" stroke-width="%.1f"><title>%s BTC</title></path>`, x1, y1, mx, y1, mx, y2, x2, y2, sw, BTC(e.sat))
		// Label only the edges that carry a visible share, and none of the
		// folded node's: their labels would pile up unreadably.
		if e.sat*50 >= maxSat && f.kind != "folded" && t.kind != "folded" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#475569" text-anchor="middle" paint-order="stroke" stroke="#fff" stroke-width="3">%s</text>`, mx, (y1+y2)/2-3, BTC(e.sat))
		}
	}
	for _, n := range g.nodes {
		x, y := pos(n)
		fill, stroke := "#e2e8f0", "#64748b"
		switch n.kind {
		case "entity":
			fill, stroke = "#fde68a", "#b45309"
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
		fmt.Fprintf(&b, `<g><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="5" fill="%s" stroke="%s" stroke-width="%d"/>`, template.HTMLEscapeString(n.id), x, y, nodeW, nodeH, fill, stroke, map[bool]int{true: 3, false: 1}[n.kind == "entity"])
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, x+nodeW/2, y+13, template.HTMLEscapeString(trim(n.label, 26)))
		if n.taint > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#475569">%s BTC</text>`, x+nodeW/2, y+25, BTC(n.taint))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
