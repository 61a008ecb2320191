package index

import (
	"encoding/binary"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

var (
	keyVersion = []byte("Mv")
	keyTip     = []byte("Mt")
)

const (
	pfxBlock     = 'b'
	pfxBlockHash = 'h'
)

func blockKey(h uint32) []byte {
	k := make([]byte, 5)
	k[0] = pfxBlock
	binary.BigEndian.PutUint32(k[1:], h)
	return k
}

func blockHashKey(h chainhash.Hash) []byte {
	return append([]byte{pfxBlockHash}, h[:]...)
}

// counters are the logical lengths of the columns after a block.
type counters struct {
	nTx     uint32
	nOut    uint64
	nIn     uint64
	nAddr   uint32
	heapLen uint64 // bytes of address keys
}

// Tip is the last connected block and the column lengths after it.
type Tip struct {
	Empty  bool
	Height uint32
	Hash   chainhash.Hash
	counters
}

func (t Tip) encode() []byte {
	b := make([]byte, 4+32+4+8+8+4+8)
	binary.BigEndian.PutUint32(b, t.Height)
	copy(b[4:], t.Hash[:])
	binary.BigEndian.PutUint32(b[36:], t.nTx)
	binary.BigEndian.PutUint64(b[40:], t.nOut)
	binary.BigEndian.PutUint64(b[48:], t.nIn)
	binary.BigEndian.PutUint32(b[56:], t.nAddr)
	binary.BigEndian.PutUint64(b[60:], t.heapLen)
	return b
}

func decodeTip(b []byte) (Tip, bool) {
	if len(b) != 68 {
		return Tip{}, false
	}
	var t Tip
	t.Height = binary.BigEndian.Uint32(b)
	copy(t.Hash[:], b[4:36])
	t.nTx = binary.BigEndian.Uint32(b[36:])
	t.nOut = binary.BigEndian.Uint64(b[40:])
	t.nIn = binary.BigEndian.Uint64(b[48:])
	t.nAddr = binary.BigEndian.Uint32(b[56:])
	t.heapLen = binary.BigEndian.Uint64(b[60:])
	return t, true
}

// BlockInfo is a block record.
type BlockInfo struct {
	Height  uint32
	Hash    chainhash.Hash
	Prev    chainhash.Hash
	Time    uint32
	Size    uint32
	FirstTx uint32
	NumTx   uint32
	after   counters
}

func (b BlockInfo) encode() []byte {
	v := make([]byte, 32+32+4*4+8+8+4+8)
	copy(v, b.Hash[:])
	copy(v[32:], b.Prev[:])
	binary.BigEndian.PutUint32(v[64:], b.Time)
	binary.BigEndian.PutUint32(v[68:], b.Size)
	binary.BigEndian.PutUint32(v[72:], b.FirstTx)
	binary.BigEndian.PutUint32(v[76:], b.NumTx)
	binary.BigEndian.PutUint64(v[80:], b.after.nOut)
	binary.BigEndian.PutUint64(v[88:], b.after.nIn)
	binary.BigEndian.PutUint32(v[96:], b.after.nAddr)
	binary.BigEndian.PutUint64(v[100:], b.after.heapLen)
	return v
}

func decodeBlockInfo(h uint32, v []byte) (BlockInfo, bool) {
	if len(v) != 108 {
		return BlockInfo{}, false
	}
	b := BlockInfo{Height: h}
	copy(b.Hash[:], v)
	copy(b.Prev[:], v[32:])
	b.Time = binary.BigEndian.Uint32(v[64:])
	b.Size = binary.BigEndian.Uint32(v[68:])
	b.FirstTx = binary.BigEndian.Uint32(v[72:])
	b.NumTx = binary.BigEndian.Uint32(v[76:])
	b.after = counters{nTx: b.FirstTx + b.NumTx, nOut: binary.BigEndian.Uint64(v[80:]), nIn: binary.BigEndian.Uint64(v[88:]), nAddr: binary.BigEndian.Uint32(v[96:]), heapLen: binary.BigEndian.Uint64(v[100:])}
	return b, true
}
