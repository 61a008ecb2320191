package cluster

import (
	"errors"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
)

// Attribution holds every address label of the index's network in memory,
// by address id, and the cluster-defining ones also by cluster: the
// propagation rule is that a label with is_cluster_definer names every
// address of its address's cluster; other labels name their address only.
// Screening loads it once and then asks per address without touching the
// label store.
type Attribution struct {
	r       *Reader // nil: no clustering, labels name their address only
	addr    map[uint32][]labels.Label
	cluster map[ClusterID][]labels.Label
}

// LoadAttribution reads every label of ix's network. r may be nil (no
// clustering); then labels stay on their addresses.
func LoadAttribution(ix *index.Index, r *Reader) (*Attribution, error) {
	a := &Attribution{r: r, addr: map[uint32][]labels.Label{}, cluster: map[ClusterID][]labels.Label{}}
	err := labels.All(ix.Store, ix.Net, func(l labels.Label) error {
		if l.Key == "" {
			return nil
		}
		id, err := ix.AddrID(l.Key)
		if errors.Is(err, index.ErrNotFound) {
			return nil // never paid on this chain
		}
		if err != nil {
			return err
		}
		a.addr[id] = append(a.addr[id], l)
		if l.IsClusterDefiner && r != nil {
			c, err := r.ClusterOf(id)
			if err != nil {
				return err
			}
			a.cluster[c] = append(a.cluster[c], l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, ls := range a.cluster {
		sortLabels(ls)
	}
	return a, nil
}

// Clustered reports whether labels propagate over clusters.
func (a *Attribution) Clustered() bool { return a.r != nil }

// Address returns the labels of address id addr itself.
func (a *Attribution) Address(addr uint32) []labels.Label { return a.addr[addr] }

// ClusterOf returns the cluster of addr (addr itself without clustering).
func (a *Attribution) ClusterOf(addr uint32) (ClusterID, error) {
	if a.r == nil {
		return ClusterID(addr), nil
	}
	return a.r.ClusterOf(addr)
}

// Lookup returns the labels of address id addr itself, its cluster and the
// cluster-defining labels that name that cluster. It reads only the
// cluster rows of the store, never the index, so a caller may hold the
// index's read lock; addr must be an address id of the index.
func (a *Attribution) Lookup(addr uint32) (own []labels.Label, c ClusterID, cluster []labels.Label, err error) {
	own, c = a.addr[addr], ClusterID(addr)
	if a.r != nil {
		if c, err = a.r.clusterRow(addr); err != nil {
			return nil, 0, nil, err
		}
	}
	return own, c, a.cluster[c], nil
}

// Cluster returns the cluster-defining labels that name cluster c.
func (a *Attribution) Cluster(c ClusterID) []labels.Label { return a.cluster[c] }

// Entities lists the distinct entities the cluster-defining labels of c
// name; more than one is a conflict.
func (a *Attribution) Entities(c ClusterID) []string { return entities(a.cluster[c]) }

// Labelled reports whether any address has a label.
func (a *Attribution) Labelled() bool { return len(a.addr) > 0 }
