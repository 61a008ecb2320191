package testnode

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

// TestScripts checks, without a node, that every kind makes the script type
// cointrail classifies it as, that addresses parse back to the script's key,
// and that scripts are deterministic per seed and distinct per index.
func TestScripts(t *testing.T) {
	regtest, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	w := NewWallet(&chaincfg.RegressionNetParams, []byte(DefaultSeed), nil)
	same := NewWallet(&chaincfg.RegressionNetParams, []byte(DefaultSeed), nil)
	other := NewWallet(&chaincfg.RegressionNetParams, []byte("other"), nil)
	seen := map[string]string{string(w.MiningScript()): "mining"}
	for _, k := range Kinds() {
		for idx := range uint32(3) {
			name := fmt.Sprintf("%s/%d", k, idx)
			s := w.Script(k, idx)
			typ, key := chain.Classify(s)
			if typ != k.ScriptType() {
				t.Errorf("%s: Classify = %s, want %s", name, typ, k.ScriptType())
			}
			if prev, dup := seen[string(s)]; dup {
				t.Errorf("%s: same script as %s", name, prev)
			}
			seen[string(s)] = name
			if !bytes.Equal(same.Script(k, idx), s) {
				t.Errorf("%s: two wallets of one seed disagree", name)
			}
			if bytes.Equal(other.Script(k, idx), s) {
				t.Errorf("%s: seeds %q and %q give the same script", name, DefaultSeed, "other")
			}
			addr := w.Address(k, idx)
			switch k {
			case Multisig, OpReturn, NonStandard:
				if addr != "" {
					t.Errorf("%s: Address = %q, want none", name, addr)
				}
				continue
			}
			got, err := chain.ParseAddress(regtest, addr)
			if err != nil || got != key {
				t.Errorf("%s: ParseAddress(%q) = %x, %v; want the script's key %x", name, addr, got, err, key)
			}
		}
	}
	if got, _ := chain.Classify(w.MiningScript()); got != chain.ScriptP2PKH {
		t.Errorf("mining script is %s, want p2pkh", got)
	}
}

// TestEveryKindRoundTrip pays one output of every kind in one transaction,
// spends all spendable ones back in a second, and checks btcd mines both and
// indexes them by address.
func TestEveryKindRoundTrip(t *testing.T) {
	n := Start(t)
	w := n.Wallet()
	c := n.Client()
	ctx := context.Background()

	// Before any coinbase matures the wallet cannot pay.
	n.Generate(1)
	_, err := w.Send(w.Out(P2PKH, 0, 1e8))
	want := fmt.Sprintf("testnode: wallet has 0 sat in mature coins at its mining address, need %d (mine more blocks)", 1e8+Fee(0, 2))
	if err == nil || err.Error() != want {
		t.Fatalf("Send with no mature coins: %v, want %q", err, want)
	}

	n.ActivateSoftForks()
	var outs []*wire.TxOut
	for _, k := range Kinds() {
		v := int64(100_000 + 1000*int(k))
		if k == OpReturn {
			v = 0
		}
		outs = append(outs, w.Out(k, 0, v))
	}
	pay, err := w.Send(outs...)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pay.TxOut); got != len(outs)+1 {
		t.Fatalf("paying transaction has %d outputs, want %d and change", got, len(outs))
	}
	mined := n.Generate(1)[0]
	assertConfirmed(t, c, pay.TxHash(), mined)

	ins := w.OutPoints(pay)
	wantIns := []wire.OutPoint{}
	for i, k := range Kinds() {
		if k.Spendable() {
			wantIns = append(wantIns, wire.OutPoint{Hash: pay.TxHash(), Index: uint32(i)})
		}
	}
	wantIns = append(wantIns, wire.OutPoint{Hash: pay.TxHash(), Index: uint32(len(outs))}) // change
	if !slices.Equal(ins, wantIns) {
		t.Fatalf("OutPoints = %v, want %v", ins, wantIns)
	}
	back, err := w.Sweep(ins, P2WPKH, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Submit(back); err != nil {
		t.Fatal(err)
	}
	mined = n.Generate(1)[0]
	assertConfirmed(t, c, back.TxHash(), mined)

	// The sweep's output is the wallet's one coin outside the mining address.
	us, err := w.UTXOs()
	if err != nil {
		t.Fatal(err)
	}
	var others []UTXO
	for _, u := range us {
		if !bytes.Equal(u.PkScript, w.MiningScript()) {
			others = append(others, u)
		}
	}
	in := int64(0)
	for _, op := range ins {
		for i, o := range pay.TxOut {
			if op.Index == uint32(i) {
				in += o.Value
			}
		}
	}
	wantU := UTXO{OutPoint: wire.OutPoint{Hash: back.TxHash()}, Value: in - Fee(len(ins), 1),
		PkScript: w.Script(P2WPKH, 1), Height: 433}
	if len(others) != 1 || !utxoEqual(others[0], wantU) {
		t.Fatalf("non-mining UTXOs = %+v, want [%+v]", others, wantU)
	}

	// addrindex finds both transactions from either end.
	for _, k := range []Kind{P2PKH, P2WPKH} {
		addr := w.Address(k, 0)
		var found []struct {
			TxID string `json:"txid"`
		}
		if err := c.Call(ctx, "searchrawtransactions", []any{addr, 1}, &found); err != nil {
			t.Fatalf("searchrawtransactions %s: %v", addr, err)
		}
		var got []string
		for _, f := range found {
			got = append(got, f.TxID)
		}
		slices.Sort(got)
		want := []string{pay.TxHash().String(), back.TxHash().String()}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("searchrawtransactions %s (%s) = %v, want %v", addr, k, got, want)
		}
	}
}

