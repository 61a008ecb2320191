package cluster

import (
	"slices"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/pattern"
)

// changeFinder applies the selected change heuristics to one transaction.
type changeFinder struct {
	h     Heuristics
	round int64 // 10^PowerOfTenDigits
}

func newChangeFinder(o Options) changeFinder {
	r := int64(1)
	for range o.PowerOfTenDigits {
		r *= 10
	}
	return changeFinder{h: o.Change, round: r}
}

// find returns the index of the change output of a transaction (inputs and
// outputs in v, input script types in inTypes, fresh: the lowest address id
// first paid by this transaction), or -1. An output is a candidate when it
// has an address and every selected heuristic names it; the change is the
// only candidate. Transactions with fewer than two outputs that have an
// address have no change.
func (c changeFinder) find(v *pattern.TxView, inTypes []uint8, fresh uint32) int {
	if c.h == 0 || len(v.InValues) == 0 {
		return -1
	}
	spendable := 0
	for _, a := range v.OutAddrs {
		if a != 0 {
			spendable++
		}
	}
	if spendable < 2 {
		return -1
	}
	minIn := slices.Min(v.InValues)
	sameType := true
	for _, t := range inTypes[1:] {
		if t != inTypes[0] {
			sameType = false
			break
		}
	}
	change := -1
	for j, a := range v.OutAddrs {
		if a == 0 || v.OutTypes[j] == uint8(chain.ScriptOpReturn) {
			continue
		}
		val := v.OutValues[j]
		if c.h&AddressType != 0 && (!sameType || v.OutTypes[j] != inTypes[0]) {
			continue
		}
		if c.h&OptimalChange != 0 && val >= minIn {
			continue
		}
		if c.h&PowerOfTen != 0 && val%c.round == 0 {
			continue
		}
		if c.h&ClientChange != 0 && a < fresh {
			continue
		}
		if c.h&AddressReuse != 0 && !slices.Contains(v.InAddrs, a) {
			continue
		}
		if change >= 0 {
			return -1
		}
		change = j
	}
	return change
}
