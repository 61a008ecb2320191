package report

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cointrail/cointrail/taint"
)

// TestDeposits: with --no-stop-at-service a trace goes on through an
// exchange; the freeze list keeps the exchange's first output on the path
// (its deposit), not its internal moves (a sweep to its own hot wallet),
// and a second entity paid from the exchange gets its own deposit. Sorted
// by time; backward traces are refused.
func TestDeposits(t *testing.T) {
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
	dep := must(g.AddTx([]uint64{g.Out(cb, 0)}, taint.MemOut{Value: 49_9999_0000, Addr: 2}))
	g.AddBlock(1717130400)
	sweep := must(g.AddTx([]uint64{g.Out(dep, 0)}, taint.MemOut{Value: 40_0000_0000, Addr: 3}, taint.MemOut{Value: 9_9998_0000, Addr: 4}))
	for a, s := range map[uint32]string{1: "thief", 2: "deposit", 3: "hot", 4: "other"} {
		g.SetAddrString(a, s)
	}
	attr := taint.MemAttribution{2: {Label: "Ex", Category: "exchange"}, 3: {Label: "Ex", Category: "exchange"}, 4: {Label: "Other", Category: "exchange"}}
	p := taint.DefaultParams()
	p.StopAtService = false
	r, err := taint.Trace(context.Background(), g, attr, []taint.Seed{{Out: g.Out(cb, 0)}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Deposits([]*taint.Result{r})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		entity, addr, time string
		taint              int64
	}
	var got []row
	for _, d := range ds[0] {
		got = append(got, row{d.Entity, d.Address, d.Time, d.TaintSat})
	}
	want := []row{{"Ex", "deposit", "2024-05-31T04:30:00Z", 49_9999_0000}, {"Other", "other", "2024-05-31T04:40:00Z", 9_9998_0000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("deposits %+v\nwant %+v", got, want)
	}
	ss, err := SeizableOutputs([]*taint.Result{r})
	if err != nil || len(ss[0]) != 2 || ss[0][0].Address != "hot" || ss[0][1].Address != "other" {
		t.Fatalf("seizable %+v %v", ss, err)
	}
	html := render(t, func(b *bytes.Buffer) error { return HTML(b, []*taint.Result{r}, HTMLOptions{}) })
	for _, want := range []string{"Deposits to freeze", "2024-05-31T04:30:00Z", "Seizable: unspent tainted outputs", "verify-result"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Fatalf("the HTML report lacks %q", want)
		}
	}
	r.Inputs = taint.Inputs{ToolVersion: "v1", IndexDigest: "abc", LabelsDigest: "none", ClustersDigest: "none", CapsBound: []taint.Cap{{Param: "max_hops", Value: 50}}}
	text := render(t, func(b *bytes.Buffer) error { return Text(b, []*taint.Result{r}) })
	for _, want := range []string{"inputs: cointrail v1, index abc, labels none (0 files), clusters none\n", "note: the server's cap max_hops=50 stopped this trace\n"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Fatalf("the text report lacks %q:\n%s", want, text)
		}
	}
	p.Direction, p.StopAtService = taint.Backward, true
	b, err := taint.Trace(context.Background(), g, attr, []taint.Seed{{Out: g.Out(sweep, 0)}}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Deposits([]*taint.Result{b}); !errors.Is(err, ErrForwardOnly) {
		t.Fatalf("backward: %v", err)
	}
}
