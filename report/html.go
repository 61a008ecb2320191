package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// HTMLOptions adds context to the HTML report.
type HTMLOptions struct {
	Title string
	// Investigator, Command (the command line that wrote the report) and
	// Generated (zero: not recorded) go on the cover.
	Investigator string
	Command      string
	Generated    time.Time
	// Paper is the printed page: "a4" (the default) or "letter".
	Paper string
	// LabelSources names the imported label files on the cover, by the
	// files' SHA-256 (the result records only the digests).
	LabelSources map[string]string
	// Notes are paragraphs shown under the title (e.g. the demo's story).
	Notes []string
	// MaxGraphTxs bounds the transactions drawn in the flow graph; the rest
	// fold into one node (default 40).
	MaxGraphTxs int
	// MaxRows bounds the rows of the outputs and seizable tables (default
	// 100,000: every output of any trace one would print).
	MaxRows int
}

// Papers are the page sizes HTMLOptions.Paper accepts.
var Papers = []string{"a4", "letter"}

// ErrPaper: a page size the report does not know.
var ErrPaper = errors.New("report: unknown paper size")

// HTML writes one self-contained HTML file (no external resources) that
// reads on screen and prints as evidence: a cover with the case, the
// investigator, the tool, the command and every input digest; the summary
// comparing the models; then per model the flow graph (hops top to bottom,
// laid out to the page width), the arrivals, the deposits to freeze, the
// seizable outputs and every output. Printed, each page is numbered "page
// N of M" and table headers repeat on every page.
func HTML(w io.Writer, rs []*taint.Result, opt HTMLOptions) error {
	if opt.MaxGraphTxs <= 0 {
		opt.MaxGraphTxs = 40
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = 100_000
	}
	if opt.Title == "" {
		opt.Title = "cointrail trace"
	}
	page := template.CSS("A4")
	switch opt.Paper {
	case "", "a4":
	case "letter":
		page = "letter"
	default:
		return fmt.Errorf("%w %q (want a4 or letter)", ErrPaper, opt.Paper)
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
		MoreSeiz int
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
				sec.MoreSeiz = len(sec.Seizable) - opt.MaxRows
				sec.Seizable = sec.Seizable[:opt.MaxRows]
			}
		}
		secs = append(secs, sec)
	}
	generated := ""
	if !opt.Generated.IsZero() {
		generated = opt.Generated.UTC().Format(time.RFC3339)
	}
	var first *taint.Result
	if len(rs) > 0 {
		first = rs[0]
	}
	return htmlTmpl.Execute(w, map[string]any{"Opt": opt, "Page": page, "Generated": generated, "First": first,
		"Version": taint.ToolVersion(), "Summary": summary.String(), "Secs": secs})
}

