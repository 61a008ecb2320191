package sim

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/testnode"
)

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// checkOnNode checks that the node's best chain ends at res's tip, height
// tip0 + res.Blocks, and that the theft is confirmed and pays the full
// stolen amount to the attacker.
func checkOnNode(t *testing.T, c *chain.RPCClient, tip0 int64, res *Result) {
	t.Helper()
	ctx := context.Background()
	got, err := c.BlockCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := tip0 + int64(res.Blocks); got != want {
		t.Fatalf("node height %d, want %d", got, want)
	}
	tip, err := c.BlockHash(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if tip != res.TipHash {
		t.Fatalf("node tip %s, want %s", tip, res.TipHash)
	}
	tr := res.Truth
	if tr.StolenSat != dmmStolenSat || tr.Config.ValueScale != 1 {
		t.Fatalf("stolen %d sat at value scale %v, want the full %d", tr.StolenSat, tr.Config.ValueScale, int64(dmmStolenSat))
	}
	var info struct {
		Hex           string `json:"hex"`
		Confirmations int64  `json:"confirmations"`
	}
	if err := c.Call(ctx, "getrawtransaction", []any{tr.TheftTxid, 1}, &info); err != nil {
		t.Fatalf("theft transaction: %v", err)
	}
	if info.Confirmations < 1 {
		t.Fatalf("theft transaction has %d confirmations", info.Confirmations)
	}
	raw, err := hex.DecodeString(info.Hex)
	if err != nil {
		t.Fatal(err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	addr, err := btcutil.DecodeAddress(tr.AttackerAddress, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	script, _ := txscript.PayToAddrScript(addr)
	var paid int64
	for _, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, script) {
			paid += o.Value
		}
	}
	if paid != tr.StolenSat {
		t.Fatalf("the node's theft transaction pays %d sat to %s, truth says %d", paid, tr.AttackerAddress, tr.StolenSat)
	}
}

// TestSubmitNode has a real btcd regtest node that holds only its genesis
// block (dated 2011, before BIP 16) validate every block of the dmm-2024
// scenario (scripts, signatures, fees, maturity, witness commitments,
// BIP 9 signalling), stale branch included, and checks that the theft is
// not scaled down.
func TestSubmitNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	c := n.Client()
	res, err := Submit(context.Background(), Config{Scenario: "dmm-2024", Seed: 3, Txs: 200, TxsPerBlock: 4, Stale: 2}, c, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOnNode(t, c, 0, res)
}

// TestSubmitAfterRecentTip: on top of blocks the node mined at wall-clock
// time the block times are compressed behind the clock, and the warm-up
// grows to mature what it would from genesis, so the theft keeps its
// full value.
func TestSubmitAfterRecentTip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	n.Generate(5)
	c := n.Client()
	res, err := Submit(context.Background(), Config{Scenario: "dmm-2024", Seed: 4, Txs: 200, TxsPerBlock: 4}, c, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOnNode(t, c, 5, res)
}

// TestSubmitTallNodeRefused: a node whose chain has spent most of the
// regtest subsidy cannot host the heist at full value; nothing is
// submitted.
func TestSubmitTallNodeRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	n.Generate(100)
	c := n.Client()
	_, err := Submit(context.Background(), Config{Scenario: "dmm-2024", Seed: 1}, c, testLog(t))
	if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "height 100") || !strings.Contains(err.Error(), "at full value") {
		t.Fatalf("got %v, want a bad config error naming height 100 and the full value", err)
	}
	if h, err := c.BlockCount(context.Background()); err != nil || h != 100 {
		t.Fatalf("node height %d (%v) after a refused submit, want 100", h, err)
	}
}

// overpay re-seals raw with its coinbase paying one satoshi more than it
// may: proof of work, merkle root and witness commitment stay valid, the
// block breaks a consensus rule only a full node checks.
func overpay(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	b.Transactions[0].TxOut[0].Value++
	_, out := seal(b.Header.Version, b.Header.PrevBlock, b.Header.Timestamp.Unix(), b.Transactions)
	return out
}

// TestSubmitRejectedBlock: a block the node refuses midway is reported with
// its position, and the blocks the node had taken are invalidated again so
// its tip is the genesis block; a generated block that breaks consensus is
// caught by the local check before anything is submitted.
func TestSubmitRejectedBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts btcd")
	}
	n := testnode.Start(t)
	c := n.Client()
	ctx := context.Background()
	genesis := *chaincfg.RegressionNetParams.GenesisHash
	atGenesis := func(when string) {
		t.Helper()
		h, err := c.BlockCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tip, err := c.BlockHash(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if h != 0 || tip != genesis {
			t.Fatalf("%s: node tip %d %s, want the genesis block", when, h, tip)
		}
	}
	p, err := prepare(ctx, Config{Seed: 5, Txs: 200, TxsPerBlock: 4}, c, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	const k = 150
	bad := append([][]byte(nil), p.blocks...)
	bad[k] = overpay(t, bad[k])

	err = checkChain(ctx, c, p.tip, bad, p.res.TipHash, true)
	if want := fmt.Sprintf("generated block %d of %d fails btcd's consensus checks, nothing submitted", k+1, len(bad)); !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), want) {
		t.Fatalf("local check: got %v, want %q", err, want)
	}
	atGenesis("after the local check")

	err = submitBlocks(ctx, c, p.tip, p.tipHash, bad)
	want := fmt.Sprintf("the %d blocks before it were invalidated again", k)
	if !errors.Is(err, chain.ErrNode) || !strings.Contains(err.Error(), fmt.Sprintf("block %d of %d", k+1, len(bad))) || !strings.Contains(err.Error(), want) {
		t.Fatalf("submit: got %v, want the node's rejection of block %d and %q", err, k+1, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
	atGenesis("after the rejected block")

	bad[0] = overpay(t, p.blocks[0])
	err = submitBlocks(ctx, c, p.tip, p.tipHash, bad)
	if !errors.Is(err, chain.ErrNode) || !strings.Contains(err.Error(), "block 1 of") || !strings.Contains(err.Error(), "nothing submitted") {
		t.Fatalf("submit with a bad first block: got %v", err)
	}
	atGenesis("after the rejected first block")
}
