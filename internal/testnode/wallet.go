package testnode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

// Kind is a kind of output script the wallet can pay to.
type Kind uint8

const (
	P2PKH Kind = iota
	P2SH       // 2-of-3 multisig redeem script
	P2WPKH
	P2WSH       // 2-of-3 multisig witness script
	P2TR        // BIP 86 key path
	P2PK        // compressed key
	Multisig    // bare 1-of-2
	OpReturn    // unspendable data carrier
	NonStandard // <data> OP_DROP OP_TRUE, anyone can spend
	numKinds
)

var kindInfo = [numKinds]struct {
	name string
	st   chain.ScriptType
}{
	{"p2pkh", chain.ScriptP2PKH},
	{"p2sh", chain.ScriptP2SH},
	{"p2wpkh", chain.ScriptP2WPKH},
	{"p2wsh", chain.ScriptP2WSH},
	{"p2tr", chain.ScriptP2TR},
	{"p2pk", chain.ScriptP2PK},
	{"multisig", chain.ScriptMultisig},
	{"op_return", chain.ScriptOpReturn},
	{"nonstandard", chain.ScriptNonStandard},
}

// Kinds lists every kind in a fixed order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

func (k Kind) String() string {
	if k >= numKinds {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kindInfo[k].name
}

// ScriptType is how chain.Classify classifies scripts of this kind.
func (k Kind) ScriptType() chain.ScriptType {
	if k >= numKinds {
		return chain.ScriptNonStandard
	}
	return kindInfo[k].st
}

// Spendable reports whether outputs of this kind can be spent (all but
// OP_RETURN).
func (k Kind) Spendable() bool { return k != OpReturn }

// minerKind derives the keys of the mining (and change) address.
const minerKind = 0xff

// UTXO is an unspent output the wallet knows of.
type UTXO struct {
	OutPoint wire.OutPoint
	Value    int64
	PkScript []byte
	Height   int64 // -1 while its transaction is in the mempool
	Coinbase bool
}

// owned says how to spend one of the wallet's scripts.
type owned struct {
	kind   Kind
	keys   []*btcec.PrivateKey
	script []byte // redeem or witness script of the multisig kinds
}

// Wallet is a deterministic test wallet: the same seed gives the same keys,
// scripts and addresses. It is safe for concurrent use.
type Wallet struct {
	params *chaincfg.Params
	seed   []byte
	client *chain.RPCClient

	mu          sync.Mutex
	owned       map[string]owned // by output script
	miner       []byte           // mining and change script (P2PKH)
	utxos       map[wire.OutPoint]UTXO
	mempoolSpnt map[wire.OutPoint]bool // spent by our unconfirmed transactions
	next        int64                  // next height to scan
	lastHash    chainhash.Hash         // hash of block next-1
}

// NewWallet makes the wallet of seed on params, following the chain through
// c (which may be nil for a wallet that only derives scripts).
func NewWallet(params *chaincfg.Params, seed []byte, c *chain.RPCClient) *Wallet {
	w := &Wallet{
		params:      params,
		seed:        slices.Clone(seed),
		client:      c,
		owned:       map[string]owned{},
		utxos:       map[wire.OutPoint]UTXO{},
		mempoolSpnt: map[wire.OutPoint]bool{},
	}
	k := w.key(minerKind, 0, 0)
	w.miner = mustScript(txscript.PayToAddrScript(w.pkhAddr(k)))
	w.owned[string(w.miner)] = owned{kind: P2PKH, keys: []*btcec.PrivateKey{k}}
	return w
}

func (w *Wallet) derive(kind byte, index uint32, j byte) [32]byte {
	var b []byte
	b = append(b, w.seed...)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, index)
	b = append(b, j)
	return sha256.Sum256(b)
}

func (w *Wallet) key(kind byte, index uint32, j byte) *btcec.PrivateKey {
	d := w.derive(kind, index, j)
	k, _ := btcec.PrivKeyFromBytes(d[:])
	return k
}

