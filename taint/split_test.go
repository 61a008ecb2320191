package taint

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// taints returns the output taints and the fee taint of a Split result.
func taints(fs []Flow) (outs []int64, fee int64) {
	for _, f := range fs[:len(fs)-1] {
		outs = append(outs, f.Taint)
	}
	return outs, fs[len(fs)-1].Taint
}

// The vectors of the issue (docs/taint-models.md works each one out).
func TestSplitVectors(t *testing.T) {
	v1 := []Flow{{Value: 3, Taint: 3}, {Value: 7}}
	v2 := []Flow{{Value: 5}, {Value: 5, Taint: 5}}
	v3 := []Flow{
		{Value: 10, Taint: 4, Segs: []Seg{{6, 10}}}, // 6 clean then 4 tainted
		{Value: 10, Taint: 6, Segs: []Seg{{0, 6}}},  // 6 tainted then 4 clean
	}
	v4 := []Flow{{Value: 60, Taint: 60}, {Value: 40}}
	tests := []struct {
		name    string
		ins     []Flow
		outs    []int64
		model   Model
		want    []int64
		wantFee int64
	}{
		{"1 poison", v1, []int64{10}, Poison, []int64{10}, 0},
		{"1 haircut", v1, []int64{10}, Haircut, []int64{3}, 0},
		{"1 fifo", v1, []int64{10}, FIFO, []int64{3}, 0},
		{"1 lifo", v1, []int64{10}, LIFO, []int64{3}, 0},
		{"1 tiho", v1, []int64{10}, TIHO, []int64{3}, 0},

		{"2 poison", v2, []int64{2, 8}, Poison, []int64{2, 8}, 0},
		{"2 haircut", v2, []int64{2, 8}, Haircut, []int64{1, 4}, 0},
		{"2 fifo", v2, []int64{2, 8}, FIFO, []int64{0, 5}, 0},
		{"2 lifo", v2, []int64{2, 8}, LIFO, []int64{2, 3}, 0},
		{"2 tiho", v2, []int64{2, 8}, TIHO, []int64{0, 5}, 0},

		{"3 poison", v3, []int64{4, 10, 6}, Poison, []int64{4, 10, 6}, 0},
		{"3 haircut", v3, []int64{4, 10, 6}, Haircut, []int64{2, 5, 3}, 0},
		{"3 fifo", v3, []int64{4, 10, 6}, FIFO, []int64{0, 8, 2}, 0},
		{"3 lifo", v3, []int64{4, 10, 6}, LIFO, []int64{0, 10, 0}, 0},
		{"3 tiho", v3, []int64{4, 10, 6}, TIHO, []int64{0, 10, 0}, 0},

		{"4 poison", v4, []int64{20, 70}, Poison, []int64{20, 70}, 10},
		{"4 haircut", v4, []int64{20, 70}, Haircut, []int64{12, 42}, 6},
		{"4 fifo", v4, []int64{20, 70}, FIFO, []int64{20, 40}, 0},
		{"4 lifo", v4, []int64{20, 70}, LIFO, []int64{0, 50}, 10},
		{"4 tiho", v4, []int64{20, 70}, TIHO, []int64{0, 54}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Split(tc.model, tc.ins, tc.outs)
			if err != nil {
				t.Fatal(err)
			}
			got, fee := taints(res)
			if !slices.Equal(got, tc.want) || fee != tc.wantFee {
				t.Errorf("got %v fee %d, want %v fee %d", got, fee, tc.want, tc.wantFee)
			}
		})
	}
}

