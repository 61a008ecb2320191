package server

import (
	"encoding/binary"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
)

// synth makes random but consistent blocks (every input spends an existing
// unspent output, no value is created) and connects them to an index
// directly, without a node: the engine tests need many blocks of varied
// shapes quickly, and the index does not check scripts.
type synth struct {
	t      testing.TB
	rng    *mrand.Rand
	ix     *index.Index
	prev   chainhash.Hash
	height int
	utxos  []synthUTXO
	// reserved outputs are spent only when a block names them in must.
	reserved map[wire.OutPoint]bool
	addrs    []chain.AddrKey
}

type synthUTXO struct {
	op    wire.OutPoint
	value int64
}

func newSynth(t testing.TB, ix *index.Index, seed uint64, nAddrs int) *synth {
	s := &synth{t: t, rng: mrand.New(mrand.NewPCG(seed, 7)), ix: ix}
	for i := range nAddrs {
		var h [20]byte
		h[0], h[1] = byte(i), byte(i>>8)
		for j := 2; j < 20; j++ {
			h[j] = byte(s.rng.Uint32())
		}
		s.addrs = append(s.addrs, chain.AddrKey("p"+string(h[:])))
	}
	g := index.PrepareMsg(chaincfg.RegressionNetParams.GenesisBlock, "genesis")
	if _, err := ix.Connect([]*index.Block{g}); err != nil {
		t.Fatal(err)
	}
	s.prev = g.Hash
	return s
}

// block makes a block of a coinbase and nTx transactions; later ones may
// spend outputs of earlier ones. must are outpoints spent first, one
// transaction each.
func (s *synth) block(nTx int, must ...wire.OutPoint) *index.Block {
	return index.PrepareMsg(s.msgBlock(nTx, must...), "synth")
}

func (s *synth) msgBlock(nTx int, must ...wire.OutPoint) *wire.MsgBlock {
	s.height++
	mb := &wire.MsgBlock{Header: wire.BlockHeader{Version: 4, PrevBlock: s.prev, Timestamp: time.Unix(1_700_000_000+int64(s.height)*600, 0),
		Bits: 0x207fffff, Nonce: s.rng.Uint32()}}
	script := func() []byte {
		ps, err := s.addrs[s.rng.IntN(len(s.addrs))].PkScript()
		if err != nil {
			s.t.Fatal(err)
		}
		return ps
	}
	addTx := func(tx *wire.MsgTx) {
		mb.AddTransaction(tx)
		h := tx.TxHash()
		for j, o := range tx.TxOut {
			s.utxos = append(s.utxos, synthUTXO{wire.OutPoint{Hash: h, Index: uint32(j)}, o.Value})
		}
	}
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: binary.LittleEndian.AppendUint64(nil, s.rng.Uint64())})
	for _, v := range []int64{25_0000_0000, 15_0000_0000, 10_0000_0000}[:1+s.rng.IntN(3)] {
		cb.AddTxOut(wire.NewTxOut(v, script()))
	}
	addTx(cb)
	take := func(i int) synthUTXO {
		u := s.utxos[i]
		s.utxos[i] = s.utxos[len(s.utxos)-1]
		s.utxos = s.utxos[:len(s.utxos)-1]
		return u
	}
	for _, op := range must {
		i := slices.IndexFunc(s.utxos, func(u synthUTXO) bool { return u.op == op })
		if i < 0 {
			s.t.Fatalf("synth: %v is not unspent", op)
		}
		u := take(i)
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: u.op, SignatureScript: binary.LittleEndian.AppendUint64(nil, s.rng.Uint64())})
		// Most of it to address 1, a little to 2 (never labelled in the tests).
		small := u.value / 100
		for i, v := range []int64{u.value - small - 500, small} {
			ps, _ := s.addrs[1+i].PkScript()
			tx.AddTxOut(wire.NewTxOut(v, ps))
		}
		addTx(tx)
	}
	for range nTx {
		nIn := 1 + s.rng.IntN(3)
		coinjoin := s.rng.IntN(20) == 0
		if coinjoin {
			nIn = 5
		}
		if len(s.utxos) < nIn+10 {
			break
		}
		tx := wire.NewMsgTx(2)
		var total int64
		for range nIn {
			i := s.rng.IntN(len(s.utxos))
			for s.reserved[s.utxos[i].op] {
				i = s.rng.IntN(len(s.utxos))
			}
			u := take(i)
			total += u.value
			tx.AddTxIn(&wire.TxIn{PreviousOutPoint: u.op, SignatureScript: binary.LittleEndian.AppendUint64(nil, s.rng.Uint64())})
		}
		fee := min(int64(s.rng.IntN(5000)), total/10)
		left := total - fee
		if coinjoin {
			d := left / 6
			for range 5 {
				tx.AddTxOut(wire.NewTxOut(d, script()))
			}
			left -= 5 * d
		} else {
			for k := s.rng.IntN(3); k > 0 && left > 2; k-- {
				v := int64(s.rng.Uint64N(uint64(left)))
				if s.rng.IntN(4) == 0 {
					v = int64(s.rng.IntN(3000)) // dust now and then
				}
				v = min(v, left)
				tx.AddTxOut(wire.NewTxOut(v, script()))
				left -= v
			}
		}
		tx.AddTxOut(wire.NewTxOut(left, script()))
		addTx(tx)
	}
	s.prev = mb.BlockHash()
	return mb
}

func (s *synth) connect(b *index.Block) {
	s.t.Helper()
	if _, err := s.ix.Connect([]*index.Block{b}); err != nil {
		s.t.Fatal(err)
	}
}

// rollback drops blocks down to height h and forgets their outputs (the
// pool is rebuilt from the index's unspent outputs).
func (s *synth) rollback(h int64) {
	s.t.Helper()
	if err := s.ix.Rollback(h); err != nil {
		s.t.Fatal(err)
	}
	b, err := s.ix.BlockAt(uint32(h))
	if err != nil {
		s.t.Fatal(err)
	}
	s.prev = b.Hash
	s.height = int(h)
	s.utxos = s.utxos[:0]
	ix := s.ix
	for tx := uint32(0); tx < ix.NumTxs(); tx++ {
		first, n := ix.TxOutputs(tx)
		for o := first; o < first+uint64(n); o++ {
			if ix.OutSpender(o) == index.NoTx {
				s.utxos = append(s.utxos, synthUTXO{wire.OutPoint{Hash: chainhash.Hash(ix.TxHash(tx)), Index: uint32(o - first)}, ix.OutValue(o)})
			}
		}
	}
}