func (w *Wallet) pkhAddr(k *btcec.PrivateKey) *btcutil.AddressPubKeyHash {
	a, err := btcutil.NewAddressPubKeyHash(btcutil.Hash160(k.PubKey().SerializeCompressed()), w.params)
	if err != nil {
		panic(err) // a 20-byte hash is always valid
	}
	return a
}

func mustScript(s []byte, err error) []byte {
	if err != nil {
		panic(fmt.Sprintf("testnode: building a script: %v", err)) // only fixed templates get here
	}
	return s
}

// MiningAddress is the P2PKH address coinbases (and Fund's change) pay to.
func (w *Wallet) MiningAddress() string {
	_, addrs, _, _ := txscript.ExtractPkScriptAddrs(w.miner, w.params)
	return addrs[0].EncodeAddress()
}

// MiningScript is the output script of MiningAddress.
func (w *Wallet) MiningScript() []byte { return slices.Clone(w.miner) }

// Script is the output script of the index-th script of kind k. Different
// kinds and indexes use different keys.
func (w *Wallet) Script(k Kind, index uint32) []byte {
	script, _ := w.script(k, index)
	return slices.Clone(script)
}

// Address is the address of Script(k, index) as cointrail names it: a P2PK
// output gets the P2PKH address of its key; bare multisig, OP_RETURN and
// nonstandard scripts have none ("").
func (w *Wallet) Address(k Kind, index uint32) string {
	_, addr := w.script(k, index)
	if addr == nil {
		return ""
	}
	return addr.EncodeAddress()
}

// Out is an output paying value satoshis to Script(k, index).
func (w *Wallet) Out(k Kind, index uint32, value int64) *wire.TxOut {
	return wire.NewTxOut(value, w.Script(k, index))
}

// script derives (and remembers how to spend) a script of the wallet.
func (w *Wallet) script(k Kind, index uint32) ([]byte, btcutil.Address) {
	if k >= numKinds {
		panic(fmt.Sprintf("testnode: unknown kind %d", k))
	}
	keys := func(n int) []*btcec.PrivateKey {
		ks := make([]*btcec.PrivateKey, n)
		for j := range ks {
			ks[j] = w.key(byte(k), index, byte(j))
		}
		return ks
	}
	multisig := func(ks []*btcec.PrivateKey, m int) []byte {
		b := txscript.NewScriptBuilder().AddInt64(int64(m))
		for _, key := range ks {
			b.AddData(key.PubKey().SerializeCompressed())
		}
		return mustScript(b.AddInt64(int64(len(ks))).AddOp(txscript.OP_CHECKMULTISIG).Script())
	}
	var (
		o    = owned{kind: k}
		addr btcutil.Address
		err  error
		pk   []byte
	)
	switch k {
	case P2PKH, P2PK:
		o.keys = keys(1)
		addr = w.pkhAddr(o.keys[0])
		if k == P2PK {
			pk = mustScript(txscript.NewScriptBuilder().AddData(o.keys[0].PubKey().SerializeCompressed()).
				AddOp(txscript.OP_CHECKSIG).Script())
		}
	case P2SH:
		o.keys = keys(3)
		o.script = multisig(o.keys, 2)
		addr, err = btcutil.NewAddressScriptHash(o.script, w.params)
	case P2WPKH:
		o.keys = keys(1)
		addr, err = btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(o.keys[0].PubKey().SerializeCompressed()), w.params)
	case P2WSH:
		o.keys = keys(3)
		o.script = multisig(o.keys, 2)
		h := sha256.Sum256(o.script)
		addr, err = btcutil.NewAddressWitnessScriptHash(h[:], w.params)
	case P2TR:
		o.keys = keys(1)
		out := txscript.ComputeTaprootKeyNoScript(o.keys[0].PubKey())
		addr, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(out), w.params)
	case Multisig:
		o.keys = keys(2)
		pk = multisig(o.keys, 1)
	case OpReturn, NonStandard:
		d := w.derive(byte(k), index, 0)
		if k == OpReturn {
			pk = mustScript(txscript.NullDataScript(append([]byte("cointrail"), d[:8]...)))
		} else {
			pk = mustScript(txscript.NewScriptBuilder().AddData(d[:8]).AddOp(txscript.OP_DROP).
				AddOp(txscript.OP_TRUE).Script())
		}
	}
	if err != nil {
		panic(fmt.Sprintf("testnode: %s address: %v", k, err)) // inputs are always well-formed
	}
	if pk == nil {
		pk = mustScript(txscript.PayToAddrScript(addr))
	}
	w.mu.Lock()
	w.owned[string(pk)] = o
	w.mu.Unlock()
	return pk, addr
}

