package index

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
)

// Block is a decoded block, prepared for connecting: everything that needs
// no index state (txids, script classification, sizes) is computed here, so
// it can run on every core ahead of the single writer.
type Block struct {
	Hash, Prev chainhash.Hash
	Time       uint32
	Size       uint32
	Txs        []PrepTx
	Ins        []wire.OutPoint // all inputs of the block, txs in order (coinbase inputs omitted)
	Outs       []PrepOut       // all outputs of the block
	Origin     string          // where the block came from (file:offset or endpoint), for errors
}

// PrepTx is one transaction of a prepared Block.
type PrepTx struct {
	TxID     chainhash.Hash
	Vsize    uint32
	LockTime uint32
	Version  int32
	NIn      uint32 // 0 for a coinbase
	NOut     uint32
}

// PrepOut is one output of a prepared Block.
type PrepOut struct {
	Value int64
	Type  chain.ScriptType
	Key   chain.AddrKey
}

// Prepare decodes a serialized block. origin names where it came from.
func Prepare(raw []byte, origin string) (*Block, error) {
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: block at %s: %v", ErrCorrupt, origin, err)
	}
	return prepareMsg(&mb, origin, len(raw)), nil
}

// PrepareMsg prepares an already decoded block.
func PrepareMsg(mb *wire.MsgBlock, origin string) *Block {
	return prepareMsg(mb, origin, mb.SerializeSize())
}

func prepareMsg(mb *wire.MsgBlock, origin string, size int) *Block {
	b := &Block{
		Size:   uint32(size),
		Hash:   mb.BlockHash(),
		Prev:   mb.Header.PrevBlock,
		Time:   uint32(mb.Header.Timestamp.Unix()),
		Txs:    make([]PrepTx, len(mb.Transactions)),
		Origin: origin,
	}
	nIn, nOut := 0, 0
	for _, tx := range mb.Transactions {
		nIn += len(tx.TxIn)
		nOut += len(tx.TxOut)
	}
	b.Ins = make([]wire.OutPoint, 0, nIn)
	b.Outs = make([]PrepOut, 0, nOut)
	for i, tx := range mb.Transactions {
		p := &b.Txs[i]
		p.TxID = tx.TxHash()
		base := tx.SerializeSizeStripped()
		total := tx.SerializeSize()
		p.Vsize = uint32((base*3 + total + 3) / 4)
		p.LockTime = tx.LockTime
		p.Version = tx.Version
		if !isCoinbase(tx) {
			for _, in := range tx.TxIn {
				b.Ins = append(b.Ins, in.PreviousOutPoint)
			}
			p.NIn = uint32(len(tx.TxIn))
		}
		for _, out := range tx.TxOut {
			t, k := chain.Classify(out.PkScript)
			b.Outs = append(b.Outs, PrepOut{Value: out.Value, Type: t, Key: k})
		}
		p.NOut = uint32(len(tx.TxOut))
	}
	return b
}

func isCoinbase(tx *wire.MsgTx) bool {
	if len(tx.TxIn) != 1 {
		return false
	}
	p := tx.TxIn[0].PreviousOutPoint
	return p.Index == wire.MaxPrevOutIndex && p.Hash == (chainhash.Hash{})
}
