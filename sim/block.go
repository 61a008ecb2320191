package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Regtest consensus constants the generator relies on (btcd v0.24.2
// chaincfg.RegressionNetParams; Bitcoin Core's regtest agrees on them).
const (
	regtestBits      = 0x207fffff
	coinbaseMaturity = 100
	halvingInterval  = 150
	initialSubsidy   = 50 * 1e8
	// BIP 9 on btcd regtest: SegWit (bit 1) and Taproot (bit 2) are
	// startable from the first window on, windows are 144 blocks and 108
	// signalling blocks lock a deployment in.
	bip9Window     = 144
	versionBase    = 0x20000000
	versionSignal  = versionBase | 1<<1 | 1<<2
	maxBlockWeight = 3_600_000 // below consensus 4,000,000: room for estimate error
	maxBlockBase   = 900_000   // stripped bytes, consensus 1,000,000
	maxBlockSigops = 72_000    // consensus 80,000
)

// subsidy is the block reward at height h on regtest.
func subsidy(h int32) int64 {
	n := h / halvingInterval
	if n >= 63 {
		return 0
	}
	return initialSubsidy >> n
}

// witnessMagic starts the coinbase output that commits to the witnesses.
var witnessMagic = []byte{txscript.OP_RETURN, 0x24, 0xaa, 0x21, 0xa9, 0xed}

// merkleRoot is the Bitcoin merkle root of hashes (the last one of an odd
// level pairs with itself).
func merkleRoot(hashes []chainhash.Hash) chainhash.Hash {
	if len(hashes) == 0 {
		return chainhash.Hash{}
	}
	level := append([]chainhash.Hash(nil), hashes...)
	var buf [64]byte
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			j := min(i+1, len(level)-1)
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[j][:])
			next = append(next, chainhash.DoubleHashH(buf[:]))
		}
		level = next
	}
	return level[0]
}

// coinbase builds the coinbase of height h paying value to script. With
// commit set it carries the BIP 141 witness commitment of txs (the block's
// other transactions) and the witness reserved value.
func coinbase(h int32, script []byte, value int64, tag string, extra uint64, commit bool, txs []*wire.MsgTx) *wire.MsgTx {
	var wtx []chainhash.Hash
	if commit {
		wtx = make([]chainhash.Hash, len(txs)+1) // the coinbase counts as zero
		for i, tx := range txs {
			wtx[i+1] = tx.WitnessHash()
		}
	}
	return coinbaseW(h, script, value, tag, extra, commit, wtx)
}

// coinbaseW is coinbase given the witness hashes of the block's
// transactions, wtx[0] (the coinbase's own) zero.
func coinbaseW(h int32, script []byte, value int64, tag string, extra uint64, commit bool, wtx []chainhash.Hash) *wire.MsgTx {
	var en [8]byte
	binary.LittleEndian.PutUint64(en[:], extra)
	sig, _ := txscript.NewScriptBuilder().AddInt64(int64(h)).AddData(en[:]).AddData([]byte(tag)).Script()
	in := &wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: math.MaxUint32}, SignatureScript: sig, Sequence: math.MaxUint32}
	cb := &wire.MsgTx{Version: 1, TxIn: []*wire.TxIn{in}, TxOut: []*wire.TxOut{{Value: value, PkScript: script}}}
	if commit {
		var reserved [32]byte
		in.Witness = wire.TxWitness{reserved[:]}
		root := merkleRoot(wtx)
		c := chainhash.DoubleHashB(append(root[:], reserved[:]...))
		cb.TxOut = append(cb.TxOut, &wire.TxOut{PkScript: append(append([]byte(nil), witnessMagic...), c...)})
	}
	return cb
}

// regtestTarget is the proof-of-work target of bits 0x207fffff, big-endian.
var regtestTarget = func() [32]byte {
	var t [32]byte
	t[0], t[1], t[2] = 0x7f, 0xff, 0xff
	return t
}()

func meetsTarget(h chainhash.Hash) bool {
	for i := 0; i < 32; i++ { // h is little-endian
		b, t := h[31-i], regtestTarget[i]
		if b != t {
			return b < t
		}
	}
	return true
}

// seal assembles a block, grinds its nonce and serializes it.
func seal(version int32, prev chainhash.Hash, ts int64, txs []*wire.MsgTx) (*wire.MsgBlock, []byte) {
	ids := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		ids[i] = tx.TxHash()
	}
	blk := &wire.MsgBlock{Header: wire.BlockHeader{
		Version: version, PrevBlock: prev, MerkleRoot: merkleRoot(ids),
		Timestamp: time.Unix(ts, 0), Bits: regtestBits,
	}, Transactions: txs}
	for !meetsTarget(blk.Header.BlockHash()) {
		blk.Header.Nonce++
	}
	var buf bytes.Buffer
	buf.Grow(blk.SerializeSize())
	_ = blk.Serialize(&buf) // a bytes.Buffer does not fail
	return blk, buf.Bytes()
}

// tagBytes is a short deterministic payload (OP_RETURN data and the like).
func tagBytes(label string, n int, salt uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], salt)
	out := make([]byte, 0, n)
	for i := byte(0); len(out) < n; i++ {
		h := sha256.Sum256(append(append([]byte(label), b[:]...), i))
		out = append(out, h[:]...)
	}
	return out[:n]
}
