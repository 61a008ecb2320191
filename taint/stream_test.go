package taint

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// randParams draws trace parameters the way TestTraceConservationRandom
// does, limits and windows included.
func randParams(r *rand.Rand) Params {
	p := DefaultParams()
	p.MinSats = []int64{0, 0, 1000, 100_000}[r.IntN(4)]
	p.MaxHops = r.IntN(4)
	p.MaxTxs = []int{0, 0, 5, 20}[r.IntN(4)]
	p.StopAtCoinJoin = r.IntN(2) == 0
	p.StopAtService = r.IntN(3) != 0
	if r.IntN(2) == 0 {
		p.Direction = Backward
	} else {
		p.FeesToCoinbase = r.IntN(2) == 0
	}
	if r.IntN(4) == 0 {
		p.FromHeight, p.ToHeight = uint32(r.IntN(4)), uint32(4+r.IntN(8))
	}
	if r.IntN(4) == 0 {
		p.ToTime = int64(1000 * (3 + r.IntN(10)))
	}
	return p
}

// sameAsReference traces with the in-memory reference tracer, with Trace
// and with Stream, and fails unless all three give the same JSON bytes and
// the same error class.
func sameAsReference(t *testing.T, what string, g Graph, attr Attribution, seeds []Seed, p Params) {
	t.Helper()
	ref, refErr := refTrace(context.Background(), g, attr, seeds, p, nil)
	res, err := Trace(context.Background(), g, attr, seeds, p, nil)
	if (refErr == nil) != (err == nil) || errors.Is(refErr, ErrLimit) != errors.Is(err, ErrLimit) {
		t.Fatalf("%s: reference error %v, Trace error %v", what, refErr, err)
	}
	if ref == nil {
		if res != nil {
			t.Fatalf("%s: reference gave no result, Trace did", what)
		}
		return
	}
	want, err := ref.JSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: Trace JSON differs from the reference:\n got %s\nwant %s", what, got, want)
	}
	s, err := Stream(context.Background(), g, attr, seeds, p, StreamOptions{TempDir: t.TempDir()}, nil)
	if s == nil {
		t.Fatalf("%s: Stream: %v", what, err)
	}
	defer s.Close()
	var buf bytes.Buffer
	sum, err := s.WriteJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s: streamed JSON differs from the reference:\n got %s\nwant %s", what, buf.Bytes(), want)
	}
	if err := VerifyJSON(buf.Bytes()); err != nil || !bytes.Contains(want, []byte(Hash(sum).String())) {
		t.Fatalf("%s: streamed result_sha256 %x: %v", what, sum, err)
	}
	if s.NumOutputs() != len(ref.Outputs) {
		t.Fatalf("%s: NumOutputs %d, reference %d outputs", what, s.NumOutputs(), len(ref.Outputs))
	}
}

func randSeeds(r *rand.Rand, g *MemGraph) []Seed {
	numOuts := g.Out(g.NumTxs()-1, 0) + uint64(g.txOutN[g.NumTxs()-1])
	var seeds []Seed
	for n := 1 + r.IntN(3); n > 0; n-- {
		o := r.Uint64N(numOuts)
		if g.OutValue(o) == 0 || containsSeed(seeds, o) {
			continue
		}
		s := Seed{Out: o}
		if r.IntN(2) == 0 {
			s.Amount = 1 + r.Int64N(g.OutValue(o))
		}
		seeds = append(seeds, s)
	}
	return seeds
}

// The compact tracer gives the same bytes as the in-memory one on random
// graphs, for every model, both directions and random limits, with the
// state in Go slices and in mapped files, and on graphs large enough for
// the bitsets' summary words to matter.
func TestStreamMatchesReferenceRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	attr := MemAttribution{1: {Label: "A", Category: "exchange"}, 2: {Label: "B <&>", Category: "exchange"}, 3: {Label: "A", Category: "exchange"}}
	old := smallArray
	defer func() { smallArray = old }()
	for iter := range 80 {
		blocks, per := 8+r.IntN(8), 1+r.IntN(12)
		if iter%10 == 0 {
			blocks, per = 150, 40 // thousands of txs and outputs
		}
		smallArray = old
		if iter%3 == 0 {
			smallArray = 0
		}
		g := randGraph(t, r, blocks, per)
		seeds := randSeeds(r, g)
		if len(seeds) == 0 {
			continue
		}
		p := randParams(r)
		if iter%10 == 0 {
			p.MaxTxs, p.MaxHops, p.MinSats = 0, 0, 0
		}
		for _, m := range AllModels {
			p.Model = m
			sameAsReference(t, "iter "+string(rune('0'+iter%10))+" "+m.String(), g, attr, seeds, p)
		}
	}
}

// Peel chains (a long one, forward and backward) and a fan-out come out the
// same as the reference's.
func TestStreamMatchesReferenceShapes(t *testing.T) {
	g, seed := fanOutGraph(t, 300)
	for _, m := range AllModels {
		p := params(m)
		sameAsReference(t, "fan-out "+m.String(), g, nil, []Seed{{Out: seed}}, p)
	}
	g2 := newG1(t)
	for _, m := range AllModels {
		for _, d := range []Direction{Forward, Backward} {
			p := params(m)
			p.Direction = d
			for o := range uint64(6) {
				if g2.OutValue(o) > 0 {
					sameAsReference(t, "g1 "+m.String(), g2, nil, []Seed{{Out: o}}, p)
				}
			}
		}
	}
}

func TestBitset(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []uint64{1, 63, 64, 65, 4095, 4096, 4097, 300_000} {
		var a arena
		b, err := newBitset(&a, n)
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint64]bool{}
		for range 50 {
			i := r.Uint64N(n)
			b.set(i)
			want[i] = true
		}
		for range 20 { // cleared words must be skipped, and set again
			i := r.Uint64N(n)
			b.clear(i)
			delete(want, i)
		}
		var fwd []uint64
		for i, ok := b.next(0); ok; i, ok = b.next(i + 1) {
			fwd = append(fwd, i)
		}
		var bwd []uint64
		for i, ok := b.prev(n); ok; i, ok = b.prev(i - 1) {
			bwd = append(bwd, i)
			if i == 0 {
				break
			}
		}
		if len(fwd) != len(want) || len(bwd) != len(want) {
			t.Fatalf("n=%d: %d forward, %d backward, want %d", n, len(fwd), len(bwd), len(want))
		}
		for k, i := range fwd {
			if !want[i] || (k > 0 && fwd[k-1] >= i) || bwd[len(bwd)-1-k] != i {
				t.Fatalf("n=%d: walk %v / %v", n, fwd, bwd)
			}
		}
		a.release()
	}
}
