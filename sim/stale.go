package sim

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// staleBranch is a competing branch of n blocks forking off the main chain
// after height fork: another pool mined the same transactions, lost the
// race, and the blocks stay in the blk files (or the node's side chains).
// They are emitted once the main chain is one block longer than them.
type staleBranch struct {
	fork     int32
	n        int
	forkHash chainhash.Hash
	txs      [][]*wire.MsgTx
	fees     []int64
}

func (s *staleBranch) after(e *engine, h int32, blk *wire.MsgBlock, fees int64) error {
	if s.n == 0 || h < s.fork || h > s.fork+int32(s.n)+1 {
		return nil
	}
	switch {
	case h == s.fork:
		s.forkHash = blk.BlockHash()
		return nil
	case h <= s.fork+int32(s.n):
		s.txs = append(s.txs, blk.Transactions[1:])
		s.fees = append(s.fees, fees)
		return nil
	}
	prev := s.forkHash
	for j, txs := range s.txs {
		sh := s.fork + 1 + int32(j)
		p := e.pools[(j+1)%len(e.pools)]
		a := e.fresh(p.actor, p.pref)
		e.keys.derive(a)
		cb := coinbase(sh, a.script, subsidy(sh)+s.fees[j], p.tag, uint64(sh)|1<<40, sh >= e.actH, txs)
		version := int32(versionBase)
		if sh < e.actH {
			version = versionSignal
		}
		blk, raw := seal(version, prev, e.blockTime(sh)+1, append([]*wire.MsgTx{cb}, txs...))
		if err := e.emit(raw); err != nil {
			return err
		}
		prev = blk.BlockHash()
	}
	s.txs, s.fees = nil, nil
	return nil
}
