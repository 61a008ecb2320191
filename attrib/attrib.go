package attrib

import (
	"errors"
	"strings"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// serviceCategories are the label categories of custodians and services:
// places where funds can be frozen or that break the owner's control, and
// so where a trace arrives. Perpetrators, victims and sanctioned parties are
// not services: a trace goes on through them.
var serviceCategories = map[string]bool{
	"exchange": true, "service": true, "wallet_service": true, "escrow_wallet": true, "hot_wallet": true,
	"cold_wallet": true, "mixing_service": true, "mixer": true, "coinjoin": true, "gambling": true, "market": true,
	"shop": true, "payment_processor": true, "atm": true, "defi_bridge": true, "bridge": true, "mining_service": true,
	"marketplace": true, "otc": true,
}

// IsService reports whether a label category is a service a trace stops at.
func IsService(category string) bool { return serviceCategories[strings.ToLower(category)] }

// Map is an in-memory attribution of address ids, built once per query.
type Map struct {
	m map[uint32]entry
}

type entry struct {
	e     taint.Entity
	level int
}

// Build loads every label of the index's network whose address the index
// holds and keeps, per address, the label filter accepts with the highest
// confidence (ties: the alphabetically first label, so the choice is
// deterministic). A nil filter keeps service labels only.
func Build(ix *index.Index, filter func(labels.Label) bool) (*Map, error) {
	if filter == nil {
		filter = func(l labels.Label) bool { return IsService(l.Category) }
	}
	m := &Map{m: map[uint32]entry{}}
	err := labels.All(ix.Store, ix.Net, func(l labels.Label) error {
		if l.Key == "" || !filter(l) {
			return nil
		}
		id, err := ix.AddrID(l.Key)
		if errors.Is(err, index.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cur, ok := m.m[id]
		if !ok || l.ConfidenceLevel > cur.level || (l.ConfidenceLevel == cur.level && l.Label < cur.e.Label) {
			m.m[id] = entry{taint.Entity{Label: l.Label, Category: l.Category}, l.ConfidenceLevel}
		}
		return nil
	})
	return m, err
}

// Entity implements taint.Attribution.
func (m *Map) Entity(addr uint32) (taint.Entity, bool) {
	e, ok := m.m[addr]
	return e.e, ok
}

// Len is the number of attributed addresses.
func (m *Map) Len() int { return len(m.m) }
