package server

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/cluster"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testnode"
	"github.com/cointrail/cointrail/taint"
)

// TestServeKeepsClusteringAtTip: a clustering built on an index with only
// the genesis block follows every block the server connects, so an
// address merged by a spend the server saw live is in its cluster and a
// trace's inputs name the clustered tip = the chain tip.
func TestServeKeepsClusteringAtTip(t *testing.T) {
	node := testnode.Start(t)
	w := node.Wallet()
	must := txOK(t)
	node.Generate(101)
	h := start(t, node, t.TempDir(), nil, func(ix *index.Index) {
		if _, err := cluster.Build(context.Background(), ix, cluster.Options{}, testLog(t)); err != nil {
			t.Fatal(err)
		}
	})
	h.waitTip(30 * time.Second)
	f := must(w.Send(w.Out(testnode.P2PKH, 3, 1_0000_0000), w.Out(testnode.P2PKH, 30, 1_0000_0000)))
	node.Generate(1)
	h.waitTip(10 * time.Second)
	var e struct {
		Size uint32 `json:"size"`
	}
	h.callT(t, "GET", "/v1/entities/"+w.Address(testnode.P2PKH, 3), h.reader, nil, &e)
	if e.Size != 1 {
		t.Fatalf("before the merge: cluster of %d", e.Size)
	}
	sweep := must(w.Sweep([]wire.OutPoint{{Hash: f.TxHash(), Index: 0}, {Hash: f.TxHash(), Index: 1}}, testnode.P2PKH, 31))
	mustSubmit(t, w, sweep)
	node.Generate(1)
	tip := h.waitTip(10 * time.Second)
	h.callT(t, "GET", "/v1/entities/"+w.Address(testnode.P2PKH, 30), h.reader, nil, &e)
	if e.Size != 2 {
		t.Fatalf("after a multi-input spend the server followed: cluster of %d, want 2", e.Size)
	}
	var res struct {
		Inputs taint.Inputs `json:"inputs"`
	}
	h.callT(t, "POST", "/v1/trace", h.reader, TraceRequest{Seeds: []string{outpoint(f, 0)}}, &res)
	if res.Inputs.ClusterTip == nil || res.Inputs.ClusterTip.Height != tip {
		t.Fatalf("trace inputs: cluster tip %+v, chain tip %d", res.Inputs.ClusterTip, tip)
	}
}
