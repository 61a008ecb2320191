package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
)

// EntityView is a cluster as queries show it. Aggregates are as of AsOf:
// the clustered tip for a cluster of two or more addresses, the index tip
// for a single address (read live from the index).
type EntityView struct {
	Query        string         `json:"query"`
	ClusterID    ClusterID      `json:"cluster_id"`
	ResolvedVia  []Merge        `json:"resolved_via"` // when Query named a retired cluster id: the merges to ClusterID
	Size         uint32         `json:"size"`
	Supercluster bool           `json:"supercluster"`
	BalanceSat   int64          `json:"balance_sat"`
	ReceivedSat  int64          `json:"received_sat"`
	SentSat      int64          `json:"sent_sat"`
	FirstHeight  uint32         `json:"first_height"`
	FirstTime    int64          `json:"first_time"`
	LastHeight   uint32         `json:"last_height"`
	LastTime     int64          `json:"last_time"`
	AsOf         int64          `json:"as_of_height"`
	Labels       []labels.Label `json:"labels"`        // cluster-defining labels of members: they name the whole cluster
	MemberLabels []labels.Label `json:"member_labels"` // the other labels of members: they name their address only
	Entities     []string       `json:"entities"`      // distinct entities the cluster-defining labels name
	Conflict     bool           `json:"conflict"`      // more than one entity: a likely false merge
	Heuristics   []string       `json:"heuristics"`
	ClusterTip   TipView        `json:"cluster_tip"`
	Offset       int            `json:"offset"`
	Limit        int            `json:"limit"`
	Addresses    []string       `json:"addresses"` // one page of members, by address id
}

// Entity returns the cluster that ref names — an address of the index's
// network or a decimal cluster id (a retired one resolves to the cluster
// that absorbed it) — with one page of its addresses.
func Entity(ix *index.Index, ref string, offset, limit int) (*EntityView, error) {
	r, err := Open(ix)
	if err != nil {
		return nil, err
	}
	return r.Entity(ref, offset, limit)
}

// ParseRef resolves ref (an address or a decimal cluster id) to the
// cluster holding it now and, for a cluster id, the merges on the way.
func (r *Reader) ParseRef(ref string) (ClusterID, []Merge, error) {
	ref = strings.TrimSpace(ref)
	if ref != "" && strings.Trim(ref, "0123456789") == "" {
		n, err := strconv.ParseUint(ref, 10, 32)
		if err != nil || n == 0 {
			return 0, nil, fmt.Errorf("%w: cluster id %q (want 1..%d)", ErrBadInput, ref, uint32(1<<32-1))
		}
		return r.Resolve(ClusterID(n))
	}
	a, _, err := r.ix.ParseAddr(ref)
	if err != nil {
		return 0, nil, err
	}
	id, err := r.ClusterOf(a)
	return id, []Merge{}, err
}

// Entity: see the package function.
func (r *Reader) Entity(ref string, offset, limit int) (*EntityView, error) {
	if err := checkPage(offset, limit); err != nil {
		return nil, err
	}
	id, via, err := r.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	a, asOf, err := r.aggregates(id)
	if err != nil {
		return nil, err
	}
	o := r.st.opts
	r.ix.ReadLock() // block times grow with ingest
	firstTime, lastTime := r.ix.BlockTime(a.First), r.ix.BlockTime(a.Last)
	r.ix.ReadUnlock()
	v := &EntityView{Query: strings.TrimSpace(ref), ClusterID: id, ResolvedVia: via, Size: a.Size,
		Supercluster: a.Size >= o.SuperclusterSize, BalanceSat: a.Balance, ReceivedSat: a.Received,
		SentSat: a.Received - a.Balance, FirstHeight: a.First, FirstTime: firstTime,
		LastHeight: a.Last, LastTime: lastTime, AsOf: asOf, Heuristics: o.Change.Names(),
		ClusterTip: r.Tip(), Offset: offset, Limit: limit, Addresses: []string{}}
	members, err := r.Members(id, offset, limit)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		v.Addresses = append(v.Addresses, r.ix.AddrString(m))
	}
	ls, err := r.clusterLabels(id, a.Size)
	if err != nil {
		return nil, err
	}
	v.Labels, v.MemberLabels = []labels.Label{}, []labels.Label{}
	for _, l := range ls {
		if l.IsClusterDefiner {
			v.Labels = append(v.Labels, l)
		} else {
			v.MemberLabels = append(v.MemberLabels, l)
		}
	}
	v.Entities = entities(v.Labels)
	v.Conflict = len(v.Entities) > 1
	return v, nil
}

// clusterLabels returns every label of every member of cluster id, sorted
// as labels sorts them. It asks per member when the cluster has fewer
// members than the store has labels, and otherwise walks all labels.
func (r *Reader) clusterLabels(id ClusterID, size uint32) ([]labels.Label, error) {
	total, err := labels.Count(r.ix.Store)
	if err != nil || total == 0 {
		return nil, err
	}
	if uint64(size) <= uint64(total) {
		return r.labelsByMember(id)
	}
	return r.labelsByScan(id)
}

func (r *Reader) labelsByMember(id ClusterID) ([]labels.Label, error) {
	var out []labels.Label
	var ferr error
	err := r.eachMember(id, 0, func(a uint32) bool {
		k, err := r.ix.AddrKeyOf(a)
		if err != nil {
			ferr = err
			return false
		}
		ls, err := labels.ForAddress(r.ix.Store, r.ix.Net, k)
		if err != nil {
			ferr = err
			return false
		}
		out = append(out, ls...)
		return true
	})
	if err == nil {
		err = ferr
	}
	sortLabels(out)
	return out, err
}

func (r *Reader) labelsByScan(id ClusterID) ([]labels.Label, error) {
	var out []labels.Label
	err := labels.All(r.ix.Store, r.ix.Net, func(l labels.Label) error {
		if l.Key == "" {
			return nil
		}
		a, err := r.ix.AddrID(l.Key)
		if errors.Is(err, index.ErrNotFound) {
			return nil // never paid on this chain
		}
		if err != nil {
			return err
		}
		c, err := r.ClusterOf(a)
		if err != nil {
			return err
		}
		if c == id {
			out = append(out, l)
		}
		return nil
	})
	sortLabels(out)
	return out, err
}

// sortLabels orders by address, source, label, category and file, as
// labels.ForAddress does within one address.
func sortLabels(ls []labels.Label) {
	slices.SortStableFunc(ls, func(a, b labels.Label) int {
		for _, c := range [][2]string{{a.Address, b.Address}, {a.Source, b.Source}, {a.Label, b.Label}, {a.Category, b.Category}, {a.File, b.File}} {
			if x := strings.Compare(c[0], c[1]); x != 0 {
				return x
			}
		}
		return 0
	})
}

// EntityName is the entity a label names: its actor if it has one,
// otherwise its label, case-folded and trimmed. Two cluster-defining labels
// with different entity names on one cluster are a conflict.
func EntityName(l labels.Label) string {
	if s := strings.TrimSpace(l.Actor); s != "" {
		return strings.ToLower(s)
	}
	return strings.ToLower(strings.TrimSpace(l.Label))
}

func entities(ls []labels.Label) []string {
	out := []string{}
	for _, l := range ls {
		if n := EntityName(l); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
