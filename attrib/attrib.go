package attrib

import (
	"errors"
	"strings"

	"github.com/cointrail/cointrail/cluster"
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

// Map is an in-memory attribution of address ids, built once per query:
// an address's own labels, and — where `cointrail cluster build` has run —
// the labels that define its cluster (docs/clustering.md).
type Map struct {
	filter   func(labels.Label) bool
	m        map[uint32]entry
	clusters *cluster.Attribution // nil: no usable clustering, or no cluster-defining label passes filter
	// Note says why clusters are not used, when they exist but are stale.
	Note string
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
	m := &Map{filter: filter, m: map[uint32]entry{}}
	definers := false
	err := labels.All(ix.Store, ix.Net, func(l labels.Label) error {
		if l.Key == "" || !filter(l) {
			return nil
		}
		definers = definers || l.IsClusterDefiner
		id, err := ix.AddrID(l.Key)
		if errors.Is(err, index.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m.m[id] = better(m.m[id], l)
		return nil
	})
	if err != nil || !definers {
		return m, err
	}
	r, err := cluster.Open(ix)
	switch {
	case errors.Is(err, cluster.ErrNotBuilt):
		return m, nil
	case errors.Is(err, cluster.ErrRebuild):
		m.Note = "address clusters are out of date with the index; run `cointrail cluster build` to use them"
		return m, nil
	case err != nil:
		return nil, err
	}
	if m.clusters, err = cluster.LoadAttribution(ix, r); err != nil {
		return nil, err
	}
	return m, nil
}

func better(cur entry, l labels.Label) entry {
	if cur.e.Label == "" || l.ConfidenceLevel > cur.level || (l.ConfidenceLevel == cur.level && l.Label < cur.e.Label) {
		return entry{taint.Entity{Label: l.Label, Category: l.Category, Source: l.Source, Confidence: l.ConfidenceLevel}, l.ConfidenceLevel}
	}
	return cur
}

// Entity implements taint.Attribution: the address's own label, else the
// label that defines its cluster.
func (m *Map) Entity(addr uint32) (taint.Entity, bool) {
	if e, ok := m.m[addr]; ok {
		return e.e, true
	}
	if m.clusters == nil {
		return taint.Entity{}, false
	}
	_, _, ls, err := m.clusters.Lookup(addr)
	if err != nil {
		return taint.Entity{}, false
	}
	var best entry
	for _, l := range ls {
		if m.filter(l) {
			best = better(best, l)
		}
	}
	return best.e, best.e.Label != ""
}

// Len is the number of addresses attributed by their own labels.
func (m *Map) Len() int { return len(m.m) }

// Clustered reports whether cluster-defining labels are in use.
func (m *Map) Clustered() bool { return m.clusters != nil }
