package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/kv"
)

// Reader answers queries from the stored clustering; it reads only the
// rows a query needs, so it costs nothing to open and never loads the
// union-find. Open checks once that the index still holds the clustered tip.
type Reader struct {
	ix *index.Index
	st state
}

// Open opens the stored clustering of ix for queries.
func Open(ix *index.Index) (*Reader, error) {
	st, err := readState(ix)
	if err != nil {
		return nil, err
	}
	return &Reader{ix: ix, st: st}, nil
}

// Options returns the options the clustering was built with.
func (r *Reader) Options() Options { return r.st.opts }

// TipView is the clustered tip.
type TipView struct {
	Height int64  `json:"height"` // -1: nothing clustered yet
	Hash   string `json:"hash"`
	Txs    uint32 `json:"txs"`
	Addrs  uint32 `json:"addresses"`
	Merges uint64 `json:"merges"`
}

// Tip returns the last block the clustering covers.
func (r *Reader) Tip() TipView {
	t := r.st.tip
	if t.NTx == 0 {
		return TipView{Height: -1}
	}
	return TipView{Height: int64(t.Height), Hash: index.TxIDString(t.Hash), Txs: t.NTx, Addrs: t.NAddr, Merges: t.Merges}
}

// StatusView describes the stored clustering.
type StatusView struct {
	Tip              TipView  `json:"tip"`
	Heuristics       []string `json:"heuristics"`
	PowerOfTenDigits int      `json:"power_of_ten_digits"`
	SuperclusterSize uint32   `json:"supercluster_size"`
}

// Status describes the stored clustering of ix.
func Status(ix *index.Index) (*StatusView, error) {
	r, err := Open(ix)
	if err != nil {
		return nil, err
	}
	o := r.st.opts
	return &StatusView{Tip: r.Tip(), Heuristics: o.Change.Names(), PowerOfTenDigits: o.PowerOfTenDigits, SuperclusterSize: o.SuperclusterSize}, nil
}

// ClusterOf returns the cluster of address id addr.
func ClusterOf(ix *index.Index, addr uint32) (ClusterID, error) {
	r, err := Open(ix)
	if err != nil {
		return 0, err
	}
	return r.ClusterOf(addr)
}

// ClusterOf returns the cluster of address id addr. An address the
// clustering has not reached yet is its own cluster.
func (r *Reader) ClusterOf(addr uint32) (ClusterID, error) {
	if err := r.checkAddr(addr); err != nil {
		return 0, err
	}
	return r.clusterRow(addr)
}

// clusterRow reads addr's address row; it takes no index lock.
func (r *Reader) clusterRow(addr uint32) (ClusterID, error) {
	v, err := r.ix.Store.Get(keyU32(kAddr, addr))
	if errors.Is(err, kv.ErrNotFound) {
		return ClusterID(addr), nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: address row of %d: %x", ErrCorrupt, addr, v)
	}
	return ClusterID(binary.LittleEndian.Uint32(v)), nil
}

func (r *Reader) checkAddr(addr uint32) error {
	if addr == 0 {
		return fmt.Errorf("%w: address id 0 names no address", ErrBadInput)
	}
	_, _, _, n := r.ix.Tip().Counts()
	if addr > n {
		return fmt.Errorf("%w: address id %d: the index holds %d addresses", ErrNotFound, addr, n)
	}
	return nil
}

// Merge is one recorded merge: cluster Retired joined Survivor in
// transaction TxID at Height; the sizes are those just before.
type Merge struct {
	Retired      ClusterID `json:"retired"`
	Survivor     ClusterID `json:"survivor"`
	Height       uint32    `json:"height"`
	TxID         string    `json:"txid"`
	Cause        Cause     `json:"cause"`
	RetiredSize  uint32    `json:"retired_size"`
	SurvivorSize uint32    `json:"survivor_size"`
}

func (r *Reader) mergeView(m mergeRec) (Merge, error) {
	r.ix.ReadLock()
	defer r.ix.ReadUnlock()
	if m.Tx >= r.ix.NumTxs() || r.ix.TxHeight(m.Tx) != m.Height {
		return Merge{}, fmt.Errorf("%w: merge of cluster %d names tx %d at height %d, not in the index", ErrCorrupt, m.Retired, m.Tx, m.Height)
	}
	return Merge{Retired: ClusterID(m.Retired), Survivor: ClusterID(m.Survivor), Height: m.Height,
		TxID: index.TxIDString(r.ix.TxHash(m.Tx)), Cause: m.Cause, RetiredSize: m.RetiredSize, SurvivorSize: m.SurvivorSize}, nil
}

// merged returns the merge that retired cluster id, if any.
func (r *Reader) merged(id uint32) (mergeRec, bool, error) {
	v, err := r.ix.Store.Get(keyU32(kRetired, id))
	if errors.Is(err, kv.ErrNotFound) {
		return mergeRec{}, false, nil
	}
	if err != nil {
		return mergeRec{}, false, err
	}
	m, err := decodeMerge(id, v)
	return m, err == nil, err
}

// maxChain bounds a chain of merges: a retired cluster is never larger than
// its survivor, so each step at least doubles the size.
const maxChain = 34

