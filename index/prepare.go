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
	Trailing   int             // bytes after the block in what Prepare was given (not part of Size)
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

// Prepare decodes a serialized block and checks what needs no other block:
// its hash meets the target of its own bits (chain.CheckProofOfWork), the
// coinbase comes first and alone, the merkle root of its txids matches the
// header and is not mutated, and the witness commitment matches (see
// docs/validation.md). origin names where it came from (file:offset or
// endpoint and height); every error names origin and the rule. Size is the
// block's serialization: bytes after it in raw (a frame longer than its
// block) are counted in Trailing, not in Size.
func Prepare(raw []byte, origin string) (*Block, error) {
	return prepare(raw, origin, true)
}

func prepare(raw []byte, origin string, validate bool) (*Block, error) {
	r := bytes.NewReader(raw)
	var mb wire.MsgBlock
	if err := mb.Deserialize(r); err != nil {
		return nil, fmt.Errorf("%w: block at %s: %v", ErrCorrupt, origin, err)
	}
	b := prepareMsg(&mb, origin, len(raw)-r.Len())
	b.Trailing = r.Len()
	if validate {
		if err := checkBlock(&mb, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// PrepareMsg prepares a block the caller built or received decoded, without
// validation (tests synthesize blocks with it); blocks from outside go
// through Prepare or PrepareMsgChecked.
func PrepareMsg(mb *wire.MsgBlock, origin string) *Block {
	return prepareMsg(mb, origin, mb.SerializeSize())
}

// PrepareMsgChecked is PrepareMsg with Prepare's checks.
func PrepareMsgChecked(mb *wire.MsgBlock, origin string) (*Block, error) {
	b := prepareMsg(mb, origin, mb.SerializeSize())
	if err := checkBlock(mb, b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkBlock runs the context-free checks on mb, reusing the txids prepareMsg
// computed (they are most of the hashing the checks need).
func checkBlock(mb *wire.MsgBlock, b *Block) error {
	err := chain.CheckProofOfWork(b.Hash, mb.Header.Bits)
	if err == nil {
		txids := make([]chainhash.Hash, len(b.Txs))
		for i := range b.Txs {
			txids[i] = b.Txs[i].TxID
		}
		err = chain.CheckBody(mb, txids)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: block %s: %w", ErrCorrupt, b.Origin, b.Hash, err)
	}
	return nil
}

// prepare is Prepare for the ingest pipeline: it also logs a frame longer
// than its block. Such a block is kept (its hash, merkle root and witness
// commitment bind every byte of it; the extra bytes are outside it), with
// its real size, so the index equals one built from clean files.
func (ix *Index) prepare(raw []byte, origin string) (*Block, error) {
	b, err := Prepare(raw, origin)
	if err == nil && b.Trailing > 0 {
		ix.log.Warn("block frame is longer than the block; the extra bytes are ignored",
			"at", origin, "block", b.Hash.String(), "block_bytes", b.Size, "extra_bytes", b.Trailing)
	}
	return b, err
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
