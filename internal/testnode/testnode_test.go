package testnode

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/cointrail/cointrail/chain"
)

// TestStartGenerateRestart checks the node's life cycle: it starts on an
// empty regtest chain, mines blocks paying the wallet, stops (refusing RPC
// afterwards), and starts again on the same data directory with the chain
// intact.
func TestStartGenerateRestart(t *testing.T) {
	n := Start(t)
	ctx := context.Background()
	c := n.Client()

	if got, err := c.BlockCount(ctx); err != nil || got != 0 {
		t.Fatalf("BlockCount on a fresh node = %d, %v; want 0", got, err)
	}
	if got, err := c.Network(ctx); err != nil || got != "regtest" {
		t.Fatalf("Network = %q, %v; want regtest", got, err)
	}
	hashes := n.Generate(3)
	if len(hashes) != 3 {
		t.Fatalf("Generate(3) returned %d hashes", len(hashes))
	}
	for i, want := range hashes {
		got, err := c.BlockHash(ctx, int64(i+1))
		if err != nil || got != want {
			t.Fatalf("block %d: getblockhash = %v, %v; generate said %v", i+1, got, err, want)
		}
	}
	// The coinbases pay the wallet's mining address.
	us, err := n.Wallet().UTXOs()
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 3 {
		t.Fatalf("wallet has %d UTXOs after mining 3 blocks, want 3 coinbases", len(us))
	}
	for i, u := range us {
		if !u.Coinbase || u.Height != int64(i+1) || u.Value != 50e8 || u.OutPoint.Index != 0 {
			t.Errorf("UTXO %d = %+v, want the 50 BTC coinbase of block %d", i, u, i+1)
		}
	}

	n.Stop()
	n.Stop() // stopping a stopped node is harmless
	_, err = c.BlockCount(ctx)
	want := fmt.Sprintf("chain: node error: %s getblockcount: connection refused", n.URL)
	if err == nil || err.Error() != want || !errors.Is(err, chain.ErrNode) {
		t.Fatalf("BlockCount after Stop: %v, want %q", err, want)
	}

	// The same client reaches the restarted node at the same address, on
	// the same chain.
	n.Restart()
	if got, err := c.BlockCount(ctx); err != nil || got != 3 {
		t.Fatalf("BlockCount after Restart = %d, %v; want 3", got, err)
	}
	if got, err := c.BlockHash(ctx, 3); err != nil || got != hashes[2] {
		t.Fatalf("block 3 after Restart = %v, %v; want %v", got, err, hashes[2])
	}
	n.Generate(1)
	if us, err := n.Wallet().UTXOs(); err != nil || len(us) != 4 {
		t.Fatalf("wallet after Restart and one more block: %d UTXOs, %v; want 4", len(us), err)
	}
}

func TestWithSeedChangesMiningAddress(t *testing.T) {
	a := NewWallet(&chaincfg.RegressionNetParams, []byte(DefaultSeed), nil)
	b := NewWallet(&chaincfg.RegressionNetParams, []byte("other"), nil)
	if a.MiningAddress() == b.MiningAddress() {
		t.Fatalf("seeds %q and %q share mining address %s", DefaultSeed, "other", a.MiningAddress())
	}
}
