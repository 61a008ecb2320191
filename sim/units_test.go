package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

func TestMerkleRootMatchesBtcd(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 9; n++ {
		var txs []*btcutil.Tx
		var ids []chainhash.Hash
		for i := range n {
			tx := &wire.MsgTx{Version: 1, TxIn: []*wire.TxIn{{PreviousOutPoint: wire.OutPoint{Index: r.Uint32()}}},
				TxOut: []*wire.TxOut{{Value: int64(i)}}}
			txs = append(txs, btcutil.NewTx(tx))
			ids = append(ids, tx.TxHash())
		}
		if got, want := merkleRoot(ids), blockchain.CalcMerkleRoot(txs, false); got != want {
			t.Errorf("%d txs: merkle root %s, btcd says %s", n, got, want)
		}
	}
}

func TestActivationHeight(t *testing.T) {
	for _, tc := range []struct {
		next   int32
		status string
		want   int32
	}{
		{1, "defined", 432},   // fresh chain: started at 144, locked in at 288
		{144, "started", 576}, // this window may not reach 108: the next one does
		{300, "started", 720},
		{300, "lockedin", 432},
		{288, "lockedin", 432},
		{500, "active", 500},
	} {
		if got := activationHeight(tc.next, tc.status); got != tc.want {
			t.Errorf("activationHeight(%d, %s) = %d, want %d", tc.next, tc.status, got, tc.want)
		}
	}
}

func TestLookalike(t *testing.T) {
	for _, fast := range []bool{false, true} {
		g := newKeygen(42, fast)
		target := &addr{owner: &actor{id: 7}, kind: kP2WPKH}
		g.derive(target)
		var base btcec.ModNScalar
		base.SetInt(123456789)
		k, chars := g.grindLookalike(base, target.script[2:], 1<<21)
		look := &addr{owner: &actor{id: 8}, kind: kP2WPKH, secret: &k}
		g.derive(look)
		enc := func(a *addr) string {
			_, key := chain.Classify(a.script)
			return key.Encode(regtest)
		}
		a, b := enc(look), enc(target)
		if chars != lookalikeN || a[:6+lookalikeN] != b[:6+lookalikeN] || a == b || !strings.HasPrefix(a, "bcrt1q") {
			t.Errorf("fast=%v: %s does not start like %s (%d chars)", fast, a, b, chars)
		}
		if !fast && string(look.pub) != string(btcec.PrivKeyFromScalar(&k).PubKey().SerializeCompressed()) {
			t.Error("look-alike key does not match its address")
		}
	}
}

func TestWasabiDenominations(t *testing.T) {
	if wasabiDenoms[len(wasabiDenoms)-1] != 5_000 || wasabiDenoms[0] != 1<<37 {
		t.Fatalf("denominations from %d to %d", wasabiDenoms[len(wasabiDenoms)-1], wasabiDenoms[0])
	}
	for _, tc := range []struct{ v, want int64 }{
		{4_999, 0}, {5_000, 5_000}, {8_191, 6_561}, {8_192, 8_192}, {1e8, 1e8}, {1e8 - 1, 86_093_442}, {1 << 40, 1 << 37},
	} {
		if got := largestDenom(tc.v); got != tc.want {
			t.Errorf("largestDenom(%d) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

// TestTrafficShape checks that the background looks like mainnet in the
// ways docs/simulator.md promises.
func TestTrafficShape(t *testing.T) {
	dir := t.TempDir()
	res, err := WriteDir(context.Background(), Config{Seed: 2, Fast: true}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	main, _ := mainChain(t, blkFiles(t, dir+"/blocks"))
	var txs, oneIn, twoOut, outs, reused int
	types := map[chain.ScriptType]int{}
	seen := map[chain.AddrKey]bool{}
	for _, b := range main[432:] {
		for _, tx := range b.Transactions[1:] {
			txs++
			if len(tx.TxIn) == 1 {
				oneIn++
			}
			if len(tx.TxOut) == 2 {
				twoOut++
			}
			for _, o := range tx.TxOut {
				st, k := chain.Classify(o.PkScript)
				types[st]++
				if k == "" {
					continue
				}
				outs++
				if seen[k] {
					reused++
				}
				seen[k] = true
			}
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(b) }
	t.Logf("%d txs (%d main phase): 1 input %.0f%%, 2 outputs %.0f%%, outputs to used addresses %.0f%%, types %v",
		res.Txs, txs, pct(oneIn, txs), pct(twoOut, txs), pct(reused, outs), types)
	check := func(what string, v, lo, hi float64) {
		if v < lo || v > hi {
			t.Errorf("%s = %.1f%%, want %.0f..%.0f%%", what, v, lo, hi)
		}
	}
	if txs < DefaultTxs {
		t.Errorf("%d main-phase transactions, want at least %d", txs, DefaultTxs)
	}
	check("one-input transactions", pct(oneIn, txs), 55, 80)
	check("two-output transactions", pct(twoOut, txs), 55, 80)
	check("outputs to used addresses", pct(reused, outs), 5, 30)
	for _, st := range []chain.ScriptType{chain.ScriptP2PKH, chain.ScriptP2SH, chain.ScriptP2WPKH, chain.ScriptP2WSH, chain.ScriptP2TR} {
		check(fmt.Sprintf("%s outputs", st), pct(types[st], outs), 5, 60)
	}
}
