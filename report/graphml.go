package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"

	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// GraphML writes the results as one directed GraphML graph (Gephi and
// Maltego read the first <graph> of a file only, so several models share
// it): a node per transaction that holds taint and a node per output where
// a trace ended (arrived, unspent, dust, …) with its address, value, block
// height and UTC time, label and category; per model, a taint attribute on
// each node (taint_sat_MODEL) and edges carrying that model's satoshis,
// tagged with the model. Ids are txid and txid:vout, so nodes from two
// exports merge.
func GraphML(w io.Writer, rs []*taint.Result) error {
	fmt.Fprint(w, xml.Header)
	fmt.Fprintln(w, `<graphml xmlns="http://graphml.graphdrawing.org/xmlns">`)
	keys := []struct{ id, for_, name, typ string }{
		{"kind", "node", "kind", "string"}, {"txid", "node", "txid", "string"}, {"vout", "node", "vout", "int"},
		{"height", "node", "height", "int"}, {"time", "node", "time", "string"}, {"address", "node", "address", "string"},
		{"value_sat", "node", "value_sat", "long"}, {"stop", "node", "stop", "string"},
		{"label", "node", "label", "string"}, {"category", "node", "category", "string"},
		{"label_source", "node", "label_source", "string"}, {"label_confidence", "node", "label_confidence", "int"},
	}
	for _, r := range rs {
		m := r.Model.String()
		keys = append(keys, struct{ id, for_, name, typ string }{"taint_sat_" + m, "node", "taint_sat_" + m, "long"})
	}
	keys = append(keys, struct{ id, for_, name, typ string }{"model", "edge", "model", "string"}, struct{ id, for_, name, typ string }{"sat", "edge", "sat", "long"})
	for _, k := range keys {
		fmt.Fprintf(w, "  <key id=%q for=%q attr.name=%q attr.type=%q/>\n", k.id, k.for_, k.name, k.typ)
	}
	fmt.Fprintln(w, `  <graph id="trace" edgedefault="directed">`)
	type node struct {
		o     *taint.TaintedOutput // nil for a transaction
		txid  string
		h     uint32
		t     string
		taint map[string]int64
	}
	nodes := map[string]*node{}
	get := func(id string) *node {
		n := nodes[id]
		if n == nil {
			n = &node{taint: map[string]int64{}}
			nodes[id] = n
		}
		return n
	}
	for _, r := range rs {
		m := r.Model.String()
		for i := range r.Outputs {
			o := &r.Outputs[i]
			tx := get(o.TxID.String())
			tx.txid, tx.h, tx.t = o.TxID.String(), o.Height, o.Time
			tx.taint[m] += o.TaintSat
			if o.Stop != taint.StopFollowed {
				n := get(fmt.Sprintf("%s:%d", o.TxID, o.Vout))
				n.o, n.txid = o, o.TxID.String()
				n.taint[m] += o.TaintSat
			}
		}
	}
	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := nodes[id]
		fmt.Fprintf(w, "    <node id=\"%s\">", esc(id))
		d := func(k, v string) { fmt.Fprintf(w, "<data key=\"%s\">%s</data>", k, esc(v)) }
		if n.o == nil {
			d("kind", "tx")
			d("txid", n.txid)
			d("height", fmt.Sprint(n.h))
			d("time", n.t)
		} else {
			o := n.o
			d("kind", "output")
			d("txid", n.txid)
			d("vout", fmt.Sprint(o.Vout))
			d("height", fmt.Sprint(o.Height))
			d("time", o.Time)
			d("address", o.Address)
			d("value_sat", fmt.Sprint(o.ValueSat))
			d("stop", o.Stop.String())
			if o.Label != "" {
				// Label text comes from third-party files: escaped for a
				// reader's terminal as in every other output, then for XML.
				d("label", labels.Escape(o.Label))
				d("category", labels.Escape(o.Category))
				d("label_source", labels.Escape(o.LabelSource))
				d("label_confidence", fmt.Sprint(o.LabelConfidence))
			}
		}
		for _, r := range rs {
			if v, ok := n.taint[r.Model.String()]; ok {
				d("taint_sat_"+r.Model.String(), fmt.Sprint(v))
			}
		}
		fmt.Fprintln(w, "</node>")
	}
	e := 0
	edge := func(from, to, model string, sat int64) {
		fmt.Fprintf(w, "    <edge id=\"e%d\" source=\"%s\" target=\"%s\"><data key=\"model\">%s</data><data key=\"sat\">%d</data></edge>\n", e, esc(from), esc(to), model, sat)
		e++
	}
	for _, r := range rs {
		m := r.Model.String()
		for _, ed := range r.Edges {
			if ed.Fee {
				continue // into a coinbase outside the graph's nodes
			}
			if nodes[ed.ToTx.String()] != nil && nodes[ed.FromTx.String()] != nil {
				edge(ed.FromTx.String(), ed.ToTx.String(), m, ed.Sat)
			}
		}
		for _, o := range r.Outputs {
			if o.Stop != taint.StopFollowed {
				edge(o.TxID.String(), fmt.Sprintf("%s:%d", o.TxID, o.Vout), m, o.TaintSat)
			}
		}
	}
	fmt.Fprintln(w, "  </graph>")
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
	x, y                               int // flowLayout's placement
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
