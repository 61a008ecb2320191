package index

import (
	"bytes"
	"crypto/sha256"
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
	r := bytes.NewBuffer(raw)
	var mb wire.MsgBlock
	locs, err := mb.DeserializeTxLoc(r)
	if err != nil {
		return nil, fmt.Errorf("%w: block at %s: %v", ErrCorrupt, origin, err)
	}
	size := len(raw) - r.Len()
	ids, wids := hashTxs(raw, &mb, locs, validate)
	b := prepareMsg(&mb, origin, size, ids)
	b.Trailing = len(raw) - size
	if validate {
		if err := checkBlock(&mb, b, ids, wids); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// hashTxs computes txids and wtxids from the transactions' bytes in raw
// instead of serializing each transaction again (as MsgTx.TxHash and
// WitnessHash do): for a segwit transaction the txid covers its bytes
// minus the marker, flag and witnesses, so both ids cost one pass of
// hashing and no copying. wids is nil when no transaction has a witness
// or withWitness is false.
func hashTxs(raw []byte, mb *wire.MsgBlock, locs []wire.TxLoc, withWitness bool) (ids, wids []chainhash.Hash) {
	ids = make([]chainhash.Hash, len(mb.Transactions))
	h := sha256.New()
	var first [sha256.Size]byte
	for i, tx := range mb.Transactions {
		b := raw[locs[i].TxStart : locs[i].TxStart+locs[i].TxLen]
		if !tx.HasWitness() {
			ids[i] = chainhash.DoubleHashH(b)
			continue
		}
		if withWitness {
			if wids == nil {
				wids = make([]chainhash.Hash, len(mb.Transactions))
			}
			wids[i] = chainhash.DoubleHashH(b)
		}
		stripped := tx.SerializeSizeStripped()
		h.Reset()
		h.Write(b[:4])               // version
		h.Write(b[6 : 6+stripped-8]) // inputs and outputs, after marker and flag
		h.Write(b[len(b)-4:])        // lock time
		ids[i] = sha256.Sum256(h.Sum(first[:0]))
	}
	if wids != nil {
		for i, tx := range mb.Transactions {
			if !tx.HasWitness() {
				wids[i] = ids[i] // no witness: wtxid = txid
			}
		}
	}
	return ids, wids
}

// PrepareMsg prepares a block the caller built or received decoded, without
// validation (tests synthesize blocks with it); blocks from outside go
// through Prepare or PrepareMsgChecked.
func PrepareMsg(mb *wire.MsgBlock, origin string) *Block {
	return prepareMsg(mb, origin, mb.SerializeSize(), nil)
}

// PrepareMsgChecked is PrepareMsg with Prepare's checks.
func PrepareMsgChecked(mb *wire.MsgBlock, origin string) (*Block, error) {
	b := prepareMsg(mb, origin, mb.SerializeSize(), nil)
	if err := checkBlock(mb, b, nil, nil); err != nil {
		return nil, err
	}
	return b, nil
}

// checkBlock runs the context-free checks on mb, with the txids (and
// wtxids, if any) already computed; nil ones are taken from b or computed.
func checkBlock(mb *wire.MsgBlock, b *Block, ids, wids []chainhash.Hash) error {
	err := chain.CheckProofOfWork(b.Hash, mb.Header.Bits)
	if err == nil {
		if ids == nil {
			ids = make([]chainhash.Hash, len(b.Txs))
			for i := range b.Txs {
				ids[i] = b.Txs[i].TxID
			}
		}
		err = chain.CheckBody(mb, ids, wids)
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

// prepareMsg builds the Block; ids are the txids when the caller has them.
func prepareMsg(mb *wire.MsgBlock, origin string, size int, ids []chainhash.Hash) *Block {
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
		if ids != nil {
			p.TxID = ids[i]
		} else {
			p.TxID = tx.TxHash()
		}
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