// Sync scans the blocks mined since the last call.
func (w *Wallet) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sync()
}

func (w *Wallet) sync() error {
	if w.client == nil {
		return errors.New("testnode: wallet has no RPC client")
	}
	ctx := context.Background()
	tip, err := w.client.BlockCount(ctx)
	if err != nil {
		return err
	}
	if w.next > 0 {
		h, err := w.client.BlockHash(ctx, w.next-1)
		if err != nil || h != w.lastHash {
			return fmt.Errorf("testnode: block %d changed since the wallet scanned it; the wallet does not follow reorgs", w.next-1)
		}
	}
	if tip < w.next {
		return nil
	}
	return w.client.FetchBlocks(ctx, w.next, tip, func(height int64, raw []byte) error {
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("testnode: block %d: %v", height, err)
		}
		for i, tx := range b.Transactions {
			w.apply(tx, height, i == 0)
		}
		w.next, w.lastHash = height+1, b.BlockHash()
		return nil
	})
}

// apply records tx's spends and outputs; height -1 means the mempool.
func (w *Wallet) apply(tx *wire.MsgTx, height int64, coinbase bool) {
	if !coinbase {
		for _, in := range tx.TxIn {
			delete(w.utxos, in.PreviousOutPoint)
			if height < 0 {
				w.mempoolSpnt[in.PreviousOutPoint] = true
			} else {
				delete(w.mempoolSpnt, in.PreviousOutPoint)
			}
		}
	}
	txid := tx.TxHash()
	for i, out := range tx.TxOut {
		op := wire.OutPoint{Hash: txid, Index: uint32(i)}
		if w.mempoolSpnt[op] || txscript.IsUnspendable(out.PkScript) {
			continue
		}
		w.utxos[op] = UTXO{OutPoint: op, Value: out.Value, PkScript: out.PkScript, Height: height, Coinbase: coinbase}
	}
}

// UTXOs lists the wallet's unspent outputs after a Sync, sorted by height
// (mempool last), then outpoint.
func (w *Wallet) UTXOs() ([]UTXO, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.sync(); err != nil {
		return nil, err
	}
	return w.mine(func(UTXO) bool { return true }), nil
}

