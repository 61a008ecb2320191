package sim

import (
	"context"
	"log/slog"
	"testing"

	"github.com/cointrail/cointrail/internal/testnode"
)

// TestSubmitNode has a real btcd regtest node validate every block of the
// dmm-2024 scenario (scripts, signatures, fees, maturity, witness
// commitments, BIP 9 signalling), generated on top of blocks the node
// mined itself at wall-clock time.
func TestSubmitNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	n.Generate(5)
	c := n.Client()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := Submit(ctx, Config{Scenario: "dmm-2024", Seed: 3, Txs: 200, TxsPerBlock: 4, Stale: 2}, c, log)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.BlockCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(5 + res.Blocks); got != want {
		t.Fatalf("node height %d, want %d", got, want)
	}
	tip, err := c.BlockHash(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if tip != res.TipHash {
		t.Fatalf("node tip %s, want %s", tip, res.TipHash)
	}
	var tx struct {
		Confirmations int64 `json:"confirmations"`
	}
	if err := c.Call(ctx, "getrawtransaction", []any{res.Truth.TheftTxid, 1}, &tx); err != nil {
		t.Fatalf("theft transaction: %v", err)
	}
	if tx.Confirmations < 1 {
		t.Fatalf("theft transaction has %d confirmations", tx.Confirmations)
	}
}
