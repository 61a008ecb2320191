package server

import (
	"context"
	"errors"

	"github.com/cointrail/cointrail/cluster"
)

// liveClusters keeps the index's clustering at the tip while the server
// follows the node: a trace attributes deposit addresses through it, and a
// clustering that lags the tip would attribute new addresses by labels
// only. Loaded at the first block (one scan of the member rows), extended
// block by block with the heuristics it was built with. Without a
// clustering it does nothing; one it cannot continue (an interrupted
// build, a reorg below its tip) it reports once and leaves as it is —
// traces then say so in their inputs (clusters_digest).
type liveClusters struct {
	c   *cluster.Clusterer
	off bool
}

// update extends the clustering to the index tip. Caller holds e.mu.
func (e *engine) updateClusters(ctx context.Context) {
	lc := &e.clusters
	if lc.off {
		return
	}
	if lc.c == nil {
		c, err := cluster.LoadStored(ctx, e.ix, e.log)
		switch {
		case errors.Is(err, cluster.ErrNotBuilt):
			lc.off = true
			return
		case err != nil:
			e.log.Warn("clustering not followed: traces attribute by labels only for new blocks; stop serve and run `cointrail cluster build`", "err", err)
			lc.off = true
			return
		}
		lc.c = c
	}
	st, err := lc.c.Update(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("clustering update failed: it stays at its last height; stop serve and run `cointrail cluster build`", "err", err)
			lc.off = true
		}
		lc.close()
		return
	}
	if st.Blocks > 0 {
		e.log.Debug("clustering updated", "height", st.Height, "merges", st.InputMerges+st.ChangeMerges)
	}
}

func (lc *liveClusters) close() {
	if lc.c != nil {
		lc.c.Close()
		lc.c = nil
	}
}