func (w *Wallet) mine(keep func(UTXO) bool) []UTXO {
	var us []UTXO
	for _, u := range w.utxos {
		if _, ok := w.owned[string(u.PkScript)]; ok && keep(u) {
			us = append(us, u)
		}
	}
	slices.SortFunc(us, func(a, b UTXO) int {
		ha, hb := uint64(a.Height), uint64(b.Height) // -1 sorts last
		switch {
		case ha != hb:
			return cmpU(ha, hb)
		case a.OutPoint.Hash != b.OutPoint.Hash:
			return bytes.Compare(a.OutPoint.Hash[:], b.OutPoint.Hash[:])
		}
		return cmpU(uint64(a.OutPoint.Index), uint64(b.OutPoint.Index))
	})
	return us
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Fee is the fee the wallet pays for a transaction with nIn inputs and nOut
// outputs: above btcd's minimum relay fee (1 sat/vB) for any of its kinds.
func Fee(nIn, nOut int) int64 { return 1000 + 400*int64(nIn) + 100*int64(nOut) }

// Fund builds and signs (but does not submit) a transaction paying outs from
// coins at the mining address, mature coinbases first, with change back to it.
// It never spends coins of the other scripts, which tests spend explicitly.
func (w *Wallet) Fund(outs ...*wire.TxOut) (*wire.MsgTx, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.sync(); err != nil {
		return nil, err
	}
	want := int64(0)
	for _, o := range outs {
		want += o.Value
	}
	tip := w.next - 1
	mature := func(u UTXO) bool {
		return bytes.Equal(u.PkScript, w.miner) &&
			(!u.Coinbase || tip+1-u.Height >= int64(w.params.CoinbaseMaturity))
	}
	var ins []UTXO
	have := int64(0)
	for _, u := range w.mine(mature) {
		if have >= want+Fee(len(ins), len(outs)+1) {
			break
		}
		ins = append(ins, u)
		have += u.Value
	}
	fee := Fee(len(ins), len(outs)+1)
	if have < want+fee {
		return nil, fmt.Errorf("testnode: wallet has %d sat in mature coins at its mining address, need %d (mine more blocks)", have, want+fee)
	}
	tx := wire.NewMsgTx(wire.TxVersion)
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	if change := have - want - fee; change >= 1000 {
		tx.AddTxOut(wire.NewTxOut(change, w.miner))
	}
	return tx, w.sign(tx, ins)
}

// Spend builds and signs (but does not submit) a transaction spending exactly
// the wallet outputs ins, confirmed or not, to outs. The fee is what the
// inputs leave over.
func (w *Wallet) Spend(ins []wire.OutPoint, outs ...*wire.TxOut) (*wire.MsgTx, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.sync(); err != nil {
		return nil, err
	}
	prevs := make([]UTXO, len(ins))
	in, out := int64(0), int64(0)
	for i, op := range ins {
		u, ok := w.utxos[op]
		if _, mine := w.owned[string(u.PkScript)]; !ok || !mine {
			return nil, fmt.Errorf("testnode: %v is not an unspent output of the wallet", op)
		}
		prevs[i] = u
		in += u.Value
	}
	for _, o := range outs {
		if o.Value < 0 {
			return nil, fmt.Errorf("testnode: negative output value %d", o.Value)
		}
		out += o.Value
	}
	if out > in {
		return nil, fmt.Errorf("testnode: outputs (%d sat) exceed inputs (%d sat)", out, in)
	}
	tx := wire.NewMsgTx(wire.TxVersion)
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx, w.sign(tx, prevs)
}

// Sweep spends ins to the single output Script(k, index), paying Fee.
func (w *Wallet) Sweep(ins []wire.OutPoint, k Kind, index uint32) (*wire.MsgTx, error) {
	w.mu.Lock()
	total := int64(0)
	for _, op := range ins {
		total += w.utxos[op].Value // Spend rejects unknown outpoints
	}
	w.mu.Unlock()
	return w.Spend(ins, w.Out(k, index, total-Fee(len(ins), 1)))
}

// OutPoints lists the outputs of tx that the wallet can spend.
func (w *Wallet) OutPoints(tx *wire.MsgTx) []wire.OutPoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ops []wire.OutPoint
	for i, out := range tx.TxOut {
		if o, ok := w.owned[string(out.PkScript)]; ok && o.kind.Spendable() {
			ops = append(ops, wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)})
		}
	}
	return ops
}

// Submit sends tx to the node (sendrawtransaction) and records it, so its
// outputs can be spent before it is mined.
func (w *Wallet) Submit(tx *wire.MsgTx) (chainhash.Hash, error) {
	if w.client == nil {
		return chainhash.Hash{}, errors.New("testnode: wallet has no RPC client")
	}
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return chainhash.Hash{}, err
	}
	var s string
	if err := w.client.Call(context.Background(), "sendrawtransaction", []any{hex.EncodeToString(buf.Bytes())}, &s); err != nil {
		return chainhash.Hash{}, err
	}
	w.mu.Lock()
	w.apply(tx, -1, false)
	w.mu.Unlock()
	return tx.TxHash(), nil
}

