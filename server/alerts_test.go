package server

import (
	"strings"
	"testing"
)

// An arrival's message names the taint the tx moved (amount_sat) and,
// when only part of it reached the service, that part too.
func TestArrivalMessageNamesBothAmounts(t *testing.T) {
	h := uint32(7)
	a := &Alert{Kind: KindServiceArrival, CaseID: 1, CaseName: "dmm", Model: "haircut", TxID: "ab", BlockHeight: &h,
		AmountSat: 5_0000_0000, Label: "Kestrel", Category: "exchange",
		Destinations: []Destination{{Vout: 0, TaintSat: 3_0000_0000, Label: "Kestrel"}, {Vout: 1, TaintSat: 2_0000_0000}}}
	got := a.message()
	want := "case 1 (dmm): 5.00000000 BTC tainted (haircut) moved in tx ab at block 7, 3.00000000 BTC of it to Kestrel (exchange)"
	if got != want {
		t.Fatalf("message %q\n want %q", got, want)
	}
	a.Destinations[1].Label = "Kestrel"
	if got := a.message(); !strings.Contains(got, "5.00000000 BTC tainted (haircut) arrived at Kestrel") {
		t.Fatalf("all taint arrived: %q", got)
	}
}
