package taint

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
)

// A cap that does not bind leaves the result byte-identical to the
// uncapped trace; one that binds is reported in inputs.caps_bound.
func TestCapsBound(t *testing.T) {
	g := newG1(t)
	trace := func(p Params) (*Result, []byte, error) {
		r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, p, nil)
		if r == nil {
			return nil, nil, err
		}
		b, jerr := r.JSON()
		if jerr != nil {
			t.Fatal(jerr)
		}
		return r, b, err
	}
	p := params(Haircut)
	p.Inputs = Inputs{ToolVersion: "v", IndexDigest: "i", LabelsDigest: "none", ClustersDigest: "none", Seeds: []string{"s"}}
	base, want, err := trace(p)
	if err != nil {
		t.Fatal(err)
	}
	if base.Summary.MaxHop != 3 || len(base.Inputs.CapsBound) != 0 || base.Inputs.ToolVersion != "v" {
		t.Fatalf("base: max_hop %d, inputs %+v", base.Summary.MaxHop, base.Inputs)
	}
	loose := p
	loose.HopCap, loose.TxCap = 4, 4
	if _, got, err := trace(loose); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("caps that do not bind changed the result (%v):\n got %s\nwant %s", err, got, want)
	}
	tight := p
	tight.HopCap = 2
	r, got, err := trace(tight)
	if err != nil || bytes.Equal(got, want) || !slices.Equal(r.Inputs.CapsBound, []Cap{{"max_hops", 2}}) || r.Params.MaxHops != 0 {
		t.Fatalf("a binding hop cap: %v, caps %+v, params max_hops %d", err, r.Inputs.CapsBound, r.Params.MaxHops)
	}
	// A cap above an explicit limit does not bind; the limit does.
	own := p
	own.MaxHops, own.HopCap = 2, 3
	if r, _, _ := trace(own); len(r.Inputs.CapsBound) != 0 || r.Summary.StoppedSat == 0 {
		t.Fatalf("explicit max_hops under the cap: caps %+v, stopped %d", r.Inputs.CapsBound, r.Summary.StoppedSat)
	}
	txs := p
	txs.TxCap = 2
	r, _, err = trace(txs)
	if !errors.Is(err, ErrLimit) || err.Error() != "taint: limit reached: visited the cap of 2 transactions (max_txs=1000000)" ||
		!slices.Equal(r.Inputs.CapsBound, []Cap{{"max_txs", 2}}) {
		t.Fatalf("a binding tx cap: %v, caps %+v", err, r.Inputs.CapsBound)
	}
	neg := p
	neg.HopCap = -1
	if _, _, err := trace(neg); !errors.Is(err, ErrBadParams) {
		t.Fatalf("negative cap: %v", err)
	}
}