// Send funds, signs and submits a transaction paying outs.
func (w *Wallet) Send(outs ...*wire.TxOut) (*wire.MsgTx, error) {
	tx, err := w.Fund(outs...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Submit(tx); err != nil {
		return nil, err
	}
	return tx, nil
}

// sign adds inputs spending prevs to tx and signs them all (SIGHASH_ALL, or
// the Taproot default), then runs the script engine over them so a mistake
// shows here rather than as a node rejection.
func (w *Wallet) sign(tx *wire.MsgTx, prevs []UTXO) error {
	fetch := txscript.NewMultiPrevOutFetcher(nil)
	for _, u := range prevs {
		tx.AddTxIn(wire.NewTxIn(&u.OutPoint, nil, nil))
		fetch.AddPrevOut(u.OutPoint, wire.NewTxOut(u.Value, u.PkScript))
	}
	hashes := txscript.NewTxSigHashes(tx, fetch)
	all := txscript.SigHashAll
	for i, u := range prevs {
		o := w.owned[string(u.PkScript)]
		in := tx.TxIn[i]
		var err error
		// sigs signs subScript with the first n keys (legacy sighash).
		sigs := func(b *txscript.ScriptBuilder, subScript []byte, n int) {
			for _, k := range o.keys[:n] {
				var sig []byte
				if sig, err = txscript.RawTxInSignature(tx, i, subScript, all, k); err != nil {
					return
				}
				b.AddData(sig)
			}
		}
		switch o.kind {
		case P2PKH:
			in.SignatureScript, err = txscript.SignatureScript(tx, i, u.PkScript, all, o.keys[0], true)
		case P2PK:
			b := txscript.NewScriptBuilder()
			sigs(b, u.PkScript, 1)
			if err == nil {
				in.SignatureScript, err = b.Script()
			}
		case Multisig, P2SH:
			// OP_0 for CHECKMULTISIG's extra pop.
			b := txscript.NewScriptBuilder().AddOp(txscript.OP_0)
			sub, n := u.PkScript, 1
			if o.kind == P2SH {
				sub, n = o.script, 2
			}
			sigs(b, sub, n)
			if o.kind == P2SH {
				b.AddData(o.script)
			}
			if err == nil {
				in.SignatureScript, err = b.Script()
			}
		case P2WPKH:
			in.Witness, err = txscript.WitnessSignature(tx, hashes, i, u.Value, u.PkScript, all, o.keys[0], true)
		case P2WSH:
			wit := wire.TxWitness{nil}
			for _, k := range o.keys[:2] {
				var sig []byte
				if sig, err = txscript.RawTxInWitnessSignature(tx, hashes, i, u.Value, o.script, all, k); err != nil {
					break
				}
				wit = append(wit, sig)
			}
			in.Witness = append(wit, o.script)
		case P2TR:
			in.Witness, err = txscript.TaprootWitnessSignature(tx, hashes, i, u.Value, u.PkScript, txscript.SigHashDefault, o.keys[0])
		case NonStandard:
			// OP_TRUE needs no signature.
		default:
			err = fmt.Errorf("cannot spend %s outputs", o.kind)
		}
		if err != nil {
			return fmt.Errorf("testnode: signing input %d (%s): %v", i, o.kind, err)
		}
	}
	for i, u := range prevs {
		vm, err := txscript.NewEngine(u.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, u.Value, fetch)
		if err == nil {
			err = vm.Execute()
		}
		if err != nil {
			return fmt.Errorf("testnode: input %d (%s) does not verify: %v", i, w.owned[string(u.PkScript)].kind, err)
		}
	}
	return nil
}
