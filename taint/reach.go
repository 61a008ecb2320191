package taint

import "context"

// ReachResult is what a reachability walk found.
type ReachResult struct {
	Txs            int   `json:"txs"`             // transactions reached
	Outputs        int   `json:"outputs"`         // the seeds and every output of a reached tx
	UnspentOutputs int   `json:"unspent_outputs"` // of those, unspent
	UnspentSat     int64 `json:"unspent_sat"`
	MaxHop         int   `json:"max_hop"`
}

// Reach answers "which transactions and outputs could these coins have
// touched" — forward poison taint without its per-output result — with a
// breadth-first walk and a bitmap over transactions, so it costs a few
// array reads per output. maxHops 0 means unlimited. It is the
// like-for-like counterpart of a recursive SQL query over the same graph.
func Reach(ctx context.Context, g Graph, seeds []Seed, maxHops int) (ReachResult, error) {
	var r ReachResult
	seen := make([]uint64, (uint64(g.NumTxs())+63)/64)
	var frontier, next []uint32
	visitOut := func(o uint64) {
		r.Outputs++
		s := g.OutSpender(o)
		if s == NoTx {
			r.UnspentOutputs++
			r.UnspentSat += g.OutValue(o)
			return
		}
		if seen[s/64]&(1<<(s%64)) == 0 {
			seen[s/64] |= 1 << (s % 64)
			next = append(next, s)
		}
	}
	for _, s := range seeds {
		visitOut(s.Out)
	}
	for hop := 1; len(next) > 0 && (maxHops == 0 || hop <= maxHops); hop++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if err := g.Err(); err != nil {
			return r, err
		}
		frontier, next = next, frontier[:0]
		r.MaxHop = hop
		for _, tx := range frontier {
			r.Txs++
			first, n := g.TxOutputs(tx)
			for o := first; o < first+uint64(n); o++ {
				visitOut(o)
			}
		}
	}
	return r, g.Err()
}
