package sim

import (
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// build turns a plan into a signed transaction and sets its txid. It only
// reads shared state, so plans of one block are built in parallel.
func (g *keygen) build(p *txPlan) error {
	tx := &wire.MsgTx{Version: p.version, LockTime: p.lockTime,
		TxIn: make([]*wire.TxIn, len(p.ins)), TxOut: make([]*wire.TxOut, len(p.outs))}
	for i, u := range p.ins {
		tx.TxIn[i] = &wire.TxIn{PreviousOutPoint: u.op, Sequence: p.seq}
	}
	for i, o := range p.outs {
		var script []byte
		if o.a == nil {
			script = append([]byte{txscript.OP_RETURN, byte(len(o.data))}, o.data...)
		} else {
			script = o.a.script
		}
		tx.TxOut[i] = &wire.TxOut{Value: o.value, PkScript: script}
	}
	var err error
	if g.fast {
		g.fakeSign(tx, p.ins)
	} else {
		err = g.sign(tx, p.ins)
	}
	if err != nil {
		return fmt.Errorf("%w: signing: %w", ErrInternal, err)
	}
	p.tx, p.txid = tx, tx.TxHash()
	return nil
}

func (g *keygen) priv(a *addr, j byte) *btcec.PrivateKey {
	s := g.scalar(a, j)
	return btcec.PrivKeyFromScalar(&s)
}

func pushes(items ...[]byte) []byte {
	b := txscript.NewScriptBuilder()
	for _, it := range items {
		b.AddData(it)
	}
	s, _ := b.Script() // only fails beyond 10,000 bytes
	return s
}

func (g *keygen) sign(tx *wire.MsgTx, ins []*utxo) error {
	var hashes *txscript.TxSigHashes
	var fetch txscript.PrevOutputFetcher
	for _, u := range ins {
		if u.a.kind.witness() {
			prev := make(map[wire.OutPoint]*wire.TxOut, len(ins))
			for _, v := range ins {
				prev[v.op] = &wire.TxOut{Value: v.value, PkScript: v.a.script}
			}
			fetch = txscript.NewMultiPrevOutFetcher(prev)
			hashes = txscript.NewTxSigHashes(tx, fetch)
			break
		}
	}
	all := txscript.SigHashAll
	for i, u := range ins {
		a, in := u.a, tx.TxIn[i]
		switch a.kind {
		case kP2PKH:
			sig, err := txscript.RawTxInSignature(tx, i, a.script, all, g.priv(a, 0))
			if err != nil {
				return err
			}
			in.SignatureScript = pushes(sig, a.pub)
		case kP2SH:
			s1, err := txscript.RawTxInSignature(tx, i, a.redeem, all, g.priv(a, a.signers[0]))
			if err != nil {
				return err
			}
			s2, err := txscript.RawTxInSignature(tx, i, a.redeem, all, g.priv(a, a.signers[1]))
			if err != nil {
				return err
			}
			// The leading empty push is CHECKMULTISIG's extra pop.
			in.SignatureScript = pushes(nil, s1, s2, a.redeem)
		case kP2WPKH:
			sig, err := txscript.RawTxInWitnessSignature(tx, hashes, i, u.value, a.script, all, g.priv(a, 0))
			if err != nil {
				return err
			}
			in.Witness = wire.TxWitness{sig, a.pub}
		case kP2WSH:
			s1, err := txscript.RawTxInWitnessSignature(tx, hashes, i, u.value, a.redeem, all, g.priv(a, a.signers[0]))
			if err != nil {
				return err
			}
			s2, err := txscript.RawTxInWitnessSignature(tx, hashes, i, u.value, a.redeem, all, g.priv(a, a.signers[1]))
			if err != nil {
				return err
			}
			in.Witness = wire.TxWitness{nil, s1, s2, a.redeem}
		case kP2TR:
			h, err := txscript.CalcTaprootSignatureHash(hashes, txscript.SigHashDefault, tx, i, fetch)
			if err != nil {
				return err
			}
			// schnorr.Sign may negate the key it is given: hand it a copy.
			sig, err := schnorr.Sign(btcec.PrivKeyFromScalar(a.tap), h, schnorr.FastSign())
			if err != nil {
				return err
			}
			in.Witness = wire.TxWitness{sig.Serialize()}
		}
	}
	return nil
}

// fakeSign fills inputs with signature-shaped bytes (strict DER with a
// sighash byte, 64-byte Schnorr) derived from the outpoint: fast mode.
func (g *keygen) fakeSign(tx *wire.MsgTx, ins []*utxo) {
	for i, u := range ins {
		a, in := u.a, tx.TxIn[i]
		seed := sha256.Sum256(append(u.op.Hash[:], byte(u.op.Index), byte(u.op.Index>>8), byte(u.op.Index>>16)))
		der := func(n byte) []byte {
			r := sha256.Sum256(append(seed[:], n))
			s := sha256.Sum256(append(r[:], n))
			r[0], s[0] = r[0]&0x7f|1, s[0]&0x7f|1
			sig := append([]byte{0x30, 0x44, 0x02, 0x20}, r[:]...)
			sig = append(append(sig, 0x02, 0x20), s[:]...)
			return append(sig, byte(txscript.SigHashAll))
		}
		switch a.kind {
		case kP2PKH:
			in.SignatureScript = pushes(der(0), a.pub)
		case kP2SH:
			in.SignatureScript = pushes(nil, der(0), der(1), a.redeem)
		case kP2WPKH:
			in.Witness = wire.TxWitness{der(0), a.pub}
		case kP2WSH:
			in.Witness = wire.TxWitness{nil, der(0), der(1), a.redeem}
		case kP2TR:
			r := sha256.Sum256(seed[:])
			s := sha256.Sum256(r[:])
			in.Witness = wire.TxWitness{append(r[:], s[:]...)}
		}
	}
}
