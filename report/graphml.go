package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// GraphML writes the flow graph of each result as GraphML (one <graph> per
// model): transactions and terminal outputs are nodes, taint flows are
// edges with their satoshis. Gephi and Maltego open it.
func GraphML(w io.Writer, rs []*taint.Result) error {
	fmt.Fprint(w, xml.Header)
	fmt.Fprintln(w, `<graphml xmlns="http://graphml.graphdrawing.org/xmlns">`)
	keys := []struct{ id, for_, name, typ string }{
		{"kind", "node", "kind", "string"}, {"label", "node", "label", "string"}, {"category", "node", "category", "string"},
		{"taint_sat", "node", "taint_sat", "long"}, {"address", "node", "address", "string"},
		{"sat", "edge", "sat", "long"}, {"model", "graph", "model", "string"},
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  <key id=%q for=%q attr.name=%q attr.type=%q/>\n", k.id, k.for_, k.name, k.typ)
	}
	for _, r := range rs {
		g := buildFlow(r, 0)
		fmt.Fprintf(w, "  <graph id=\"%s\" edgedefault=\"directed\">\n    <data key=\"model\">%s</data>\n", r.Model.String(), r.Model.String())
		for _, n := range g.nodes {
			fmt.Fprintf(w, "    <node id=\"%s\"><data key=\"kind\">%s</data><data key=\"label\">%s</data><data key=\"category\">%s</data><data key=\"taint_sat\">%d</data><data key=\"address\">%s</data></node>\n",
				esc(n.id), n.kind, esc(n.label), esc(n.category), n.taint, esc(n.address))
		}
		for i, e := range g.edges {
			fmt.Fprintf(w, "    <edge id=\"e%d\" source=\"%s\" target=\"%s\"><data key=\"sat\">%d</data></edge>\n", i, esc(e.from), esc(e.to), e.sat)
		}
		fmt.Fprintln(w, "  </graph>")
	}
	_, err := fmt.Fprintln(w, "</graphml>")
	return err
}

func esc(s string) string {
	var b []byte
	buf := &byteWriter{&b}
	xml.EscapeText(buf, []byte(s))
	return string(b)
}

type byteWriter struct{ b *[]byte }

func (w *byteWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

// flow is a result as a graph: nodes are transactions plus, for outputs
// where the trace ended, one terminal node per entity (arrivals), one for
// unspent outputs and one for each other stop reason.
type flow struct {
	nodes []*flowNode
	edges []flowEdge
	byID  map[string]*flowNode
}

type flowNode struct {
	id, kind, label, category, address string
	taint                              int64
	col                                int // 0 = seeds, increasing with hops; terminals last
	row                                int
}

type flowEdge struct {
	from, to string
	sat      int64
}

// buildFlow builds the flow graph; maxTx > 0 keeps only the maxTx
// transactions carrying the most taint (the rest fold into one node).
func buildFlow(r *taint.Result, maxTx int) *flow {
	g := &flow{byID: map[string]*flowNode{}}
	node := func(id, kind string) *flowNode {
		n, ok := g.byID[id]
		if !ok {
			n = &flowNode{id: id, kind: kind}
			g.byID[id] = n
			g.nodes = append(g.nodes, n)
		}
		return n
	}
	// Transactions: the creators of tainted outputs, and the spenders on edges.
	txTaint := map[string]int64{}
	txHop := map[string]int{}
	for _, o := range r.Outputs {
		id := o.TxID.String()
		txTaint[id] += o.TaintSat
		if h, ok := txHop[id]; !ok || o.Hops < h {
			txHop[id] = o.Hops
		}
	}
	keep := map[string]bool{}
	ids := make([]string, 0, len(txTaint))
	for id := range txTaint {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if txTaint[ids[i]] != txTaint[ids[j]] {
			return txTaint[ids[i]] > txTaint[ids[j]]
		}
		return ids[i] < ids[j]
	})
	for i, id := range ids {
		if maxTx <= 0 || i < maxTx {
			keep[id] = true
		}
	}
	const other = "other transactions"
	txNode := func(id string) *flowNode {
		if !keep[id] {
			n := node(other, "folded")
			n.label = fmt.Sprintf("%d more transactions", len(ids)-len(keep))
			n.col = 1
			return n
		}
		n := node(id, "tx")
		n.label = id[:12] + "…"
		n.taint = txTaint[id]
		n.col = txHop[id]
		return n
	}
	seen := map[[2]string]int{}
	addEdge := func(from, to string, sat int64) {
		if from == to || sat == 0 {
			return
		}
		k := [2]string{from, to}
		if i, ok := seen[k]; ok {
			g.edges[i].sat += sat
			return
		}
		seen[k] = len(g.edges)
		g.edges = append(g.edges, flowEdge{from, to, sat})
	}
	for _, e := range r.Edges {
		if e.Fee {
			continue
		}
		from := txNode(e.FromTx.String())
		if _, ok := txTaint[e.ToTx.String()]; ok {
			to := txNode(e.ToTx.String())
			addEdge(from.id, to.id, e.Sat)
		}
	}
	maxCol := 0
	for _, n := range g.nodes {
		maxCol = max(maxCol, n.col)
	}
	for _, o := range r.Outputs {
		var tid, kind, label, cat string
		switch o.Stop {
		case taint.StopFollowed:
			continue
		case taint.StopArrival:
			// Label text comes from third-party files: escaped here, it is
			// escaped in every output drawn from the flow graph.
			label, cat = labels.Escape(o.Label), labels.Escape(o.Category)
			tid, kind = "entity:"+label, "entity"
		case taint.StopUnspent:
			tid, kind, label = "unspent", "unspent", "still unspent"
		default:
			tid, kind, label = "stop:"+o.Stop.String(), "stop", "stopped: "+o.Stop.String()
		}
		t := node(tid, kind)
		t.label, t.category = label, cat
		t.taint += o.TaintSat
		from := txNode(o.TxID.String())
		addEdge(from.id, t.id, o.TaintSat)
	}
	for _, n := range g.nodes {
		if n.kind != "tx" && n.kind != "folded" {
			n.col = maxCol + 1
		}
	}
	return g
}
