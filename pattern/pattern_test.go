package pattern

import (
	"testing"
)

// tx builds a view: inputs and outputs as values, addresses numbered from
// 1 (inputs) and 1001 (outputs) unless overridden, all P2WPKH (type 4).
func tx(ins, outs []int64) TxView {
	v := TxView{InValues: ins, OutValues: outs}
	for i := range ins {
		v.InAddrs = append(v.InAddrs, uint32(1+i))
	}
	for i := range outs {
		v.OutAddrs = append(v.OutAddrs, uint32(1001+i))
		v.OutTypes = append(v.OutTypes, 4)
	}
	return v
}

func rep(v int64, n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func cat(a ...[]int64) []int64 {
	var s []int64
	for _, x := range a {
		s = append(s, x...)
	}
	return s
}

func TestDetect(t *testing.T) {
	sameInAddr := tx([]int64{60_000, 60_000, 10_000}, []int64{50_000, 50_000, 15_000})
	sameInAddr.InAddrs = []uint32{7, 7, 7}
	sameOutAddr := tx(rep(1_100_000, 5), rep(1_000_000, 5))
	sameOutAddr.OutAddrs[3] = sameOutAddr.OutAddrs[0]
	peelOpReturn := tx([]int64{100}, []int64{0, 90})
	peelOpReturn.OutTypes[0] = scriptOpReturn
	peelOpReturnValued := tx([]int64{100}, []int64{10, 80})
	peelOpReturnValued.OutTypes[1] = scriptOpReturn
	jmReusedOut := tx(rep(2_000_000, 4), cat(rep(1_000_000, 3), []int64{900_000, 800_000}))
	jmReusedOut.OutAddrs[1] = jmReusedOut.OutAddrs[2]

	tests := []struct {
		name string
		v    TxView
		want Kind
	}{
		{"coinbase", tx(nil, []int64{50e8}), Coinbase},
		{"simple payment 1-in 1-out", tx([]int64{100}, []int64{90}), 0},
		{"peel 1-in 2-out", tx([]int64{100}, []int64{10, 80}), PeelStep},
		{"peel near miss: 2-in 2-out", tx([]int64{50, 50}, []int64{10, 80}), 0},
		{"peel near miss: 1-in 3-out", tx([]int64{100}, []int64{10, 20, 60}), 0},
		{"peel near miss: zero-value OP_RETURN", peelOpReturn, 0},
		{"peel near miss: valued OP_RETURN", peelOpReturnValued, 0},
		{"consolidation 3-in 1-out", tx([]int64{1, 2, 3}, []int64{5}), Consolidation},
		{"consolidation 200-in 1-out", tx(rep(1000, 200), []int64{190_000}), Consolidation},
		{"consolidation near miss: 2-in 1-out", tx([]int64{1, 2}, []int64{2}), 0},
		{"fan-out 1-in 5-out", tx([]int64{100}, []int64{1, 2, 3, 4, 5}), FanOut},
		{"fan-out near miss: 1-in 4-out", tx([]int64{100}, []int64{1, 2, 3, 4}), 0},
		{"fan-out near miss: 2-in 6-out", tx([]int64{50, 50}, []int64{1, 2, 3, 4, 5, 6}), 0},

		{"whirlpool 0.01", tx(rep(1_000_500, 5), rep(1_000_000, 5)), Whirlpool},
		{"whirlpool 0.05 remix (exact inputs)", tx(rep(5_000_000, 5), rep(5_000_000, 5)), Whirlpool},
		{"whirlpool 0.001", tx(rep(100_300, 5), rep(100_000, 5)), Whirlpool},
		{"whirlpool 0.5", tx(rep(50_001_000, 5), rep(50_000_000, 5)), Whirlpool},
		// Five equal outputs at a non-pool value still look like JoinMarket.
		{"whirlpool near miss: not a pool value", tx(rep(2_000_100, 5), rep(2_000_000, 5)), JoinMarket},
		{"whirlpool near miss: 6 outputs", tx(rep(1_300_000, 5), cat(rep(1_000_000, 5), []int64{1000})), JoinMarket},
		{"whirlpool near miss: input below pool", tx(cat(rep(1_100_000, 4), []int64{900_000}), rep(1_000_000, 5)), JoinMarket},
		{"whirlpool near miss: reused output address", sameOutAddr, 0},

		{"wasabi1", tx(rep(11_000_000, 40), cat(rep(10_001_234, 30), []int64{1_000_000, 2_000_000, 3_000_000})), Wasabi1},
		{"wasabi1 near miss: 9 equal", tx(rep(11_000_000, 9), cat(rep(10_001_234, 9), []int64{1_000_000})), JoinMarket},
		{"wasabi1 near miss: 0.2 BTC denomination", tx(rep(21_000_000, 12), rep(20_000_000, 12)), JoinMarket},

		{"wasabi2", tx(rep(1_000_000, 50), cat(
			[]int64{5000, 6561, 8192, 10_000, 13_122, 16_384, 20_000, 50_000, 100_000, 1_048_576},
			rep(200_000, 20), []int64{123_457, 7_777_777})), Wasabi2},
		{"wasabi2 near miss: 49 inputs", tx(rep(1_000_000, 49), cat(
			[]int64{5000, 6561, 8192, 10_000, 13_122, 16_384, 20_000, 50_000, 100_000, 1_048_576},
			[]int64{123_457, 7_777_777})), 0},
		{"wasabi2 near miss: mostly non-standard", tx(rep(1_000_000, 60), cat(
			[]int64{5000, 6561}, []int64{123_457, 7_777_777, 333_333, 444_444})), 0},

		{"joinmarket 3 equal + 3 change", tx([]int64{3e6, 2e6, 4e6}, []int64{1e6, 1e6, 1e6, 1_999_000, 999_000, 2_999_000}), JoinMarket},
		{"joinmarket 4 equal + 2 change", tx(rep(2e6, 4), cat(rep(1_500_000, 4), []int64{490_000, 1_480_000})), JoinMarket},
		{"joinmarket near miss: 3 equal + 4 others", tx(rep(3e6, 4), cat(rep(1e6, 3), []int64{1, 2, 3, 4})), 0},
		{"joinmarket near miss: fewer inputs than equal outputs", tx([]int64{5e6, 5e6}, rep(1e6, 3)), 0},
		{"joinmarket near miss: reused equal-output address", jmReusedOut, 0},
		{"joinmarket near miss: dust denomination", tx(rep(10_000, 4), rep(546, 4)), 0},

		{"generic 2 equal + 1 change", tx([]int64{60_000, 60_000}, []int64{50_000, 50_000, 15_000}), GenericCoinJoin},
		{"generic 2 equal + 2 change", tx([]int64{60_000, 70_000}, []int64{50_000, 50_000, 5000, 15_000}), GenericCoinJoin},
		{"generic near miss: one input address", sameInAddr, 0},
		{"generic near miss: 2 equal + 3 others", tx([]int64{60_000, 70_000, 1}, []int64{50_000, 50_000, 5000, 15_000, 10}), 0},
		{"generic near miss: 2-in 2-out", tx([]int64{60_000, 60_000}, []int64{50_000, 50_000}), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect(tc.v); got != tc.want {
				t.Errorf("Detect = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
		cj   bool
	}{
		{0, "none", false},
		{Whirlpool, "whirlpool", true},
		{GenericCoinJoin, "coinjoin", true},
		{PeelStep, "peel", false},
		{Wasabi1 | FanOut, "wasabi1|fanout", true},
		{Coinbase | 1<<12, "coinbase|unknown", false},
	}
	for _, tc := range tests {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("%d.String() = %q, want %q", uint16(tc.k), got, tc.want)
		}
		if got := tc.k.IsCoinJoin(); got != tc.cj {
			t.Errorf("%s.IsCoinJoin() = %v", tc.k, got)
		}
	}
}

func TestIsStandardDenomination(t *testing.T) {
	tests := []struct {
		v    int64
		want bool
	}{
		{4096, false}, // power of two but below the minimum
		{5000, true},  // 5·10^3
		{6561, true},  // 3^8
		{8192, true},  // 2^13
		{13_122, true},
		{10_000, true},
		{20_000, true},
		{1_000_000_000, true},
		{1_048_576, true},
		{3_000_000, false}, // 3·10^6
		{7_000, false},
		{123_456, false},
		{-8192, false},
	}
	for _, tc := range tests {
		if got := IsStandardDenomination(tc.v); got != tc.want {
			t.Errorf("IsStandardDenomination(%d) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// Every power of two, power of three and twice one at or above the minimum
// is standard, and so is d·10^n for d in {1, 2, 5}.
func TestStandardDenominationFamilies(t *testing.T) {
	for v := int64(1); v < 1e15; v *= 2 {
		if got := IsStandardDenomination(v); got != (v >= MinCoinJoinDenom) {
			t.Errorf("2^k %d: %v", v, got)
		}
	}
	for v := int64(1); v < 1e15; v *= 3 {
		for _, x := range []int64{v, 2 * v} {
			if got := IsStandardDenomination(x); got != (x >= MinCoinJoinDenom) {
				t.Errorf("3^k %d: %v", x, got)
			}
		}
	}
	for v := int64(1); v < 1e15; v *= 10 {
		for _, x := range []int64{v, 2 * v, 5 * v, 3 * v} {
			want := x >= MinCoinJoinDenom && x != 3*v
			if got := IsStandardDenomination(x); got != want {
				t.Errorf("%d: %v, want %v", x, got, want)
			}
		}
	}
}

func TestDetectDoesNotAllocate(t *testing.T) {
	v := tx(rep(2e6, 4), cat(rep(1_500_000, 4), []int64{490_000, 1_480_000}))
	w := tx(rep(1_000_000, 60), cat(rep(200_000, 60), []int64{123_457}))
	if n := testing.AllocsPerRun(100, func() { Detect(v); Detect(w) }); n != 0 {
		t.Errorf("Detect allocates %v times per run", n)
	}
}

// fakeSource is a two-transaction graph: a coinbase with 2 outputs, and a
// transaction spending both into 3 outputs.
type fakeSource struct{}

func (fakeSource) TxOutputs(tx uint32) (uint64, uint32) {
	if tx == 0 {
		return 0, 2
	}
	return 2, 3
}
func (fakeSource) TxInputs(tx uint32) (uint64, uint32) {
	if tx == 0 {
		return 0, 0
	}
	return 0, 2
}
func (fakeSource) InputPrevOut(in uint64) uint64 { return 1 - in } // spends them crosswise
func (fakeSource) OutValue(out uint64) int64     { return int64(out+1) * 1000 }
func (fakeSource) OutAddr(out uint64) uint32     { return uint32(out) + 10 }
func (fakeSource) OutType(out uint64) uint8      { return uint8(out) }

func TestViewOf(t *testing.T) {
	var v TxView
	ViewOf(fakeSource{}, 1, &v)
	want := TxView{
		InValues: []int64{2000, 1000}, InAddrs: []uint32{11, 10},
		OutValues: []int64{3000, 4000, 5000}, OutAddrs: []uint32{12, 13, 14}, OutTypes: []uint8{2, 3, 4},
	}
	if !equalView(v, want) {
		t.Fatalf("ViewOf(1) = %+v, want %+v", v, want)
	}
	ViewOf(fakeSource{}, 0, &v)
	want = TxView{InValues: []int64{}, InAddrs: []uint32{},
		OutValues: []int64{1000, 2000}, OutAddrs: []uint32{10, 11}, OutTypes: []uint8{0, 1}}
	if !equalView(v, want) {
		t.Fatalf("ViewOf(0) reusing the buffer = %+v, want %+v", v, want)
	}
	if Detect(v) != Coinbase {
		t.Errorf("coinbase view detected as %s", Detect(v))
	}
}

func equalView(a, b TxView) bool {
	eq := func(x, y []int64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	eq32 := func(x, y []uint32) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if len(a.OutTypes) != len(b.OutTypes) {
		return false
	}
	for i := range a.OutTypes {
		if a.OutTypes[i] != b.OutTypes[i] {
			return false
		}
	}
	return eq(a.InValues, b.InValues) && eq(a.OutValues, b.OutValues) && eq32(a.InAddrs, b.InAddrs) && eq32(a.OutAddrs, b.OutAddrs)
}

// Detect must not panic on any shape, including mismatched slice lengths.
func FuzzDetect(f *testing.F) {
	f.Add([]byte{5, 5, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		nIn, nOut := int(b[0]%80), int(b[1]%80)
		rest := b[2:]
		at := func(i int) int64 {
			if len(rest) == 0 {
				return 0
			}
			return int64(rest[i%len(rest)]) * 100_000
		}
		var v TxView
		for i := range nIn {
			v.InValues = append(v.InValues, at(i))
			v.InAddrs = append(v.InAddrs, uint32(at(i+1)%7))
		}
		for i := range nOut {
			v.OutValues = append(v.OutValues, at(i+nIn))
			if i%3 != 0 {
				v.OutAddrs = append(v.OutAddrs, uint32(i))
			}
		}
		k := Detect(v)
		if k.IsCoinJoin() && (nIn < 2 || nOut < 3) {
			t.Fatalf("%s with %d in %d out", k, nIn, nOut)
		}
	})
}
