package attrib

import (
	"context"
	"fmt"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/taint"
)

// Evidence computes the inputs a trace on ix records (taint.Inputs): the
// tool version, the index digest at the tip, the label set (overall and
// per imported file, as `cointrail labels digest`) and the clustering (as
// `cointrail index digest` prints clusters_sha256), with the seeds as
// given. The index digest reads the whole index: a trace pays for it once.
func Evidence(ctx context.Context, ix *index.Index, seeds []string, w index.SeedWindow) (taint.Inputs, error) {
	in := taint.Inputs{ToolVersion: taint.ToolVersion(), Seeds: append([]string{}, seeds...),
		SeedFromHeight: w.FromHeight, SeedToHeight: w.ToHeight}
	var err error
	if in.IndexDigest, err = ix.Digest(); err != nil {
		return in, fmt.Errorf("index digest: %w", err)
	}
	ld, err := labels.Digest(ix.Store, ix.Net)
	if err != nil {
		return in, err
	}
	in.LabelsDigest = "none"
	if len(ld.Files) > 0 {
		in.LabelsDigest = ld.SHA256
	}
	for _, f := range ld.Files {
		in.LabelFiles = append(in.LabelFiles, taint.LabelFile{FileSHA256: f.FileSHA256, Format: f.Format, Labels: f.Labels, SHA256: f.SHA256})
	}
	c, err := cluster.StateOf(ctx, ix)
	if err != nil {
		return in, err
	}
	in.ClustersDigest = c.State
	if c.State == "built" {
		in.ClustersDigest = c.SHA256
		in.ClusterTip = &taint.ClusterTip{Height: c.Tip.Height, Hash: c.Tip.Hash, Addresses: c.Tip.Addrs, Merges: c.Tip.Merges}
	}
	return in, nil
}
