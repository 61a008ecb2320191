package labels

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

// ForAddress returns the labels of one address, sorted like List. It is a
// single range scan plus one manifest read per distinct file.
func ForAddress(store kv.Store, net chain.Network, key chain.AddrKey) ([]Label, error) {
	nid, err := netID(net)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, nil // no address, no labels
	}
	if len(key) > 255 {
		return nil, fmt.Errorf("%w: address key of %d bytes", ErrBadInput, len(key))
	}
	return subjectLabels(store, net, nid, kAddr, string(key))
}

// ForTx returns the labels of one transaction (TagPack tags with a
// tx_hash), sorted like List. txid is 64 hex digits.
func ForTx(store kv.Store, net chain.Network, txid string) ([]Label, error) {
	nid, err := netID(net)
	if err != nil {
		return nil, err
	}
	subj, err := parseTxid(txid)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	return subjectLabels(store, net, nid, kTx, subj)
}

func subjectLabels(store kv.Store, net chain.Network, nid, kind byte, subj string) ([]Label, error) {
	lo := subjectPrefix(kind, nid, subj)
	it, err := store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Label
	files := map[uint32]manifest{}
	for ok := it.First(); ok; ok = it.Next() {
		pk, rec, err := decodeLabel(it.Key(), it.Value())
		if err != nil {
			return nil, err
		}
		m, ok := files[pk.fid]
		if !ok {
			if m, err = getManifest(store, pk.fid); err != nil {
				return nil, err
			}
			files[pk.fid] = m
		}
		out = append(out, makeLabel(net, pk, rec, m))
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	sortLabels(out)
	return out, nil
}

func decodeLabel(k, v []byte) (parsedKey, record, error) {
	pk, err := parseLabelKey(k)
	if err != nil {
		return parsedKey{}, record{}, err
	}
	rec, err := decodeRecord(v)
	return pk, rec, err
}

func makeLabel(net chain.Network, pk parsedKey, r record, m manifest) Label {
	l := Label{
		Label: r.label, Category: r.category, Source: r.source, Confidence: r.confidence,
		ConfidenceLevel: int(r.level), Abuse: r.abuse, Actor: r.actor, Context: r.context,
		IsClusterDefiner: r.clusterDefiner, Lastmod: r.lastmod,
		File: m.path, FileSHA256: hex.EncodeToString(m.sha[:]), ImportedAt: m.time(),
	}
	if pk.kind == kAddr {
		l.Key = chain.AddrKey(pk.subj)
		l.Address = l.Key.Encode(net)
	} else {
		l.TxHash = hex.EncodeToString([]byte(pk.subj))
	}
	return l
}

// sortLabels orders by address, then source, then label (transaction labels,
// which have no address, first, by txid); the remaining fields break ties.
func sortLabels(ls []Label) {
	slices.SortStableFunc(ls, func(a, b Label) int {
		return cmp.Or(
			strings.Compare(a.Address, b.Address), strings.Compare(a.TxHash, b.TxHash),
			strings.Compare(a.Source, b.Source), strings.Compare(a.Label, b.Label),
			strings.Compare(a.Category, b.Category), strings.Compare(a.File, b.File))
	})
}

// All calls fn for every label of network net, once each, in key order
// (by address key, then file, then position in the file; transaction labels
// last). An error from fn stops the walk and is returned.
func All(store kv.Store, net chain.Network, fn func(Label) error) error {
	nid, err := netID(net)
	if err != nil {
		return err
	}
	if err := checkVersion(store); err != nil {
		return err
	}
	files, err := manifests(store)
	if err != nil {
		return err
	}
	for _, kind := range []byte{kAddr, kTx} {
		lo := []byte{prefix, kind, nid}
		if err := scan(store, lo, func(pk parsedKey, rec record, _ []byte) error {
			m, ok := files[pk.fid]
			if !ok {
				return fmt.Errorf("%w: label of file %d has no manifest", ErrCorrupt, pk.fid)
			}
			return fn(makeLabel(net, pk, rec, m))
		}); err != nil {
			return err
		}
	}
	return nil
}

// scan decodes every label under prefix lo.
func scan(store kv.Store, lo []byte, fn func(parsedKey, record, []byte) error) error {
	it, err := store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		pk, rec, err := decodeLabel(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if err := fn(pk, rec, it.Key()); err != nil {
			return err
		}
	}
	return it.Error()
}

// List returns the labels of network net that match q, sorted by address,
// then source, then label, and paged by q.Offset and q.Limit.
func List(store kv.Store, net chain.Network, q Query) ([]Label, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("%w: negative limit or offset", ErrBadInput)
	}
	label, source := strings.ToLower(q.Label), strings.ToLower(q.Source)
	keep := func(l Label) bool {
		return strings.Contains(strings.ToLower(l.Label), label) &&
			strings.Contains(strings.ToLower(l.Source), source) &&
			(q.Category == "" || strings.EqualFold(l.Category, q.Category))
	}
	var out []Label
	if a := strings.TrimSpace(q.Address); a != "" {
		nid, err := netID(net)
		if err != nil {
			return nil, err
		}
		kind, subj := byte(kTx), ""
		if len(a) == 64 {
			subj, err = parseTxid(a)
		}
		if len(a) != 64 || err != nil {
			kind = kAddr
			k, err := chain.ParseAddress(net, a)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
			}
			subj = string(k)
		}
		ls, err := subjectLabels(store, net, nid, kind, subj)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if keep(l) {
				out = append(out, l)
			}
		}
	} else {
		if err := All(store, net, func(l Label) error {
			if keep(l) {
				out = append(out, l)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		sortLabels(out)
	}
	out = out[min(q.Offset, len(out)):]
	if q.Limit > 0 && q.Limit < len(out) {
		out = out[:q.Limit]
	}
	return out, nil
}

// Count is the number of labels stored, over all networks.
func Count(store kv.Store) (int, error) {
	if err := checkVersion(store); err != nil {
		return 0, err
	}
	files, err := manifests(store)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range files {
		n += int(m.count)
	}
	return n, nil
}

// Remove deletes, on every network, the labels whose source is exactly
// source, and every label of a file whose imported path is source. It
// returns how many labels it removed.
func Remove(store kv.Store, source string) (int, error) {
	if strings.TrimSpace(source) == "" {
		return 0, fmt.Errorf("%w: empty source", ErrBadInput)
	}
	if err := checkVersion(store); err != nil {
		return 0, err
	}
	files, err := manifests(store)
	if err != nil {
		return 0, err
	}
	abs, _ := filepath.Abs(source)
	b := store.NewBatch()
	defer b.Close()
	n := 0
	dropped := map[uint32]bool{}
	for _, id := range slices.Sorted(maps.Keys(files)) {
		m := files[id]
		if m.path != source && m.path != abs {
			continue
		}
		c, err := dropFile(store, b, id)
		if err != nil {
			return 0, err
		}
		b.Delete(key(kPath, []byte{m.nid}, []byte(m.path)))
		dropped[id] = true
		n += c
	}
	removed := map[uint32]uint64{}
	for _, kind := range []byte{kAddr, kTx} {
		if err := scan(store, []byte{prefix, kind}, func(pk parsedKey, rec record, k []byte) error {
			if dropped[pk.fid] || rec.source != source {
				return nil
			}
			if _, ok := files[pk.fid]; !ok {
				return fmt.Errorf("%w: label of file %d has no manifest", ErrCorrupt, pk.fid)
			}
			b.Delete(append([]byte(nil), k...))
			b.Delete(key(kRev, u32(pk.fid), u32(pk.seq)))
			removed[pk.fid]++
			n++
			return nil
		}); err != nil {
			return 0, err
		}
	}
	for id, c := range removed {
		m := files[id]
		if c >= m.count {
			b.Delete(key(kFile, u32(id)))
			b.Delete(key(kPath, []byte{m.nid}, []byte(m.path)))
			continue
		}
		m.count -= c
		b.Set(key(kFile, u32(id)), m.encode())
	}
	if b.Len() == 0 {
		return 0, nil // a file that held no labels still has its manifest to drop
	}
	if err := b.Commit(true); err != nil {
		return 0, err
	}
	return n, nil
}
