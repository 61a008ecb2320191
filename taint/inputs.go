package taint

import (
	"runtime/debug"
	"sync"
	"time"
)

// Inputs is everything besides the parameters that determines a result:
// the tool, the chain (the index digest at the tip), the attribution (the
// label set, each imported file by its SHA-256) and the clustering, plus
// the seeds as they were given and the caps that bound. A result records
// them so that anyone can re-run it (`cointrail verify-result`) and, when
// the re-run differs, tell which of them changed. The caller fills them
// (attrib.Evidence computes them from an index); the trace adds CapsBound.
type Inputs struct {
	ToolVersion string `json:"tool_version"`
	IndexDigest string `json:"index_digest"` // index.Index.Digest: the logical index content
	// LabelsDigest is labels.Digest's overall SHA-256, or "none" when no
	// label file was imported.
	LabelsDigest string      `json:"labels_digest"`
	LabelFiles   []LabelFile `json:"label_files"` // sorted as labels.Digest sorts them
	// ClustersDigest is cluster.Digest in hex; "none" without a
	// clustering, "incomplete" after a killed build, "stale" when the index
	// was rolled back under it.
	ClustersDigest string      `json:"clusters_digest"`
	ClusterTip     *ClusterTip `json:"cluster_tip"` // the clustered tip; null unless built
	// Seeds are the seed arguments as given (TXID:VOUT, TXID or ADDRESS,
	// optionally @SATS), resolved within [SeedFromHeight, SeedToHeight]
	// (0: open) into the result's seeds.
	Seeds          []string `json:"seeds"`
	SeedFromHeight uint32   `json:"seed_from_height"`
	SeedToHeight   uint32   `json:"seed_to_height"`
	// CapsBound lists the caps of the server (Params.HopCap, Params.TxCap)
	// that changed this result: without them the trace would have gone on.
	// Empty when the result equals the uncapped trace of the parameters.
	CapsBound []Cap `json:"caps_bound"`
}

// LabelFile is one imported label file as labels.Digest reports it.
type LabelFile struct {
	FileSHA256 string `json:"file_sha256"` // of the file's bytes
	Format     string `json:"format"`
	Labels     int    `json:"labels"`
	SHA256     string `json:"sha256"` // of the labels it contributes
}

// ClusterTip is the last block a clustering covers.
type ClusterTip struct {
	Height    int64  `json:"height"`
	Hash      string `json:"hash"`
	Addresses uint32 `json:"addresses"`
	Merges    uint64 `json:"merges"`
}

// Cap is a server cap that bound a trace, with its value.
type Cap struct {
	Param string `json:"param"` // max_hops or max_txs
	Value int    `json:"value"`
}

func (in *Inputs) normalize() {
	if in.LabelFiles == nil {
		in.LabelFiles = []LabelFile{}
	}
	if in.Seeds == nil {
		in.Seeds = []string{}
	}
	if in.CapsBound == nil {
		in.CapsBound = []Cap{}
	}
}

// ToolVersion is the version of cointrail recorded in every result: the
// module version of a released build, else "devel" followed by the VCS
// revision the binary was built from (with "-dirty" for uncommitted
// changes) when the build recorded one.
func ToolVersion() string { return toolVersion() }

var toolVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		v += "+" + rev[:min(12, len(rev))]
		if dirty {
			v += "-dirty"
		}
	}
	return v
})

// UTC formats a block time (unix seconds) as RFC 3339 in UTC, as every
// output row reports it.
func UTC(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }
