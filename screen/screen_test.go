package screen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/sim"
)

// stolenAt maps "txid:vout" to the stolen sats truth says the output holds.
func stolenAt(truth *sim.Truth) map[string]int64 {
	m := map[string]int64{}
	for _, o := range truth.TaintedOutputs {
		m[fmt.Sprintf("%s:%d", o.Txid, o.Vout)] = o.StolenSat
	}
	return m
}

func outpoint(ix *index.Index, o uint64) string {
	tx := ix.OutTx(o)
	first, _ := ix.TxOutputs(tx)
	return fmt.Sprintf("%s:%d", index.TxIDString(ix.TxHash(tx)), o-first)
}

// hopAddrs finds the addresses that received only outputs funded solely by
// the addresses in from and holding only stolen coins (per truth), with the
// stolen sats each received; the addresses with labels are skipped.
func hopAddrs(t *testing.T, ix *index.Index, truth *sim.Truth, from map[uint32]bool) map[uint32]int64 {
	t.Helper()
	stolen := stolenAt(truth)
	out := map[uint32]int64{}
	for _, to := range truth.TaintedOutputs {
		if to.Label != "" {
			continue
		}
		a := addrID(t, ix, to.Address)
		if _, done := out[a]; done || from[a] || a == addrID(t, ix, truth.AttackerAddress) {
			continue
		}
		var sum int64
		ok := true
		for _, o := range received(ix, a) {
			s, tainted := stolen[outpoint(ix, o)]
			if !tainted || s != ix.OutValue(o) || !fundedOnlyBy(ix, o, from) {
				ok = false
				break
			}
			sum += s
		}
		if ok {
			out[a] = sum
		}
	}
	return out
}