// Where the taint sits inside each output matters at the next hop.
func TestSplitSegments(t *testing.T) {
	v3 := []Flow{
		{Value: 10, Taint: 4, Segs: []Seg{{6, 10}}},
		{Value: 10, Taint: 6, Segs: []Seg{{0, 6}}},
	}
	tests := []struct {
		model Model
		ins   []Flow
		outs  []int64
		want  [][]Seg // per output, then fee
	}{
		// Stream C6 T10 C4; FIFO outputs [0,4) [4,14) [14,20).
		{FIFO, v3, []int64{4, 10, 6}, [][]Seg{nil, {{2, 10}}, {{0, 2}}, nil}},
		// LIFO lays out0 at [16,20), out1 at [6,16), out2 at [0,6).
		{LIFO, v3, []int64{4, 10, 6}, [][]Seg{nil, {{0, 10}}, nil, nil}},
		// Two tainted inputs that touch in the stream make one interval.
		{FIFO, []Flow{{Value: 5, Taint: 2, Segs: []Seg{{3, 5}}}, {Value: 5, Taint: 5}}, []int64{9}, [][]Seg{{{3, 9}}, {{0, 1}}}},
		// Fee 10 is the start of the stream under LIFO.
		{LIFO, []Flow{{Value: 60, Taint: 60}, {Value: 40}}, []int64{20, 70}, [][]Seg{nil, {{0, 50}}, {{0, 10}}}},
	}
	for _, tc := range tests {
		res, err := Split(tc.model, tc.ins, tc.outs)
		if err != nil {
			t.Fatal(err)
		}
		for j, f := range res {
			if !slices.Equal(f.Segs, tc.want[j]) {
				t.Errorf("%s outs %v: slot %d segs %v, want %v", tc.model, tc.outs, j, f.Segs, tc.want[j])
			}
		}
	}
}

