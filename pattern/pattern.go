package pattern

import (
	"slices"
	"strings"
)

// Kind is a set of transaction shapes. Detect reports at most one CoinJoin
// kind (the most specific that matches) and at most one of PeelStep,
// Consolidation, FanOut and Coinbase; their input/output counts exclude each
// other and a CoinJoin (≥ 2 inputs, ≥ 3 outputs).
type Kind uint16

// The kinds. The numeric values are not stored; order only fixes String.
const (
	Wasabi1         Kind = 1 << iota // ZeroLink: many equal outputs ≈ 0.1 BTC
	Wasabi2                          // WabiSabi: ≥ 50 inputs, mostly standard denominations
	Whirlpool                        // Samourai: 5 in, 5 equal outputs at a pool value
	JoinMarket                       // n ≥ 3 equal outputs, at most n others, ≥ n inputs
	GenericCoinJoin                  // 2 equal outputs from distinct input addresses
	PeelStep                         // 1 in, 2 out
	Consolidation                    // ≥ ConsolidationMinInputs in, 1 out
	FanOut                           // 1 in, ≥ FanOutMinOutputs out
	Coinbase                         // no inputs

	coinJoinMask = Wasabi1 | Wasabi2 | Whirlpool | JoinMarket | GenericCoinJoin
	numKinds     = 9
)

// Thresholds (documented in docs/taint-models.md).
const (
	// ConsolidationMinInputs is the fewest inputs of a 1-output consolidation.
	ConsolidationMinInputs = 3
	// FanOutMinOutputs is the fewest outputs of a 1-input fan-out.
	FanOutMinOutputs = 5
	// MinCoinJoinDenom is the smallest equal-output value taken as a CoinJoin
	// denomination; below it equal outputs are dust/protocol markers
	// (546, 2730, 5430 sat...), not mixing.
	MinCoinJoinDenom = 5000
	// Wasabi1Low and Wasabi1High bound the ZeroLink base denomination
	// (0.1 BTC ± 10%: the coordinator adjusted it slightly between rounds).
	Wasabi1Low  = 9_000_000
	Wasabi1High = 11_000_000
	// Wasabi1MinEqual is the fewest equal outputs of a ZeroLink round.
	Wasabi1MinEqual = 10
	// Wasabi2MinInputs is the fewest inputs of a WabiSabi round.
	Wasabi2MinInputs = 50
	// JoinMarketMinEqual is the fewest equal outputs of a JoinMarket join.
	JoinMarketMinEqual = 3
)

// WhirlpoolPools are the Whirlpool pool denominations in satoshis.
var WhirlpoolPools = [...]int64{100_000, 1_000_000, 5_000_000, 50_000_000}

var kindNames = [numKinds]string{
	"wasabi1", "wasabi2", "whirlpool", "joinmarket", "coinjoin", "peel", "consolidation", "fanout", "coinbase",
}

// IsCoinJoin reports whether k contains any CoinJoin kind.
func (k Kind) IsCoinJoin() bool { return k&coinJoinMask != 0 }

// String lists the kinds joined by "|", or "none".
func (k Kind) String() string {
	if k == 0 {
		return "none"
	}
	var b strings.Builder
	for i := range numKinds {
		if k&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(kindNames[i])
		}
	}
	if rest := k &^ (1<<numKinds - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("unknown")
	}
	return b.String()
}

// TxView is what Detect looks at: the values and addresses of a
// transaction's inputs (the outputs they spend) and outputs. OutTypes holds
// chain.ScriptType values.
type TxView struct {
	InValues, OutValues []int64
	InAddrs, OutAddrs   []uint32
	OutTypes            []uint8
}

const scriptOpReturn = 9 // chain.ScriptOpReturn; pattern stays free of imports

// Detect classifies a transaction. It runs on every transaction during
// clustering, so it does not allocate for transactions up to stackMax
// inputs/outputs.
func Detect(v TxView) Kind {
	nIn, nOut := len(v.InValues), len(v.OutValues)
	if nIn == 0 {
		return Coinbase
	}
	var k Kind
	switch {
	case nIn == 1 && nOut == 2:
		if v.OutValues[0] > 0 && v.OutValues[1] > 0 && !hasOpReturn(v) {
			k |= PeelStep
		}
	case nOut == 1 && nIn >= ConsolidationMinInputs:
		k |= Consolidation
	case nIn == 1 && nOut >= FanOutMinOutputs:
		k |= FanOut
	}
	if nIn >= 2 && nOut >= 3 {
		k |= coinJoin(v)
	}
	return k
}

