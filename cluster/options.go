package cluster

import (
	"fmt"
	"strings"
)

// Heuristics is a set of change-address heuristics. The zero value (the
// default) clusters by the multi-input heuristic only.
type Heuristics uint8

// The change heuristics (docs/clustering.md gives each rule precisely). The
// bit values are stored with the clustering; append, never renumber.
const (
	// AddressType: all inputs have one script type; candidates are the
	// outputs of that type.
	AddressType Heuristics = 1 << iota
	// OptimalChange: candidates are the outputs worth less than the smallest input.
	OptimalChange
	// PowerOfTen: candidates are the outputs whose value is not a multiple
	// of 10^Options.PowerOfTenDigits satoshis.
	PowerOfTen
	// ClientChange: candidates are the outputs that pay an address for the
	// first time (wallets make a fresh change address).
	ClientChange
	// AddressReuse: candidates are the outputs paying one of the input addresses.
	AddressReuse

	allHeuristics = AddressType | OptimalChange | PowerOfTen | ClientChange | AddressReuse
)

var heuristicNames = []struct {
	h    Heuristics
	name string
}{
	{AddressType, "address-type"},
	{OptimalChange, "optimal-change"},
	{PowerOfTen, "power-of-ten"},
	{ClientChange, "client-change"},
	{AddressReuse, "address-reuse"},
}

// AllHeuristics lists every change heuristic in a fixed order.
func AllHeuristics() []Heuristics {
	out := make([]Heuristics, len(heuristicNames))
	for i, n := range heuristicNames {
		out[i] = n.h
	}
	return out
}

// Names lists the heuristics in h in a fixed order.
func (h Heuristics) Names() []string {
	out := []string{}
	for _, n := range heuristicNames {
		if h&n.h != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// String is the comma-separated list of names, or "none".
func (h Heuristics) String() string {
	if h == 0 {
		return "none"
	}
	return strings.Join(h.Names(), ",")
}

// ParseHeuristics parses a comma-separated list of heuristic names
// ("address-type,optimal-change"); "" and "none" mean none, "all" every one.
func ParseHeuristics(s string) (Heuristics, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "none":
		return 0, nil
	case "all":
		return allHeuristics, nil
	}
	var h Heuristics
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		found := false
		for _, n := range heuristicNames {
			if n.name == p {
				if h&n.h != 0 {
					return 0, fmt.Errorf("%w: heuristic %q given twice", ErrBadInput, p)
				}
				h |= n.h
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: unknown change heuristic %q (valid: %s, all, none)", ErrBadInput, p, allHeuristics)
		}
	}
	return h, nil
}

// Options configure a clustering.
type Options struct {
	// Change selects change heuristics; with several, an output is change
	// only if every selected heuristic names it (their candidate sets are
	// intersected) and it is the only such output.
	Change Heuristics `json:"change"`
	// PowerOfTenDigits is the d of the power-of-ten heuristic: round values
	// are multiples of 10^d sat. 0 means DefaultPowerOfTenDigits.
	PowerOfTenDigits int `json:"power_of_ten_digits"`
	// SuperclusterSize: clusters with at least this many addresses are
	// reported as superclusters (Stats, EntityView). 0 means
	// DefaultSuperclusterSize on Build and the stored value on Update.
	SuperclusterSize uint32 `json:"supercluster_size"`
}

// Defaults of Options.
const (
	DefaultPowerOfTenDigits = 6 // 0.01 BTC, BlockSci's default
	DefaultSuperclusterSize = 100_000
)

func (o Options) normalized() (Options, error) {
	if o.Change&^allHeuristics != 0 {
		return o, fmt.Errorf("%w: unknown heuristic bits %#x", ErrBadInput, uint8(o.Change&^allHeuristics))
	}
	if o.PowerOfTenDigits == 0 {
		o.PowerOfTenDigits = DefaultPowerOfTenDigits
	}
	if o.PowerOfTenDigits < 1 || o.PowerOfTenDigits > 15 {
		return o, fmt.Errorf("%w: power-of-ten digits %d (want 1..15)", ErrBadInput, o.PowerOfTenDigits)
	}
	return o, nil
}