// Resolve follows the merges from cluster id (which may have been retired)
// to the cluster that holds it now, returning that and the merges on the way.
func (r *Reader) Resolve(id ClusterID) (ClusterID, []Merge, error) {
	if err := r.checkAddr(uint32(id)); err != nil {
		return 0, nil, err
	}
	path := []Merge{}
	cur := uint32(id)
	for {
		m, ok, err := r.merged(cur)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			break
		}
		if len(path) == maxChain {
			return 0, nil, fmt.Errorf("%w: merge chain from cluster %d longer than %d", ErrCorrupt, id, maxChain)
		}
		mv, err := r.mergeView(m)
		if err != nil {
			return 0, nil, err
		}
		path = append(path, mv)
		cur = m.Survivor
	}
	now, err := r.ClusterOf(uint32(id))
	if err != nil {
		return 0, nil, err
	}
	if now != ClusterID(cur) {
		return 0, nil, fmt.Errorf("%w: merges lead from cluster %d to %d, its address row names %d", ErrCorrupt, id, cur, now)
	}
	return now, path, nil
}

// MergesView lists the merges around one cluster.
type MergesView struct {
	Cluster    ClusterID `json:"cluster"`
	MergedInto *Merge    `json:"merged_into"` // the merge that retired it, if it was
	Offset     int       `json:"offset"`
	Limit      int       `json:"limit"`
	Absorbed   []Merge   `json:"absorbed"` // clusters merged into it, by retired id
	More       bool      `json:"more"`
}

// MaxPage bounds a page of addresses or merges.
const MaxPage = 10000

func checkPage(offset, limit int) error {
	if limit <= 0 || limit > MaxPage {
		return fmt.Errorf("%w: page size %d (want 1..%d)", ErrBadInput, limit, MaxPage)
	}
	if offset < 0 {
		return fmt.Errorf("%w: negative offset %d", ErrBadInput, offset)
	}
	return nil
}

// Merges lists the merges around cluster id (see Reader.Merges).
func Merges(ix *index.Index, id ClusterID, offset, limit int) (*MergesView, error) {
	r, err := Open(ix)
	if err != nil {
		return nil, err
	}
	return r.Merges(id, offset, limit)
}

// Merges returns the merge that retired cluster id (if any) and one page of
// the merges that retired other clusters into it, in order of their ids.
func (r *Reader) Merges(id ClusterID, offset, limit int) (*MergesView, error) {
	if err := checkPage(offset, limit); err != nil {
		return nil, err
	}
	if err := r.checkAddr(uint32(id)); err != nil {
		return nil, err
	}
	v := &MergesView{Cluster: id, Offset: offset, Limit: limit, Absorbed: []Merge{}}
	m, ok, err := r.merged(uint32(id))
	if err != nil {
		return nil, err
	}
	if ok {
		mv, err := r.mergeView(m)
		if err != nil {
			return nil, err
		}
		v.MergedInto = &mv
	}
	lo := keyU32(kJoined, uint32(id))
	it, err := r.ix.Store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	i := 0
	for ok := it.First(); ok; ok = it.Next() {
		if i < offset {
			i++
			continue
		}
		if len(v.Absorbed) == limit {
			v.More = true
			break
		}
		k := it.Key()
		if len(k) != 10 {
			return nil, fmt.Errorf("%w: merge row %x", ErrCorrupt, k)
		}
		retired := binary.BigEndian.Uint32(k[6:])
		m, ok, err := r.merged(retired)
		if err != nil {
			return nil, err
		}
		if !ok || m.Survivor != uint32(id) {
			return nil, fmt.Errorf("%w: merge row (%d into %d) without its record", ErrCorrupt, retired, id)
		}
		mv, err := r.mergeView(m)
		if err != nil {
			return nil, err
		}
		v.Absorbed = append(v.Absorbed, mv)
		i++
	}
	return v, it.Error()
}

// Members returns one page of the address ids of cluster id (its current
// id), in increasing order.
func (r *Reader) Members(id ClusterID, offset, limit int) ([]uint32, error) {
	if err := checkPage(offset, limit); err != nil {
		return nil, err
	}
	out := []uint32{}
	err := r.eachMember(id, offset, func(a uint32) bool {
		out = append(out, a)
		return len(out) < limit
	})
	return out, err
}

// eachMember calls fn for the members of cluster id from the offset-th on,
// in increasing order, until fn returns false.
func (r *Reader) eachMember(id ClusterID, offset int, fn func(uint32) bool) error {
	now, err := r.ClusterOf(uint32(id))
	if err != nil {
		return err
	}
	if now != id {
		return fmt.Errorf("%w: cluster %d was merged into cluster %d", ErrNotFound, id, now)
	}
	lo := keyU32(kMember, uint32(id))
	it, err := r.ix.Store.NewIter(lo, kv.PrefixEnd(lo))
	if err != nil {
		return err
	}
	defer it.Close()
	if !it.First() {
		if offset == 0 {
			fn(uint32(id)) // a cluster of one has no member rows
		}
		return it.Error()
	}
	i := 0
	for ok := true; ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 10 {
			return fmt.Errorf("%w: member key %x", ErrCorrupt, k)
		}
		if i >= offset && !fn(binary.BigEndian.Uint32(k[6:])) {
			break
		}
		i++
	}
	return it.Error()
}

// aggregates returns the size, balance and activity of cluster id (its
// current id) and the height they are as of: the clustered tip for a
// cluster of two or more, the index tip for a cluster of one, which is
// read live from the index.
func (r *Reader) aggregates(id ClusterID) (agg, int64, error) {
	v, err := r.ix.Store.Get(keyU32(kAgg, uint32(id)))
	if err == nil {
		a, err := decodeAgg(uint32(id), v)
		return a, r.Tip().Height, err
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return agg{}, 0, err
	}
	av, err := r.ix.Address(uint32(id), 0, 1)
	if err != nil {
		return agg{}, 0, err
	}
	t := r.ix.Tip()
	return agg{Size: 1, Balance: av.BalanceSat, Received: av.ReceivedSat, First: av.FirstHeight, Last: av.LastHeight}, int64(t.Height), nil
}