func TestUnsplitVectors(t *testing.T) {
	tests := []struct {
		name  string
		model Model
		ins   []int64
		outs  []Flow
		want  []int64
	}{
		// Vector 4 backwards: where did output 1's 70 come from?
		{"poison", Poison, []int64{60, 40}, []Flow{{Value: 20}, {Value: 70, Taint: 70}}, []int64{60, 40}},
		{"haircut", Haircut, []int64{60, 40}, []Flow{{Value: 20}, {Value: 70, Taint: 70}}, []int64{42, 28}},
		{"fifo", FIFO, []int64{60, 40}, []Flow{{Value: 20}, {Value: 70, Taint: 70}}, []int64{40, 30}},
		{"lifo", LIFO, []int64{60, 40}, []Flow{{Value: 20}, {Value: 70, Taint: 70}}, []int64{50, 20}},
		{"tiho", TIHO, []int64{60, 40}, []Flow{{Value: 20}, {Value: 70, Taint: 70}}, []int64{60, 10}},
		{"haircut rounding", Haircut, []int64{1, 1, 1}, []Flow{{Value: 3, Taint: 2}}, []int64{1, 1, 0}},
		{"untainted", FIFO, []int64{5, 5}, []Flow{{Value: 10}}, []int64{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Unsplit(tc.model, tc.ins, tc.outs)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, f := range res {
				got = append(got, f.Taint)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name  string
		model Model
		ins   []Flow
		outs  []int64
		want  string
		is    error
	}{
		{"no model", 0, nil, nil, "taint: bad parameters: model model(0) (valid: poison, haircut, fifo, lifo, tiho)", ErrBadParams},
		{"outputs exceed", Haircut, []Flow{{Value: 5}}, []int64{6}, "taint: inconsistent graph: outputs (6 sat) exceed inputs (5 sat)", ErrCorrupt},
		{"negative output", FIFO, []Flow{{Value: 5}}, []int64{-1}, "taint: bad parameters: output 0 value -1 out of range [0, 2100000000000000]", ErrBadParams},
		{"taint over value", FIFO, []Flow{{Value: 5, Taint: 6}}, []int64{5}, "taint: bad parameters: input 0 taint 6 out of range [0, 5]", ErrBadParams},
		{"segs overlap", FIFO, []Flow{{Value: 9, Taint: 5, Segs: []Seg{{0, 4}, {3, 4}}}}, []int64{5}, "taint: bad parameters: input 0 segment 1 [3,4) not sorted, disjoint and inside [0,9)", ErrBadParams},
		{"segs sum", LIFO, []Flow{{Value: 9, Taint: 5, Segs: []Seg{{0, 4}}}}, []int64{5}, "taint: bad parameters: input 0 segments sum to 4, taint is 5", ErrBadParams},
		{"sum past max", Poison, []Flow{{Value: MaxSat}, {Value: 1}}, nil, "taint: bad parameters: input values sum past 2100000000000000", ErrBadParams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Split(tc.model, tc.ins, tc.outs)
			if err == nil || err.Error() != tc.want || !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// randFlows makes n inputs with random values and random tainted intervals.
func randFlows(r *rand.Rand, n int, maxVal int64) []Flow {
	fs := make([]Flow, n)
	for i := range fs {
		v := r.Int64N(maxVal + 1)
		f := Flow{Value: v}
		for p := int64(0); p < v; {
			l := 1 + r.Int64N(v-p)
			if r.IntN(2) == 0 {
				f.Segs = append(f.Segs, Seg{p, p + l})
				f.Taint += l
			}
			p += l + r.Int64N(3)
		}
		fs[i] = f
	}
	return fs
}

func checkSegs(t *testing.T, what string, f Flow) {
	t.Helper()
	var sum, end int64
	for _, s := range f.Segs {
		if s.Start < end || s.End <= s.Start || s.End > f.Value {
			t.Fatalf("%s: bad segments %v in value %d", what, f.Segs, f.Value)
		}
		sum += s.End - s.Start
		end = s.End
	}
	if sum != f.Taint {
		t.Fatalf("%s: segments %v sum %d, taint %d", what, f.Segs, sum, f.Taint)
	}
}

// Property: every model but poison conserves taint exactly, no output carries
// more taint than value, haircut is within one satoshi of the exact share,
// TIHO fills larger outputs first, FIFO/LIFO segments are well formed.
func TestSplitConservation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		maxVal := []int64{10, 1000, MaxSat / 64}[iter%3]
		ins := randFlows(r, 1+r.IntN(6), maxVal)
		var v, tin int64
		for _, f := range ins {
			v += f.Value
			tin += f.Taint
		}
		// Random outputs that leave a random fee.
		var outs []int64
		left := v - r.Int64N(v/4+1)
		for n := r.IntN(6); n > 0 && left > 0; n-- {
			x := r.Int64N(left + 1)
			outs = append(outs, x)
			left -= x
		}
		for _, m := range AllModels {
			res, err := Split(m, ins, outs)
			if err != nil {
				t.Fatal(err)
			}
			var tout int64
			for j, f := range res {
				if f.Taint < 0 || f.Taint > f.Value {
					t.Fatalf("%s slot %d taint %d value %d", m, j, f.Taint, f.Value)
				}
				tout += f.Taint
				if m.segmented() {
					checkSegs(t, m.String(), f)
				}
				if m == Poison && tin > 0 && f.Taint != f.Value {
					t.Fatalf("poison slot %d taint %d value %d", j, f.Taint, f.Value)
				}
				if m == Haircut {
					// |taint·V − w·T| < V
					exact := float64(f.Value) * float64(tin) / float64(v)
					if d := float64(f.Taint) - exact; d <= -1 || d >= 1 {
						t.Fatalf("haircut slot %d taint %d, exact %.3f", j, f.Taint, exact)
					}
				}
			}
			if m != Poison && tout != tin {
				t.Fatalf("%s: in %d out %d (ins %+v outs %v)", m, tin, tout, ins, outs)
			}
			if m == TIHO {
				for a := range outs {
					for b := range outs {
						if outs[a] > outs[b] && res[b].Taint > 0 && res[a].Taint < res[a].Value {
							t.Fatalf("tiho: output %d (%d) tainted before larger %d (%d) is full", b, outs[b], a, outs[a])
						}
					}
				}
			}
			// Backwards: what the outputs carry comes back to the inputs whole.
			back, err := Unsplit(m, values(ins), res[:len(res)-1])
			if err != nil {
				t.Fatal(err)
			}
			var tback int64
			for i, f := range back {
				if f.Taint < 0 || f.Taint > ins[i].Value {
					t.Fatalf("%s back: input %d taint %d value %d", m, i, f.Taint, ins[i].Value)
				}
				if m.segmented() {
					checkSegs(t, m.String()+" back", f)
				}
				tback += f.Taint
			}
			if m != Poison && tback != tout-res[len(res)-1].Taint {
				t.Fatalf("%s back: %d, outputs carried %d", m, tback, tout-res[len(res)-1].Taint)
			}
			// FIFO/LIFO backwards is exact: the fee carried what the inputs
			// lost, so only input taint that went into outputs comes back and
			// it comes back to the same satoshis.
			if m.segmented() {
				for i, f := range back {
					for _, s := range f.Segs {
						if !covered(ins[i].Segs, s) {
							t.Fatalf("%s back: input %d segment %v not tainted in %v", m, i, s, ins[i].Segs)
						}
					}
				}
			}
		}
	}
}

func values(fs []Flow) []int64 {
	v := make([]int64, len(fs))
	for i, f := range fs {
		v[i] = f.Value
	}
	return v
}

// covered reports whether s lies inside the union of segs.
func covered(segs []Seg, s Seg) bool {
	var u []Seg
	for _, x := range segs {
		if k := len(u) - 1; k >= 0 && u[k].End == x.Start {
			u[k].End = x.End
			continue
		}
		u = append(u, x)
	}
	for _, x := range u {
		if x.Start <= s.Start && s.End <= x.End {
			return true
		}
	}
	return false
}

// Values near MaxSat multiply past 64 bits; the 128-bit path must stay exact.
func TestHaircutLargeValues(t *testing.T) {
	ins := []Flow{{Value: MaxSat - 3, Taint: MaxSat - 7}, {Value: 3}}
	outs := []int64{MaxSat / 3, MaxSat / 3, MaxSat/3 - 11}
	res, err := Split(Haircut, ins, outs)
	if err != nil {
		t.Fatal(err)
	}
	// V = MaxSat, T = V−7, a = MaxSat/3; share_j = w_j − 7·w_j/V.
	// out0, out1: a − 7/3 → floor a−3, fraction 2/3.
	// out2: (a−11) − 7/3 + 77/V → floor a−14, fraction 2/3 + 77/V.
	// fee 11: 11 − 77/V → floor 10, fraction 1 − 77/V.
	// Floors sum to 3a−10, so 3 satoshis go to the largest fractions: the
	// fee, out2, then out0 (tied with out1, lowest index wins).
	a := int64(MaxSat / 3)
	want := []int64{a - 2, a - 3, a - 13, 11}
	got := []int64{res[0].Taint, res[1].Taint, res[2].Taint, res[3].Taint}
	var sum int64
	for _, x := range got {
		sum += x
	}
	if sum != MaxSat-7 {
		t.Fatalf("sum %d, want %d", sum, int64(MaxSat-7))
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(2), int64(1000))
	f.Add(uint64(7), uint8(1), uint8(0), int64(MaxSat/4))
	f.Fuzz(func(t *testing.T, seed uint64, nin, nout uint8, maxVal int64) {
		if maxVal < 0 || maxVal > MaxSat/16 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 0))
		ins := randFlows(r, int(nin%16), maxVal)
		var v, tin int64
		for _, f := range ins {
			v += f.Value
			tin += f.Taint
		}
		outs := make([]int64, nout%16)
		for j := range outs {
			outs[j] = r.Int64N(v/int64(len(outs)) + 1)
		}
		for _, m := range AllModels {
			res, err := Split(m, ins, outs)
			if err != nil {
				t.Fatal(err)
			}
			var tout int64
			for _, f := range res {
				tout += f.Taint
			}
			if m != Poison && tout != tin {
				t.Fatalf("%s: in %d out %d", m, tin, tout)
			}
		}
	})
}
