package taint

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/cointrail/cointrail/chain"
)

// MemGraph is an in-memory Graph built block by block, for tests and
// benchmarks of this and other packages. It checks what the index guarantees
// (outputs exist and are spent once, a coinbase opens every block and its
// outputs are not spent in the same block, no transaction creates value), so
// a test cannot trace a graph the real chain could not contain.
type MemGraph struct {
	txOutFirst []uint64
	txOutN     []uint32
	txInFirst  []uint64
	txInN      []uint32
	txHeight   []uint32

	inPrev []uint64

	outValue   []int64
	outAddr    []uint32
	outType    []uint8
	outSpender []uint32
	outTx      []uint32

	blockTime []int64
	addrNames map[uint32]string
}

// MemOut is an output given to MemGraph.AddTx or AddBlock.
type MemOut struct {
	Value int64
	Addr  uint32
	Type  chain.ScriptType
}

// NewMemGraph returns an empty graph; the first AddBlock makes height 0.
func NewMemGraph() *MemGraph { return &MemGraph{addrNames: map[uint32]string{}} }

// AddBlock starts a new block with the given time and coinbase outputs and
// returns the coinbase's transaction number.
func (g *MemGraph) AddBlock(time int64, coinbase ...MemOut) uint32 {
	g.blockTime = append(g.blockTime, time)
	tx, err := g.addTx(nil, coinbase)
	if err != nil {
		panic(err) // a coinbase has nothing to check against
	}
	return tx
}

// AddTx appends a transaction to the last block, spending the given output
// ids, and returns its number.
func (g *MemGraph) AddTx(spends []uint64, outs ...MemOut) (uint32, error) {
	if len(g.blockTime) == 0 {
		return 0, fmt.Errorf("%w: memgraph: AddTx before AddBlock", ErrBadParams)
	}
	if len(spends) == 0 {
		return 0, fmt.Errorf("%w: memgraph: only AddBlock makes a transaction without inputs", ErrBadParams)
	}
	return g.addTx(spends, outs)
}

func (g *MemGraph) addTx(spends []uint64, outs []MemOut) (uint32, error) {
	tx := uint32(len(g.txHeight))
	height := uint32(len(g.blockTime) - 1)
	var in, out int64
	for i, o := range spends {
		if o >= uint64(len(g.outValue)) {
			return 0, fmt.Errorf("%w: memgraph: input %d spends unknown output %d", ErrBadParams, i, o)
		}
		if g.outSpender[o] != NoTx {
			return 0, fmt.Errorf("%w: memgraph: input %d spends output %d already spent by tx %d", ErrBadParams, i, o, g.outSpender[o])
		}
		if c := g.outTx[o]; g.txInN[c] == 0 && g.txHeight[c] == height {
			return 0, fmt.Errorf("%w: memgraph: input %d spends coinbase output %d in its own block", ErrBadParams, i, o)
		}
		for _, p := range spends[:i] {
			if p == o {
				return 0, fmt.Errorf("%w: memgraph: input %d spends output %d twice", ErrBadParams, i, o)
			}
		}
		in += g.outValue[o]
	}
	for j, o := range outs {
		if o.Value < 0 || o.Value > MaxSat {
			return 0, fmt.Errorf("%w: memgraph: output %d value %d", ErrBadParams, j, o.Value)
		}
		out += o.Value
	}
	if len(spends) > 0 && out > in {
		return 0, fmt.Errorf("%w: memgraph: outputs %d exceed inputs %d", ErrBadParams, out, in)
	}
	g.txInFirst = append(g.txInFirst, uint64(len(g.inPrev)))
	g.txInN = append(g.txInN, uint32(len(spends)))
	for _, o := range spends {
		g.inPrev = append(g.inPrev, o)
		g.outSpender[o] = tx
	}
	g.txOutFirst = append(g.txOutFirst, uint64(len(g.outValue)))
	g.txOutN = append(g.txOutN, uint32(len(outs)))
	for _, o := range outs {
		g.outValue = append(g.outValue, o.Value)
		g.outAddr = append(g.outAddr, o.Addr)
		g.outType = append(g.outType, uint8(o.Type))
		g.outSpender = append(g.outSpender, NoTx)
		g.outTx = append(g.outTx, tx)
	}
	g.txHeight = append(g.txHeight, height)
	return tx, nil
}

// Out returns the id of output vout of tx.
func (g *MemGraph) Out(tx, vout uint32) uint64 { return g.txOutFirst[tx] + uint64(vout) }

// SetAddrString names an address; unnamed addresses are "addr<id>".
func (g *MemGraph) SetAddrString(addr uint32, s string) { g.addrNames[addr] = s }

// NumTxs implements Graph.
func (g *MemGraph) NumTxs() uint32 { return uint32(len(g.txHeight)) }

// TxOutputs implements Graph.
func (g *MemGraph) TxOutputs(tx uint32) (uint64, uint32) { return g.txOutFirst[tx], g.txOutN[tx] }

// TxInputs implements Graph.
func (g *MemGraph) TxInputs(tx uint32) (uint64, uint32) { return g.txInFirst[tx], g.txInN[tx] }

// InputPrevOut implements Graph.
func (g *MemGraph) InputPrevOut(in uint64) uint64 { return g.inPrev[in] }

// OutValue implements Graph.
func (g *MemGraph) OutValue(out uint64) int64 { return g.outValue[out] }

// OutAddr implements Graph.
func (g *MemGraph) OutAddr(out uint64) uint32 { return g.outAddr[out] }

// OutType implements Graph.
func (g *MemGraph) OutType(out uint64) uint8 { return g.outType[out] }

// OutSpender implements Graph.
func (g *MemGraph) OutSpender(out uint64) uint32 { return g.outSpender[out] }

// OutTx implements Graph.
func (g *MemGraph) OutTx(out uint64) uint32 { return g.outTx[out] }

// TxHeight implements Graph.
func (g *MemGraph) TxHeight(tx uint32) uint32 { return g.txHeight[tx] }

// BlockTime implements Graph.
func (g *MemGraph) BlockTime(height uint32) int64 { return g.blockTime[height] }

// TxHash implements Graph with a made-up hash of the number (cheap, so
// benchmarks measure the engine, not this).
func (g *MemGraph) TxHash(tx uint32) [32]byte {
	var h [32]byte
	x := uint64(tx)
	for i := 0; i < 32; i += 8 {
		x = splitmix(x)
		binary.LittleEndian.PutUint64(h[i:], x)
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// AddrString implements Graph.
func (g *MemGraph) AddrString(addr uint32) string {
	if addr == 0 {
		return ""
	}
	if s, ok := g.addrNames[addr]; ok {
		return s
	}
	return fmt.Sprintf("addr%d", addr)
}

// Tip implements Graph. The hash is made up like TxHash's.
func (g *MemGraph) Tip() (uint32, [32]byte) {
	h := uint32(len(g.blockTime) - 1)
	var b [5]byte
	b[0] = 'b'
	binary.LittleEndian.PutUint32(b[1:], h)
	return h, sha256.Sum256(b[:])
}

// Err implements Graph: a MemGraph is checked as it is built.
func (g *MemGraph) Err() error { return nil }

// Corrupt implements Graph.
func (g *MemGraph) Corrupt(err error) error { return err }

// MemAttribution is an Attribution from a map, for tests.
type MemAttribution map[uint32]Entity

// Entity implements Attribution.
func (m MemAttribution) Entity(addr uint32) (Entity, bool) {
	e, ok := m[addr]
	return e, ok
}