var htmlTmpl = template.Must(template.New("r").Funcs(template.FuncMap{"btc": BTC, "clean": labels.Escape}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{clean .Opt.Title}}</title>
<style>
@page{size:{{.Page}};margin:14mm 12mm 16mm;
 @bottom-left{content:"cointrail trace report";font:8pt system-ui,sans-serif;color:#667085}
 @bottom-right{content:"page " counter(page) " of " counter(pages);font:8pt system-ui,sans-serif;color:#667085}}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;padding:0 16px;color:#1d2330;max-width:1100px}
h1{font-size:24px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
pre{background:#f5f7fa;padding:12px;overflow-x:auto;font-size:12px;white-space:pre-wrap}
table{border-collapse:collapse;margin:8px 0;font-size:12px;width:100%}td,th{border:1px solid #d8dde6;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
thead{display:table-header-group}
th.w-n{width:8%}th.w-t{width:15%}th.w-b{width:13%}th.w-h{width:5%}th.w-s{width:9%}th.w-ent{width:11%}
td.t{white-space:nowrap}
table.kv td:first-child{width:22%;color:#475569}
svg.flow{display:block;width:100%;max-width:900px;height:auto}
.arrival{background:#fff1e0}.unspent{background:#e8f6ec}code{font-size:11px;overflow-wrap:anywhere}
.muted{color:#667085}.cover .sub{font-size:16px;color:#475569;margin:0 0 18px}
@media print{
 body{margin:0;padding:0;max-width:none;font-size:10pt}
 h1{font-size:20pt}h2{font-size:14pt;break-after:avoid}h3{break-after:avoid}
 table{font-size:7.5pt;line-height:1.2}td,th{padding:2px 4px}code{font-size:6pt}pre{font-size:8pt}
 tr,svg.flow{break-inside:avoid}svg.flow{max-width:none}
 .cover{break-after:page}.model{break-before:page}
}
</style></head><body>
<section class="cover">
<h1>{{clean .Opt.Title}}</h1>
<p class="sub">Trace report{{with .Opt.Investigator}} by {{clean .}}{{end}}</p>
{{range .Opt.Notes}}<p>{{clean .}}</p>{{end}}
<table class="kv">
<tr><td>investigator</td><td>{{with .Opt.Investigator}}{{clean .}}{{else}}<span class="muted">not given (--investigator)</span>{{end}}</td></tr>
<tr><td>generated</td><td>{{with .Generated}}{{.}}{{else}}<span class="muted">not recorded</span>{{end}}</td></tr>
<tr><td>tool</td><td>cointrail <code>{{.Version}}</code></td></tr>
{{with .Opt.Command}}<tr><td>command</td><td><code>{{.}}</code></td></tr>{{end}}
{{with .First}}<tr><td>chain tip</td><td>height {{.TipHeight}}, block <code>{{.TipHash}}</code></td></tr>
<tr><td>index digest</td><td><code>{{.Inputs.IndexDigest}}</code></td></tr>
<tr><td>labels digest</td><td><code>{{.Inputs.LabelsDigest}}</code></td></tr>
<tr><td>label sources</td><td>{{range .Inputs.LabelFiles}}{{with index $.Opt.LabelSources .FileSHA256}}{{clean .}}: {{end}}{{clean .Format}}, {{.Labels}} labels, file SHA-256 <code>{{.FileSHA256}}</code><br>{{else}}none imported{{end}}</td></tr>
<tr><td>clustering</td><td><code>{{.Inputs.ClustersDigest}}</code>{{with .Inputs.ClusterTip}} (clustered to height {{.Height}}: {{.Addresses}} addresses, {{.Merges}} merges){{end}}</td></tr>
<tr><td>seeds</td><td>{{range .Inputs.Seeds}}<code>{{clean .}}</code><br>{{end}}{{if or .Inputs.SeedFromHeight .Inputs.SeedToHeight}}(received at heights {{.Inputs.SeedFromHeight}}..{{.Inputs.SeedToHeight}}){{end}}</td></tr>{{end}}
{{range .Secs}}<tr><td>result: {{.R.Model}}</td><td>result_sha256 <code>{{.Hash}}</code></td></tr>{{end}}
</table>
<p class="muted">Re-running: the same command on an index with these inputs (index, labels and clustering digests, tool version) writes a byte-identical report apart from the generation time above (set SOURCE_DATE_EPOCH to fix it); <code>cointrail verify-result</code> re-runs a trace's JSON and names any input that differs.</p>
</section>
<h2>Summary</h2><pre>{{.Summary}}</pre>
{{range .Secs}}
<section class="model">
<h2>Model: {{.R.Model}}</h2>
<p class="muted">direction {{.R.Params.Direction}}, max hops {{.R.Params.MaxHops}}, min sats {{.R.Params.MinSats}}, max txs {{.R.Params.MaxTxs}}, stop at CoinJoins {{.R.Params.StopAtCoinJoin}}, stop at services {{.R.Params.StopAtService}}, fees to coinbase {{.R.Params.FeesToCoinbase}}, heights {{.R.Params.FromHeight}}..{{.R.Params.ToHeight}}, times {{.R.Params.FromTime}}..{{.R.Params.ToTime}}{{if .R.Inputs.CapsBound}}; server caps that bound: {{range .R.Inputs.CapsBound}}{{.Param}} {{.Value}} {{end}}{{end}}<br>result_sha256 <code>{{.Hash}}</code></p>
<p>Traced {{btc .R.Summary.TracedSat}} BTC: {{btc .Arrived}} BTC reached services, {{btc .R.Summary.UnspentSat}} BTC still unspent, {{btc .R.Summary.FeeSat}} BTC lost to fees.</p>
{{if .SVG}}<h3>Flow of funds</h3><p class="muted">Hops run top to bottom; red: the seeds' transactions; yellow: labelled services where taint arrived; green: still unspent; edge width and figures: BTC carried.</p>
{{.SVG}}{{end}}
{{if .R.Summary.Arrived}}<h3>Arrivals at services</h3><table><thead><tr><th>entity</th><th>category</th><th>BTC</th><th>first block</th></tr></thead>
{{range .R.Summary.Arrived}}<tr class="arrival"><td>{{clean .Label}}</td><td>{{clean .Category}}</td><td class="n">{{btc .Sat}}</td><td class="n">{{.FirstHeight}}</td></tr>{{end}}</table>{{end}}
{{if .Deposits}}<h3>Deposits to freeze</h3><table><thead><tr><th class="w-ent">entity</th><th>deposit address<br>txid:vout</th><th class="w-n">height</th><th class="w-t">time (UTC)</th><th class="w-b">taint BTC</th><th class="w-h">hops</th></tr></thead>
{{range .Deposits}}<tr class="arrival"><td>{{clean .Entity}}</td><td><code>{{.Address}}</code><br><code>{{.TxID}}:{{.Vout}}</code></td><td class="n">{{.Height}}</td><td class="t">{{.Time}}</td><td class="n">{{btc .TaintSat}}</td><td class="n">{{.Hops}}</td></tr>{{end}}</table>{{end}}
{{if .Seizable}}<h3>Seizable: unspent tainted outputs</h3><table><thead><tr><th>address<br>txid:vout</th><th class="w-n">height</th><th class="w-t">time (UTC)</th><th class="w-b">taint BTC</th><th class="w-ent">label</th></tr></thead>
{{range .Seizable}}<tr class="unspent"><td><code>{{.Address}}</code><br><code>{{.TxID}}:{{.Vout}}</code></td><td class="n">{{.Height}}</td><td class="t">{{.Time}}</td><td class="n">{{btc .TaintSat}}</td><td>{{clean .Label}}</td></tr>{{end}}</table>{{if .MoreSeiz}}<p class="muted">{{.MoreSeiz}} more unspent outputs not shown (--format seizable lists all).</p>{{end}}{{end}}
<h3>Every tainted output</h3>
<table class="outputs"><thead><tr><th>txid:vout<br>address</th><th class="w-b">value BTC<br>taint BTC</th><th class="w-h">hops</th><th class="w-s">stop<br>spent</th><th class="w-ent">label</th><th class="w-t">time (UTC)</th></tr></thead>
{{range .Rows}}<tr{{if eq .Stop.String "arrival"}} class="arrival"{{else if eq .Stop.String "unspent"}} class="unspent"{{end}}><td><code>{{.TxID}}:{{.Vout}}</code><br><code>{{.Address}}</code></td><td class="n">{{btc .ValueSat}}<br>{{btc .TaintSat}}</td><td class="n">{{.Hops}}</td><td>{{.Stop}}<br>{{if .Spent}}spent{{else}}unspent{{end}}</td><td>{{clean .Label}}</td><td class="t">{{.Time}}</td></tr>{{end}}
</table>{{if .More}}<p class="muted">{{.More}} more outputs not shown (the JSON and CSV formats list all).</p>{{end}}
</section>
{{end}}
</body></html>
`))
