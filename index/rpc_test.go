package index

import (
	"context"
	"errors"
	"math"
	"sort"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/testnode"
)

// nodeTx is the part of btcd's verbose getrawtransaction we compare.
type nodeTx struct {
	TxID string `json:"txid"`
	Vin  []struct {
		Coinbase string `json:"coinbase"`
		TxID     string `json:"txid"`
		Vout     uint32 `json:"vout"`
	} `json:"vin"`
	Vout []struct {
		Value        float64 `json:"value"`
		N            uint32  `json:"n"`
		ScriptPubKey struct {
			Type      string   `json:"type"`
			Addresses []string `json:"addresses"`
		} `json:"scriptPubKey"`
	} `json:"vout"`
	BlockHash string `json:"blockhash"`
}

// btcdTypes maps btcd's script type names to ours.
var btcdTypes = map[string]string{
	"pubkeyhash": "p2pkh", "scripthash": "p2sh", "witness_v0_keyhash": "p2wpkh", "witness_v0_scripthash": "p2wsh",
	"witness_v1_taproot": "p2tr", "pubkey": "p2pk", "multisig": "multisig", "nulldata": "op_return", "nonstandard": "nonstandard",
}

func TestIngestRPCMatchesNode(t *testing.T) {
	ctx := context.Background()
	node := testnode.Start(t)
	node.ActivateSoftForks()
	w := node.Wallet()
	var outs []*wire.TxOut
	for _, k := range testnode.Kinds() {
		v := int64(100_000 + 1000*int64(k))
		if k == testnode.OpReturn {
			v = 0
		}
		outs = append(outs, w.Out(k, 0, v))
	}
	pay, err := w.Send(outs...)
	if err != nil {
		t.Fatal(err)
	}
	node.Generate(1)
	back, err := w.Sweep(w.OutPoints(pay), testnode.P2TR, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Submit(back); err != nil {
		t.Fatal(err)
	}
	node.Generate(2)

	net, _ := chain.NetworkByName("regtest")
	ix, err := Open(t.TempDir(), net, Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// Ingest in two runs: the second continues from the tip.
	if _, err := ix.IngestRPC(ctx, node.Client(), IngestOptions{StopAfter: 200}); err != nil {
		t.Fatal(err)
	}
	if h := ix.Tip().Height; h < 199 || h > 431 {
		t.Fatalf("after the first run the tip is %d", h)
	}
	p, err := ix.IngestRPC(ctx, node.Client(), IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count, _ := node.Client().BlockCount(ctx)
	if int64(ix.Tip().Height) != count || p.Height != count {
		t.Fatalf("tip %d, node has %d", ix.Tip().Height, count)
	}
	if _, err := ix.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// Every transaction equals the node's view of it.
	compared, types := 0, map[string]bool{}
	for tx := uint32(0); tx < ix.NumTxs(); tx++ {
		v, err := ix.Tx(tx)
		if err != nil {
			t.Fatal(err)
		}
		var n nodeTx
		if err := node.Client().Call(ctx, "getrawtransaction", []any{v.TxID, 1}, &n); err != nil {
			if tx == 0 { // btcd does not index the genesis coinbase
				continue
			}
			t.Fatalf("getrawtransaction %s: %v", v.TxID, err)
		}
		if n.BlockHash != v.BlockHash || len(n.Vout) != len(v.Outputs) {
			t.Fatalf("tx %s: node block %s with %d outputs, index %s with %d", v.TxID, n.BlockHash, len(n.Vout), v.BlockHash, len(v.Outputs))
		}
		if v.Coinbase != (n.Vin[0].Coinbase != "") || (!v.Coinbase && len(n.Vin) != len(v.Inputs)) {
			t.Fatalf("tx %s: inputs differ", v.TxID)
		}
		for i, in := range v.Inputs {
			if in.PrevTxID != n.Vin[i].TxID || in.PrevVout != n.Vin[i].Vout {
				t.Errorf("tx %s input %d: index %s:%d, node %s:%d", v.TxID, i, in.PrevTxID, in.PrevVout, n.Vin[i].TxID, n.Vin[i].Vout)
			}
		}
		compared++
		for i, o := range v.Outputs {
			no := n.Vout[i]
			types[o.ScriptType] = true
			if sat := int64(math.Round(no.Value * 1e8)); sat != o.ValueSat {
				t.Errorf("tx %s output %d: index %d sat, node %d", v.TxID, i, o.ValueSat, sat)
			}
			if want := btcdTypes[no.ScriptPubKey.Type]; want != o.ScriptType {
				t.Errorf("tx %s output %d: index type %s, node %s", v.TxID, i, o.ScriptType, no.ScriptPubKey.Type)
			}
			// btcd names bare multisig outputs by their keys; ours is a script id.
			if o.ScriptType != "multisig" && o.ScriptType != "nonstandard" && o.ScriptType != "op_return" {
				if len(no.ScriptPubKey.Addresses) != 1 || no.ScriptPubKey.Addresses[0] != o.Address {
					t.Errorf("tx %s output %d: index address %s, node %v", v.TxID, i, o.Address, no.ScriptPubKey.Addresses)
				}
			}
		}
	}

	if compared < int(ix.NumTxs())-1 || len(types) != len(btcdTypes) {
		t.Fatalf("compared %d of %d txs, saw script types %v", compared, ix.NumTxs(), types)
	}
	t.Logf("compared %d txs with the node, script types %d", compared, len(types))

	// A bulk build over RPC from the node with only what it holds — every
	// script type, a fresh chain from genesis — equals the block-by-block one.
	bulk, err := Open(t.TempDir(), net, Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer bulk.Close()
	if _, err := bulk.IngestRPC(ctx, node.Client(), IngestOptions{Mode: ModeBulk, MemoryBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := bulk.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	d1, _ := ix.Digest()
	d2, _ := bulk.Digest()
	if d1 != d2 || d1 == "" {
		t.Fatalf("bulk build over RPC: digest %s, block by block %s", d2, d1)
	}

	// Every address the wallet used has the node's history.
	addrs := []string{w.MiningAddress()}
	for _, k := range testnode.Kinds() {
		if k != testnode.OpReturn && k != testnode.Multisig && k != testnode.NonStandard {
			addrs = append(addrs, w.Address(k, 0))
		}
	}
	addrs = append(addrs, w.Address(testnode.P2TR, 1))
	for _, a := range addrs {
		var found []nodeTx
		if err := node.Client().Call(ctx, "searchrawtransactions", []any{a, 1, 0, 100000}, &found); err != nil {
			t.Fatalf("searchrawtransactions %s: %v", a, err)
		}
		id, _, err := ix.ParseAddr(a)
		if err != nil {
			t.Fatal(err)
		}
		view, err := ix.Address(id, 0, MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, f := range found {
			want = append(want, f.TxID)
		}
		for _, h := range view.History {
			got = append(got, h.TxID)
		}
		sort.Strings(want)
		sort.Strings(got)
		if len(got) == 0 || len(want) != len(got) {
			t.Fatalf("address %s: index has %d txs, node %d", a, len(got), len(want))
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("address %s: history differs at %d: %s vs %s", a, i, got[i], want[i])
			}
		}
	}
	// The sweep back to P2TR: its only output holds everything spent minus the fee.
	pv, _ := ix.FindTx(back.TxHash())
	bv, _ := ix.Tx(pv)
	if bv.FeeSat != testnode.Fee(len(back.TxIn), 1) || bv.InSat-bv.OutSat != bv.FeeSat || len(bv.Inputs) != len(w.OutPoints(pay)) {
		t.Errorf("sweep tx %+v", bv)
	}
}

func TestIngestRPCErrors(t *testing.T) {
	ctx := context.Background()
	node := testnode.Start(t)
	node.Generate(3)
	main, _ := chain.NetworkByName("mainnet")
	ix, err := Open(t.TempDir(), main, Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	_, err = ix.IngestRPC(ctx, node.Client(), IngestOptions{})
	if !errors.Is(err, chain.ErrWrongNetwork) {
		t.Fatalf("mainnet index on a regtest node: %v", err)
	}
	want := "chain: wrong network: node " + node.Client().Endpoint() + " is on regtest, the index is mainnet"
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if !ix.Tip().Empty {
		t.Fatal("index changed")
	}
}