func hasOpReturn(v TxView) bool {
	return slices.Contains(v.OutTypes, scriptOpReturn)
}

// stackMax is the size of the stack buffers Detect sorts copies in; larger
// transactions are rare and may allocate.
const stackMax = 256

func coinJoin(v TxView) Kind {
	nIn, nOut := len(v.InValues), len(v.OutValues)
	if w := whirlpool(v); w != 0 {
		return w
	}
	if nIn >= Wasabi2MinInputs {
		std := 0
		for _, x := range v.OutValues {
			if IsStandardDenomination(x) {
				std++
			}
		}
		if 2*std >= nOut {
			return Wasabi2
		}
	}
	denom, k := mode(v.OutValues)
	if k < 2 || denom < MinCoinJoinDenom || nIn < k || !distinctAddrsAt(v, denom) {
		return 0
	}
	switch {
	case k >= Wasabi1MinEqual && denom >= Wasabi1Low && denom <= Wasabi1High:
		return Wasabi1
	case k >= JoinMarketMinEqual && nOut-k <= k:
		return JoinMarket
	case k == 2 && nOut-k <= k && distinctCount(v.InAddrs, 2) >= 2:
		return GenericCoinJoin
	}
	return 0
}

// whirlpool: 5 inputs, 5 outputs all at one pool value, 5 distinct output
// addresses, every input at least the pool value (premix carries the miner
// fee, remixes are exact).
func whirlpool(v TxView) Kind {
	if len(v.InValues) != 5 || len(v.OutValues) != 5 {
		return 0
	}
	d := v.OutValues[0]
	if !slices.Contains(WhirlpoolPools[:], d) {
		return 0
	}
	for _, x := range v.OutValues {
		if x != d {
			return 0
		}
	}
	for _, x := range v.InValues {
		if x < d {
			return 0
		}
	}
	if distinctCount(v.OutAddrs, 5) < 5 {
		return 0
	}
	return Whirlpool
}

// IsStandardDenomination reports whether v is one of the WabiSabi standard
// output values: at least 5000 sat and a power of two, a power of three or
// twice one, or 1, 2 or 5 times a power of ten.
func IsStandardDenomination(v int64) bool {
	if v < MinCoinJoinDenom {
		return false
	}
	if v&(v-1) == 0 {
		return true
	}
	t := v
	if t%2 == 0 {
		t /= 2
	}
	for t%3 == 0 {
		t /= 3
	}
	if t == 1 {
		return true
	}
	for v%10 == 0 {
		v /= 10
	}
	return v == 1 || v == 2 || v == 5
}

// mode returns the most frequent value and its count; ties go to the larger
// value (a mixing denomination is larger than the change that repeats by
// chance).
func mode(vals []int64) (val int64, count int) {
	var buf [stackMax]int64
	var s []int64
	if len(vals) <= stackMax {
		s = buf[:len(vals)]
	} else {
		s = make([]int64, len(vals))
	}
	copy(s, vals)
	slices.Sort(s)
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i >= count {
			val, count = s[i], j-i
		}
		i = j
	}
	return val, count
}

// distinctAddrsAt reports whether the outputs of value d pay distinct
// addresses: participants each get a fresh address.
func distinctAddrsAt(v TxView, d int64) bool {
	var buf [stackMax]uint32
	s := buf[:0]
	if len(v.OutValues) > stackMax {
		s = make([]uint32, 0, len(v.OutValues))
	}
	for i, x := range v.OutValues {
		if x == d && i < len(v.OutAddrs) {
			s = append(s, v.OutAddrs[i])
		}
	}
	return distinctCount(s, len(s)) == len(s)
}

// distinctCount counts distinct nonzero addresses, stopping at limit.
func distinctCount(addrs []uint32, limit int) int {
	var buf [stackMax]uint32
	var s []uint32
	if len(addrs) <= stackMax {
		s = buf[:len(addrs)]
	} else {
		s = make([]uint32, len(addrs))
	}
	copy(s, addrs)
	slices.Sort(s)
	n := 0
	for i, a := range s {
		if a != 0 && (i == 0 || a != s[i-1]) {
			n++
			if n >= limit {
				return n
			}
		}
	}
	return n
}