func TestIndirectExposure(t *testing.T) {
	ix, truth := simIndex(t, true)
	ctx := context.Background()
	attacker := addrID(t, ix, truth.AttackerAddress)
	hop1 := hopAddrs(t, ix, truth, map[uint32]bool{attacker: true})
	from1 := map[uint32]bool{}
	for a := range hop1 {
		from1[a] = true
	}
	hop2 := hopAddrs(t, ix, truth, from1)
	if len(hop1) == 0 || len(hop2) == 0 {
		t.Fatalf("the sim chain has %d addresses one hop and %d two hops from the thief", len(hop1), len(hop2))
	}
	s, err := New(ix, Options{Hops: 1}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range hop1 {
		addr := ix.AddrString(a)
		rep, err := s.Screen(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Kind != "address" || len(rep.Direct.Labels) != 0 || rep.ValueSat != want || rep.Indirect.Sat != want ||
			rep.Indirect.Share != 1 || rep.Indirect.UnattributedSat != 0 || rep.Risk != High ||
			rep.TopCategory != "perpetrator" || rep.TopLabel != "DMM Bitcoin theft perpetrator" {
			t.Fatalf("%s (received %d stolen sat at 1 hop): %+v", addr, want, rep)
		}
		wantCats := []CategoryExposure{{"perpetrator", want, 1, High, "DMM Bitcoin theft perpetrator"}, {"service_hack", want, 1, High, "DMM Bitcoin theft perpetrator"}}
		if !slices.Equal(rep.Indirect.ByCategory, wantCats) {
			t.Fatalf("%s: categories %+v", addr, rep.Indirect.ByCategory)
		}
		var srcSat int64
		for _, src := range rep.Indirect.Sources {
			srcSat += src.Sat
			if src.Address != truth.AttackerAddress || src.Hops != 1 || len(src.Path) != 1 ||
				!slices.Equal(src.Labels, []string{"DMM Bitcoin theft perpetrator"}) {
				t.Fatalf("%s: source %+v", addr, src)
			}
		}
		if srcSat != want {
			t.Fatalf("%s: sources carry %d, want %d", addr, srcSat, want)
		}
	}
	// Two hops away: nothing within one hop, all of it within two.
	s2, err := New(ix, Options{Hops: 2}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range hop2 {
		addr := ix.AddrString(a)
		r1, err := s.Screen(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := s2.Screen(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r1.Indirect.Sat != 0 || r1.Risk != None || r1.Indirect.UnattributedSat != want {
			t.Fatalf("%s within 1 hop: %+v", addr, r1)
		}
		if r2.Indirect.Sat != want || r2.ValueSat != want || r2.Risk != High {
			t.Fatalf("%s within 2 hops (stolen %d): %+v", addr, want, r2)
		}
		for _, src := range r2.Indirect.Sources {
			if src.Hops != 2 || len(src.Path) != 2 {
				t.Fatalf("%s: source %+v", addr, src)
			}
		}
	}
}

func TestDirectExposure(t *testing.T) {
	ix, truth := simIndex(t, true)
	ctx := context.Background()
	rep, err := Screen(ctx, ix, truth.AttackerAddress, Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	var recv int64
	for _, o := range received(ix, addrID(t, ix, truth.AttackerAddress)) {
		recv += ix.OutValue(o)
	}
	wantLabel := LabelRef{Via: "address", Address: truth.AttackerAddress, Label: "DMM Bitcoin theft perpetrator", Category: "perpetrator",
		Abuse: "service_hack", Source: "cointrail sim --scenario dmm-2024 --seed 1", Confidence: "forensic_investigation"}
	if !slices.Equal(rep.Direct.Labels, []LabelRef{wantLabel}) || rep.Direct.Sat != recv || rep.Direct.Share != 1 || rep.ValueSat != recv ||
		rep.Risk != High || rep.TopCategory != "perpetrator" {
		t.Fatalf("attacker: %+v", rep)
	}
	// Its own label does not end the look-back: what paid it was the
	// victim's hot wallet, an exchange (rated none by the policy).
	if bc := rep.Indirect.ByCategory; rep.Indirect.Sat != recv || rep.Indirect.UnattributedSat != 0 || len(bc) != 1 ||
		bc[0].Category != "exchange" || bc[0].TopLabel != "DMM Bitcoin" || bc[0].Sat != recv {
		t.Fatalf("attacker's payers: %+v", rep.Indirect)
	}
	wantReasons := []Reason{{"direct", "perpetrator", recv, 1, High}, {"direct", "service_hack", recv, 1, High}}
	if !slices.Equal(rep.Reasons, wantReasons) {
		t.Fatalf("reasons %+v", rep.Reasons)
	}

	// An unlabelled address in a cluster with a cluster-defining label.
	r, err := cluster.Open(ix)
	if err != nil {
		t.Fatal(err)
	}
	var member string
	var cid cluster.ClusterID
	for _, l := range []string{"Kestrel Exchange", "Orchid Exchange", "DMM Bitcoin"} {
		for _, a := range truthLabelled(t, ix, l) {
			c, err := r.ClusterOf(a)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := r.Members(c, 0, cluster.MaxPage)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if !slices.Contains(truthLabelledAll(t, ix), m) {
					member, cid = ix.AddrString(m), c
					break
				}
			}
			if member != "" {
				break
			}
		}
		if member != "" {
			break
		}
	}
	if member == "" {
		t.Fatal("no unlabelled member of a labelled cluster")
	}
	rep, err = Screen(ctx, ix, member, Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Direct.Labels) == 0 || rep.Cluster == nil || rep.Cluster.ID != cid || rep.Cluster.Conflict || rep.TopCategory != "exchange" || rep.Risk != None {
		t.Fatalf("member %s of cluster %d: %+v", member, cid, rep)
	}
	for _, l := range rep.Direct.Labels {
		if l.Via != "cluster" || l.Category != "exchange" || l.Label != rep.TopLabel {
			t.Fatalf("member %s: label %+v", member, l)
		}
	}
	// Without a clustering, labels stay on their addresses.
	ix2, _ := simIndex(t, false)
	rep, err = Screen(ctx, ix2, member, Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Direct.Labels) != 0 || rep.Cluster != nil || len(rep.Notes) == 0 ||
		rep.Notes[0] != "labels name their own addresses only: cluster: not built: no clustering in this data directory; run `cointrail cluster build`" {
		t.Fatalf("without clustering: %+v", rep)
	}
}

// truthLabelled returns the ids of the addresses labels.yaml gives label l.
func truthLabelled(t *testing.T, ix *index.Index, l string) []uint32 {
	var out []uint32
	for _, tag := range simTags(t) {
		if tag.label == l {
			if id, _, err := ix.ParseAddr(tag.address); err == nil {
				out = append(out, id)
			}
		}
	}
	return out
}

func truthLabelledAll(t *testing.T, ix *index.Index) []uint32 {
	var out []uint32
	for _, tag := range simTags(t) {
		if id, _, err := ix.ParseAddr(tag.address); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func TestTxTarget(t *testing.T) {
	ix, truth := simIndex(t, true)
	rep, err := Screen(context.Background(), ix, truth.TheftTxid, Options{Hops: 1}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := index.ParseTxID(truth.TheftTxid)
	tx, err := ix.FindTx(h)
	if err != nil {
		t.Fatal(err)
	}
	var spent int64
	first, n := ix.TxInputs(tx)
	for in := first; in < first+uint64(n); in++ {
		spent += ix.OutValue(ix.InputPrevOut(in))
	}
	// The theft spends only the victim's hot wallet, a labelled exchange:
	// all it spent comes from there, one hop back.
	if rep.Kind != "tx" || rep.ValueSat != spent || rep.Indirect.Sat != spent || rep.Indirect.UnattributedSat != 0 || rep.Risk != None ||
		rep.TopCategory != "exchange" || rep.TopLabel != "DMM Bitcoin" || len(rep.Direct.Labels) != 0 ||
		len(rep.Indirect.Sources) != truth.VictimInputs || rep.Outputs != truth.VictimInputs {
		t.Fatalf("theft tx: %+v", rep)
	}
	for _, src := range rep.Indirect.Sources {
		if src.Hops != 1 || src.Address != truth.VictimAddress || !slices.Equal(src.Path, []string{truth.TheftTxid}) {
			t.Fatalf("theft tx: source %+v", src)
		}
	}
	// Two hops back reaches where the victim's coins came from; the hop-1
	// exposure is unchanged because a labelled source ends the walk.
	rep2, err := Screen(context.Background(), ix, truth.TheftTxid, Options{Hops: 2}, testchain.Log(t))
	if err != nil || rep2.Indirect.Sat != spent {
		t.Fatalf("theft tx, 2 hops: %+v, %v", rep2, err)
	}
}

func TestBadInput(t *testing.T) {
	ix, _ := simIndex(t, false)
	tip := ix.Tip().Height
	for _, tc := range []struct {
		target string
		opts   Options
		is     error
		want   string
	}{
		{"nonsense", Options{}, ErrBadInput, `screen: bad input: chain: bad input: "nonsense" is not a regtest address`},
		{"", Options{}, ErrBadInput, `screen: bad input: chain: bad input: "" is not a regtest address`},
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", Options{}, chain.ErrWrongNetwork,
			`screen: bad input: chain: wrong network: address "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2" is a mainnet address, the index is regtest`},
		{"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", Options{}, chain.ErrWrongNetwork,
			`screen: bad input: chain: wrong network: address "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" is a testnet address, the index is regtest`},
		{strings.Repeat("0", 63) + "1", Options{}, ErrNotFound,
			fmt.Sprintf("screen: not found: transaction %s1 is not in the index (tip %d)", strings.Repeat("0", 63), tip)},
		{"x", Options{Hops: MaxHops + 1}, ErrBadInput, "screen: bad input: hops 11 (want 1..10)"},
		{"x", Options{Hops: -1}, ErrBadInput, "screen: bad input: hops -1 (want 1..10)"},
		{"x", Options{MaxReceipts: -1}, ErrBadInput, "screen: bad input: max receipts -1, max txs 20000, max sources 100 (want ≥ 1 each)"},
		{"x", Options{Policy: &Policy{Rules: []Rule{{Categories: []string{"scam"}}, {Categories: []string{"Scam"}}}}}, ErrBadInput,
			`screen: bad input: category "scam" is in policy rules 1 and 2`},
	} {
		_, err := Screen(context.Background(), ix, tc.target, tc.opts, testchain.Log(t))
		if !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.target, err, tc.want)
		}
	}
	// An address never paid is no error: it has its labels and nothing else.
	rep, err := Screen(context.Background(), ix, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", Options{}, testchain.Log(t))
	if err != nil || rep.ValueSat != 0 || rep.Risk != None || !slices.Contains(rep.Notes, "the address has no transactions in the index") {
		t.Fatalf("unseen address: %+v, %v", rep, err)
	}
}

// TestExposureProperties: on a sample of addresses, value is conserved
// (received = labelled + mined + unattributed), sources add up, shares stay
// within 0..1 and more hops never lower the labelled exposure.
func TestExposureProperties(t *testing.T) {
	ix, _ := simIndex(t, true)
	ctx := context.Background()
	var ss []*Screener
	for h := 1; h <= 3; h++ {
		s, err := New(ix, Options{Hops: h, MaxSources: 1 << 20}, testchain.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	_, _, _, n := ix.Tip().Counts()
	checked, exposed := 0, 0
	for a := uint32(1); a <= n; a += 61 {
		addr := ix.AddrString(a)
		var recv int64
		for _, o := range received(ix, a) {
			recv += ix.OutValue(o)
		}
		prev := int64(-1)
		for h, s := range ss {
			rep, err := s.Screen(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Truncated {
				continue
			}
			var src int64
			for _, x := range rep.Indirect.Sources {
				src += x.Sat
				if x.Hops < 1 || x.Hops > h+1 || len(x.Path) == 0 || len(x.Path) > x.Hops {
					t.Fatalf("%s hops %d: source %+v", addr, h+1, x)
				}
			}
			// Value the address received from itself (change) counts once.
			if rep.ValueSat > recv || rep.ValueSat <= 0 || rep.Indirect.Sat+rep.Indirect.MinedSat+rep.Indirect.UnattributedSat != rep.ValueSat ||
				rep.Indirect.UnattributedSat < 0 || src != rep.Indirect.Sat || rep.Indirect.Share < 0 || rep.Indirect.Share > 1 {
				t.Fatalf("%s hops %d (received %d): %+v", addr, h+1, recv, rep)
			}
			for _, c := range rep.Indirect.ByCategory {
				if c.Sat > rep.Indirect.Sat || c.Share > rep.Indirect.Share {
					t.Fatalf("%s hops %d: category %+v above the total %d", addr, h+1, c, rep.Indirect.Sat)
				}
			}
			if rep.Indirect.Sat < prev {
				t.Fatalf("%s: labelled exposure %d within %d hops, %d within fewer", addr, rep.Indirect.Sat, h+1, prev)
			}
			prev = rep.Indirect.Sat
			if rep.Indirect.Sat > 0 {
				exposed++
			}
		}
		checked++
	}
	if exposed == 0 {
		t.Fatalf("none of %d sampled addresses has labelled exposure", checked)
	}
}
