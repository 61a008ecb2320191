package cluster

import (
	"bytes"
	"testing"
)

// FuzzDecodeRows: the decoders of stored rows never panic, and whatever
// they accept encodes back to the same bytes.
func FuzzDecodeRows(f *testing.F) {
	f.Add(tipRec{Height: 7, NTx: 9, NAddr: 3, Merges: 2}.encode())
	f.Add(agg{Size: 2, Balance: 5, Received: 9, First: 1, Last: 4}.encode())
	f.Add(mergeRec{Survivor: 4, Height: 1, Tx: 2, Cause: CauseChange, RetiredSize: 1, SurvivorSize: 3}.encode())
	f.Add(encodeOptions(Options{Change: AddressType | PowerOfTen, PowerOfTenDigits: 6, SuperclusterSize: 9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tip, err := decodeTip(b); err == nil && !bytes.Equal(tip.encode(), b) {
			t.Fatalf("tip %x → %+v → %x", b, tip, tip.encode())
		}
		if a, err := decodeAgg(3, b); err == nil && !bytes.Equal(a.encode(), b) {
			t.Fatalf("agg %x → %+v → %x", b, a, a.encode())
		}
		if m, err := decodeMerge(3, b); err == nil && !bytes.Equal(m.encode(), b) {
			t.Fatalf("merge %x → %+v → %x", b, m, m.encode())
		}
		if o, err := decodeOptions(b); err == nil && !bytes.Equal(encodeOptions(o), b) {
			t.Fatalf("options %x → %+v → %x", b, o, encodeOptions(o))
		}
	})
}

// FuzzParseHeuristics: a parsed list prints back to a list that parses to
// the same set.
func FuzzParseHeuristics(f *testing.F) {
	for _, s := range []string{"", "all", "none", "address-type,optimal-change", " power-of-ten , client-change", "x,,y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeuristics(s)
		if err != nil {
			return
		}
		if back, err := ParseHeuristics(h.String()); err != nil || back != h {
			t.Fatalf("%q → %v → %q → %v, %v", s, h, h.String(), back, err)
		}
	})
}
