package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/taint"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// results traces a small hand-built theft under two models: a coinbase
// pays a thief, who splits, peels and pays an exchange; part stays unspent.
func results(t *testing.T) []*taint.Result {
	t.Helper()
	return resultsLabelled(t, "Exchange <X> & Co", "exchange")
}

func resultsLabelled(t *testing.T, label, category string) []*taint.Result {
	t.Helper()
	g := taint.NewMemGraph()
	must := func(tx uint32, err error) uint32 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	cb := g.AddBlock(1717129200, taint.MemOut{Value: 50_0000_0000, Addr: 1})
	g.AddBlock(1717129800)
	split := must(g.AddTx([]uint64{g.Out(cb, 0)}, taint.MemOut{Value: 30_0000_0000, Addr: 2}, taint.MemOut{Value: 19_9999_0000, Addr: 3}))
	peel := must(g.AddTx([]uint64{g.Out(split, 0)}, taint.MemOut{Value: 5_0000_0000, Addr: 4}, taint.MemOut{Value: 24_9998_0000, Addr: 5}))
	must(g.AddTx([]uint64{g.Out(peel, 1)}, taint.MemOut{Value: 24_9997_0000, Addr: 6}))
	for a, s := range map[uint32]string{1: "bc1qcoinbase", 2: "bc1qthief", 3: "bc1qstash", 4: "bc1qexchange", 5: "bc1qchange", 6: "bc1qcold"} {
		g.SetAddrString(a, s)
	}
	attr := taint.MemAttribution{4: {Label: label, Category: category, Source: "exchanges.yaml", Confidence: 50}}
	p := taint.DefaultParams()
	p.MinSats = 0
	rs, err := taint.TraceModels(context.Background(), g, attr, []taint.Seed{{Out: g.Out(cb, 0)}}, p, []taint.Model{taint.Haircut, taint.FIFO}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func render(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTextGolden(t *testing.T) {
	got := render(t, func(b *bytes.Buffer) error { return Text(b, results(t)) })
	path := filepath.Join("testdata", "trace.txt")
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("text report differs from %s (go test -run TextGolden -update to accept):\n%s", path, got)
	}
}

func TestCSV(t *testing.T) {
	rs := results(t)
	rows, err := csv.NewReader(bytes.NewReader(render(t, func(b *bytes.Buffer) error { return CSV(b, rs) }))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") || len(rows) != 1+len(rs[0].Outputs)+len(rs[1].Outputs) {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
}

// TestGraphML: one graph (what Gephi and Maltego read) holding both
// models; every output where the trace ended is its own node with its
// address, time and label with its source and confidence; edges name their model and end at nodes.
func TestGraphML(t *testing.T) {
	rs := results(t)
	type data struct {
		Key string `xml:"key,attr"`
		V   string `xml:",chardata"`
	}
	var doc struct {
		Graphs []struct {
			ID    string `xml:"id,attr"`
			Nodes []struct {
				ID   string `xml:"id,attr"`
				Data []data `xml:"data"`
			} `xml:"node"`
			Edges []struct {
				Source string `xml:"source,attr"`
				Target string `xml:"target,attr"`
				Data   []data `xml:"data"`
			} `xml:"edge"`
		} `xml:"graph"`
	}
	if err := xml.Unmarshal(render(t, func(b *bytes.Buffer) error { return GraphML(b, rs) }), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Graphs) != 1 {
		t.Fatalf("%d graphs, want one", len(doc.Graphs))
	}
	g := doc.Graphs[0]
	nodes := map[string]map[string]string{}
	unspent := 0
	for _, n := range g.Nodes {
		m := map[string]string{}
		for _, d := range n.Data {
			m[d.Key] = d.V
		}
		nodes[n.ID] = m
		if m["stop"] == "unspent" {
			unspent++
		}
		if m["time"] == "" || !strings.HasSuffix(m["time"], "Z") || m["taint_sat_haircut"] == "" || m["taint_sat_fifo"] == "" {
			t.Errorf("node %s: %v (want a UTC time and both models' taint)", n.ID, m)
		}
	}
	var exch map[string]string
	for _, m := range nodes {
		if m["address"] == "bc1qexchange" {
			exch = m
		}
	}
	if exch == nil || exch["label"] != "Exchange <X> & Co" || exch["category"] != "exchange" || exch["stop"] != "arrival" || exch["value_sat"] != "500000000" ||
		exch["label_source"] != "exchanges.yaml" || exch["label_confidence"] != "50" {
		t.Fatalf("the exchange output node: %v", exch)
	}
	if unspent != 2 {
		t.Fatalf("%d unspent output nodes, want 2 (the stash and the cold wallet)", unspent)
	}
	models := map[string]int{}
	for _, e := range g.Edges {
		if nodes[e.Source] == nil || nodes[e.Target] == nil {
			t.Fatalf("edge %s→%s to a missing node", e.Source, e.Target)
		}
		models[e.Data[0].V]++
	}
	if models["haircut"] == 0 || models["haircut"] != models["fifo"] {
		t.Fatalf("edges per model %v", models)
	}
}

func TestHTMLSelfContainedAndDeterministic(t *testing.T) {
	rs := results(t)
	a := render(t, func(b *bytes.Buffer) error { return HTML(b, rs, HTMLOptions{Title: "t"}) })
	b := render(t, func(b *bytes.Buffer) error { return HTML(b, rs, HTMLOptions{Title: "t"}) })
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings differ")
	}
	s := string(a)
	for _, bad := range []string{"<script", " src=", "href=\"http", "url(http"} {
		if strings.Contains(s, bad) {
			t.Fatalf("HTML loads something from outside (%q)", bad)
		}
	}
	// The label is escaped, the graph is drawn, both models are there.
	if !strings.Contains(s, "Exchange &lt;X&gt; &amp; Co") || strings.Count(s, "<svg") != 2 || !strings.Contains(s, "Model: fifo") {
		t.Fatal("HTML lacks the escaped label, the two graphs or the fifo section")
	}
}

// Label text from a hostile label file (a newline forging a line, a
// terminal escape retitling the window, a bidi override) reaches no output
// raw: every format shows it escaped.
func TestLabelTextEscaped(t *testing.T) {
	const label, category = "Evil\nfake line\x1b]0;pwned\x07\u202e", "exch\x1b[2J"
	rs := resultsLabelled(t, label, category)
	outs := map[string][]byte{
		"text":    render(t, func(b *bytes.Buffer) error { return Text(b, rs) }),
		"csv":     render(t, func(b *bytes.Buffer) error { return CSV(b, rs) }),
		"graphml": render(t, func(b *bytes.Buffer) error { return GraphML(b, rs) }),
		"html":    render(t, func(b *bytes.Buffer) error { return HTML(b, rs, HTMLOptions{Title: "t\x1b"}) }),
	}
	for name, out := range outs {
		s := string(out)
		if strings.ContainsAny(s, "\x1b\x07\u202e") || strings.Contains(s, "\nfake line") {
			t.Errorf("%s: the raw label text reached the output", name)
		}
		if !strings.Contains(s, `Evil\nfake line\x1b]0;pwned\x07\u202e`) || !strings.Contains(s, `exch\x1b[2J`) {
			t.Errorf("%s: the escaped label is missing:\n%s", name, s)
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(outs["csv"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	arrivals := 0
	for _, r := range rows[1:] {
		if r[8] == "arrival" {
			arrivals++
			if r[9] != `Evil\nfake line\x1b]0;pwned\x07\u202e` || r[10] != `exch\x1b[2J` {
				t.Errorf("CSV label %q category %q", r[9], r[10])
			}
		}
	}
	if arrivals != 2 {
		t.Fatalf("%d arrival rows, want one per model", arrivals)
	}
}
