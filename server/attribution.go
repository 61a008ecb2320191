package server

import (
	"errors"

	"github.com/cointrail/cointrail/attrib"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// interest is what the server cares about one address for: the service it
// belongs to (taint arriving there is an arrival) and the cases watching it.
type interest struct {
	key      chain.AddrKey
	id       uint32 // 0 until the address appears on chain
	entity   taint.Entity
	level    int
	service  bool
	watchers []uint32 // case ids, ascending
}

// book maps addresses to interests, by key and, once they are on chain, by
// index address id. Unlike attrib.Map it follows the chain: an address that
// first appears in a new block is resolved when that block is processed.
// It is read under the server's chain read lock and changed under its write
// lock.
type book struct {
	byKey   map[chain.AddrKey]*interest
	byID    map[uint32]*interest
	pending int    // interests without an id
	maxID   uint32 // the highest address id looked at
}

// Entity implements taint.Attribution with the service labels.
func (b *book) Entity(addr uint32) (taint.Entity, bool) {
	if in, ok := b.byID[addr]; ok && in.service {
		return in.entity, true
	}
	return taint.Entity{}, false
}

// watchers returns the cases watching addr.
func (b *book) watchers(addr uint32) []uint32 {
	if in, ok := b.byID[addr]; ok {
		return in.watchers
	}
	return nil
}

// buildBook loads the service labels of the index's network (the label with
// the highest confidence per address, ties to the alphabetically first, as
// attrib.Build chooses) and the watch lists of cases, and resolves them to
// address ids.
func buildBook(ix *index.Index, cases []*caseState) (*book, error) {
	b := &book{byKey: map[chain.AddrKey]*interest{}, byID: map[uint32]*interest{}}
	err := labels.All(ix.Store, ix.Net, func(l labels.Label) error {
		if l.Key == "" || !attrib.IsService(l.Category) {
			return nil
		}
		in := b.get(l.Key)
		if !in.service || l.ConfidenceLevel > in.level || (l.ConfidenceLevel == in.level && l.Label < in.entity.Label) {
			in.service, in.level = true, l.ConfidenceLevel
			in.entity = taint.Entity{Label: l.Label, Category: l.Category}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		for _, k := range c.watchKeys {
			in := b.get(k)
			in.watchers = append(in.watchers, c.def.ID)
		}
	}
	for k, in := range b.byKey {
		id, err := ix.AddrID(k)
		switch {
		case err == nil:
			in.id = id
			b.byID[id] = in
		case errors.Is(err, index.ErrNotFound):
			b.pending++
		default:
			return nil, err
		}
	}
	_, _, _, b.maxID = ix.Tip().Counts()
	return b, nil
}

func (b *book) get(k chain.AddrKey) *interest {
	in, ok := b.byKey[k]
	if !ok {
		in = &interest{key: k}
		b.byKey[k] = in
	}
	return in
}

// advance resolves interests whose address first appeared in blocks
// connected since the last call. The caller holds the chain write lock.
func (b *book) advance(ix *index.Index) error {
	_, _, _, n := ix.Tip().Counts()
	if b.pending == 0 || n <= b.maxID {
		b.maxID = max(b.maxID, n)
		return nil
	}
	for id := b.maxID + 1; id <= n; id++ {
		k, err := ix.AddrKeyOf(id)
		if err != nil {
			return err
		}
		if in, ok := b.byKey[k]; ok && in.id == 0 {
			in.id = id
			b.byID[id] = in
			b.pending--
		}
	}
	b.maxID = n
	return nil
}
