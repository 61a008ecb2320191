package cluster

import (
	"errors"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/pattern"
)

const (
	pkh = uint8(chain.ScriptP2PKH)
	sh  = uint8(chain.ScriptP2SH)
	wpk = uint8(chain.ScriptP2WPKH)
	opr = uint8(chain.ScriptOpReturn)
)

func TestChangeFinder(t *testing.T) {
	// A payment from addresses 1 and 2 (P2WPKH, 0.5 and 0.3 BTC) paying
	// 0.6 BTC to address 3 (P2PKH, seen before) and 0.19990000 BTC to the
	// fresh address 10 (P2WPKH); address ids from 10 on are first paid here.
	in := func() ([]int64, []uint32, []uint8) {
		return []int64{50_000_000, 30_000_000}, []uint32{1, 2}, []uint8{wpk, wpk}
	}
	type tx struct {
		outVals  []int64
		outAddrs []uint32
		outTypes []uint8
	}
	pay := tx{[]int64{60_000_000, 19_990_000}, []uint32{3, 10}, []uint8{pkh, wpk}}
	for _, tc := range []struct {
		name string
		h    Heuristics
		tx   tx
		want int
	}{
		{"none selected", 0, pay, -1},
		{"address type", AddressType, pay, 1},
		{"address type, both outputs of the input type", AddressType, tx{pay.outVals, pay.outAddrs, []uint8{wpk, wpk}}, -1},
		{"optimal change", OptimalChange, pay, 1},
		{"optimal change, both below the smallest input", OptimalChange, tx{[]int64{20_000_000, 19_990_000}, pay.outAddrs, pay.outTypes}, -1},
		{"optimal change, equal to the smallest input is no candidate", OptimalChange, tx{[]int64{30_000_000, 49_990_000}, pay.outAddrs, pay.outTypes}, -1},
		{"power of ten", PowerOfTen, pay, 1},
		{"power of ten, both round", PowerOfTen, tx{[]int64{60_000_000, 19_000_000}, pay.outAddrs, pay.outTypes}, -1},
		{"power of ten, one round payment", PowerOfTen, tx{[]int64{60_000_000, 19_987_654}, pay.outAddrs, pay.outTypes}, 1},
		{"power of ten, no round output", PowerOfTen, tx{[]int64{60_000_001, 19_987_654}, pay.outAddrs, pay.outTypes}, -1},
		{"client change", ClientChange, pay, 1},
		{"client change, two fresh addresses", ClientChange, tx{pay.outVals, []uint32{11, 10}, pay.outTypes}, -1},
		{"client change, both outputs to one fresh address", ClientChange, tx{pay.outVals, []uint32{10, 10}, pay.outTypes}, -1},
		{"address reuse", AddressReuse, tx{pay.outVals, []uint32{3, 2}, pay.outTypes}, 1},
		{"address reuse, none", AddressReuse, pay, -1},
		{"intersection agrees", AddressType | OptimalChange | ClientChange, pay, 1},
		{"intersection empty", ClientChange | AddressReuse, pay, -1},
		{"one output with an address has no change", allHeuristics &^ AddressReuse, tx{[]int64{79_990_000, 0}, []uint32{10, 0}, []uint8{wpk, opr}}, -1},
		{"OP_RETURN is never change", OptimalChange, tx{[]int64{60_000_000, 0, 19_990_000}, []uint32{3, 0, 10}, []uint8{pkh, opr, wpk}}, 2},
		{"address type, mixed input types", AddressType, tx{pay.outVals, pay.outAddrs, pay.outTypes}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, addrs, types := in()
			if tc.name == "address type, mixed input types" {
				types = []uint8{wpk, sh}
			}
			v := &pattern.TxView{InValues: vals, InAddrs: addrs, OutValues: tc.tx.outVals, OutAddrs: tc.tx.outAddrs, OutTypes: tc.tx.outTypes}
			cf := newChangeFinder(Options{Change: tc.h, PowerOfTenDigits: DefaultPowerOfTenDigits})
			if got := cf.find(v, types, 10); got != tc.want {
				t.Fatalf("change output %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseHeuristics(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Heuristics
		err  string
	}{
		{"", 0, ""},
		{"none", 0, ""},
		{"ALL", allHeuristics, ""},
		{"address-type", AddressType, ""},
		{" optimal-change , power-of-ten,client-change,address-reuse", OptimalChange | PowerOfTen | ClientChange | AddressReuse, ""},
		{"address-type,address-type", 0, `cluster: bad input: heuristic "address-type" given twice`},
		{"peeling", 0, `cluster: bad input: unknown change heuristic "peeling" (valid: address-type,optimal-change,power-of-ten,client-change,address-reuse, all, none)`},
		{"address-type,", 0, `cluster: bad input: unknown change heuristic "" (valid: address-type,optimal-change,power-of-ten,client-change,address-reuse, all, none)`},
	} {
		got, err := ParseHeuristics(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrBadInput) {
				t.Errorf("%q: error %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := ParseHeuristics(got.String()); err != nil || back != got {
			t.Errorf("%q: round trip via %q gives %v, %v", tc.in, got.String(), back, err)
		}
	}
}