func utxoEqual(a, b UTXO) bool {
	return a.OutPoint == b.OutPoint && a.Value == b.Value && bytes.Equal(a.PkScript, b.PkScript) &&
		a.Height == b.Height && a.Coinbase == b.Coinbase
}

func assertConfirmed(t *testing.T, c *chain.RPCClient, txid, block chainhash.Hash) {
	t.Helper()
	var res struct {
		BlockHash     string `json:"blockhash"`
		Confirmations int64  `json:"confirmations"`
	}
	if err := c.Call(context.Background(), "getrawtransaction", []any{txid.String(), 1}, &res); err != nil {
		t.Fatalf("getrawtransaction %s: %v", txid, err)
	}
	if res.BlockHash != block.String() || res.Confirmations != 1 {
		t.Fatalf("tx %s: in block %q with %d confirmations, want block %s with 1", txid, res.BlockHash, res.Confirmations, block)
	}
}

// TestSpendErrors checks the wallet refuses what it cannot sign or fund.
func TestSpendErrors(t *testing.T) {
	n := Start(t)
	w := n.Wallet()
	n.Generate(100) // only the coinbase of block 1 is mature (next block 101)
	us, err := w.UTXOs()
	if err != nil {
		t.Fatal(err)
	}
	cb := us[0].OutPoint
	unknown := wire.OutPoint{Index: 7}
	for _, tc := range []struct {
		name string
		ins  []wire.OutPoint
		outs []*wire.TxOut
		want string
	}{
		{"unknown outpoint", []wire.OutPoint{unknown}, nil,
			fmt.Sprintf("testnode: %v is not an unspent output of the wallet", unknown)},
		{"overspend", []wire.OutPoint{cb}, []*wire.TxOut{w.Out(P2PKH, 0, us[0].Value+1)},
			fmt.Sprintf("testnode: outputs (%d sat) exceed inputs (%d sat)", us[0].Value+1, us[0].Value)},
		{"negative", []wire.OutPoint{cb}, []*wire.TxOut{w.Out(P2PKH, 0, -1)},
			"testnode: negative output value -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.Spend(tc.ins, tc.outs...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Spend: %v, want %q", err, tc.want)
			}
		})
	}
	// An immature coinbase is not used: the one mature coin pays, the
	// second request finds nothing left.
	pay, err := w.Send(w.Out(P2WPKH, 0, 1e8))
	if err != nil {
		t.Fatal(err)
	}
	// Before SegWit activates (see the package doc) btcd refuses witness spends.
	back, err := w.Sweep(w.OutPoints(pay)[:1], P2PKH, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Submit(back)
	want := fmt.Sprintf("chain: node error: %s sendrawtransaction: RPC error -26: TX rejected: transaction %s has witness data, but segwit isn't active yet",
		n.URL, back.TxHash())
	if err == nil || err.Error() != want {
		t.Fatalf("witness spend before activation: %v, want %q", err, want)
	}
	_, err = w.Send(w.Out(P2PKH, 0, 60e8))
	want = fmt.Sprintf("testnode: wallet has %d sat in mature coins at its mining address, need %d (mine more blocks)",
		int64(50e8-1e8)-Fee(1, 2), int64(60e8)+Fee(1, 2))
	if err == nil || err.Error() != want {
		t.Fatalf("Send beyond the mature coins: %v, want %q", err, want)
	}
}
