package index

import (
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
)

// TxView is a transaction as queries show it.
type TxView struct {
	TxID      string    `json:"txid"`
	Height    uint32    `json:"height"`
	BlockHash string    `json:"block_hash"`
	BlockTime uint32    `json:"block_time"`
	Position  uint32    `json:"position"`
	Coinbase  bool      `json:"coinbase"`
	FeeSat    int64     `json:"fee_sat"`
	Vsize     uint32    `json:"vsize"`
	LockTime  uint32    `json:"locktime"`
	Version   int32     `json:"version"`
	InSat     int64     `json:"in_sat"`
	OutSat    int64     `json:"out_sat"`
	Inputs    []InView  `json:"inputs"`
	Outputs   []OutView `json:"outputs"`
}

// InView is an input resolved to the output it spends.
type InView struct {
	PrevTxID   string `json:"prev_txid"`
	PrevVout   uint32 `json:"prev_vout"`
	ValueSat   int64  `json:"value_sat"`
	Address    string `json:"address"`
	ScriptType string `json:"script_type"`
}

// OutView is an output with its spender.
type OutView struct {
	Vout         uint32  `json:"vout"`
	ValueSat     int64   `json:"value_sat"`
	Address      string  `json:"address"`
	ScriptType   string  `json:"script_type"`
	Spent        bool    `json:"spent"`
	SpentByTxID  string  `json:"spent_by_txid,omitempty"`
	SpentByInput *uint32 `json:"spent_by_input,omitempty"`
}

// Tx returns the view of tx number tx. Every id it follows is checked
// (graph.go): a corrupt record is an ErrCorrupt error naming it.
func (ix *Index) Tx(tx uint32) (*TxView, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if tx >= ix.tip.nTx {
		return nil, fmt.Errorf("%w: tx %d", ErrNotFound, tx)
	}
	h, err := ix.txHeight(tx)
	if err != nil {
		return nil, err
	}
	b, err := ix.blockAtLocked(h)
	if err != nil {
		return nil, err
	}
	if tx < b.FirstTx || tx-b.FirstTx >= b.NumTx {
		return nil, badRecord("txs.col", uint64(tx), "height %d, whose block holds txs %d..%d", h, b.FirstTx, uint64(b.FirstTx)+uint64(b.NumTx))
	}
	id, err := ix.txHash(tx)
	if err != nil {
		return nil, err
	}
	fee, lockTime, version, err := ix.txMeta(tx)
	if err != nil {
		return nil, err
	}
	v := &TxView{TxID: TxIDString(id), Height: h, BlockHash: b.Hash.String(), BlockTime: b.Time,
		Position: tx - b.FirstTx, FeeSat: fee, Vsize: ix.TxVsize(tx), LockTime: lockTime, Version: version,
		Inputs: []InView{}, Outputs: []OutView{}}
	first, n, err := ix.txIns(tx)
	if err != nil {
		return nil, err
	}
	v.Coinbase = n == 0
	for i := first; i < first+uint64(n); i++ {
		o, err := ix.inPrev(i)
		if err != nil {
			return nil, err
		}
		ptx, err := ix.outTx(o)
		if err != nil {
			return nil, err
		}
		pid, err := ix.txHash(ptx)
		if err != nil {
			return nil, err
		}
		pf, _, err := ix.txOuts(ptx)
		if err != nil {
			return nil, err
		}
		out, err := ix.outViewLocked(o, pf)
		if err != nil {
			return nil, err
		}
		v.InSat += out.ValueSat
		v.Inputs = append(v.Inputs, InView{PrevTxID: TxIDString(pid), PrevVout: out.Vout, ValueSat: out.ValueSat,
			Address: out.Address, ScriptType: out.ScriptType})
	}
	first, n, err = ix.txOuts(tx)
	if err != nil {
		return nil, err
	}
	for o := first; o < first+uint64(n); o++ {
		ov, err := ix.outViewLocked(o, first)
		if err != nil {
			return nil, err
		}
		s, err := ix.outSpender(o)
		if err != nil {
			return nil, err
		}
		if s != NoTx {
			sid, err := ix.txHash(s)
			if err != nil {
				return nil, err
			}
			ov.Spent = true
			ov.SpentByTxID = TxIDString(sid)
			sf, sn, err := ix.txIns(s)
			if err != nil {
				return nil, err
			}
			for i := sf; i < sf+uint64(sn); i++ {
				p, err := ix.inPrev(i)
				if err != nil {
					return nil, err
				}
				if p == o {
					vin := uint32(i - sf)
					ov.SpentByInput = &vin
				}
			}
			if ov.SpentByInput == nil {
				return nil, badRecord("outs.col", o, "spender tx %d, none of whose inputs spends it", s)
			}
		}
		v.OutSat += ov.ValueSat
		v.Outputs = append(v.Outputs, ov)
	}
	return v, nil
}

// outViewLocked is output o (of a tx whose first output is first) without
// its spender.
func (ix *Index) outViewLocked(o, first uint64) (OutView, error) {
	val, err := ix.outValue(o)
	if err != nil {
		return OutView{}, err
	}
	t, err := ix.outType(o)
	if err != nil {
		return OutView{}, err
	}
	a, err := ix.outAddr(o)
	if err != nil {
		return OutView{}, err
	}
	k, err := ix.addrKeyLocked(a)
	if err != nil {
		return OutView{}, err
	}
	return OutView{Vout: uint32(o - first), ValueSat: val, Address: k.Encode(ix.Net), ScriptType: chain.ScriptType(t).String()}, nil
}

// AddressView summarises an address and pages its history.
type AddressView struct {
	Address     string        `json:"address"`
	ReceivedSat int64         `json:"received_sat"`
	SentSat     int64         `json:"sent_sat"`
	BalanceSat  int64         `json:"balance_sat"`
	TxCount     int           `json:"tx_count"`
	FirstHeight uint32        `json:"first_height"`
	LastHeight  uint32        `json:"last_height"`
	Offset      int           `json:"offset"`
	Limit       int           `json:"limit"`
	History     []HistoryItem `json:"history"`
}

// HistoryItem is one transaction of an address's history.
type HistoryItem struct {
	TxID        string `json:"txid"`
	Height      uint32 `json:"height"`
	Time        uint32 `json:"time"`
	ReceivedSat int64  `json:"received_sat"`
	SentSat     int64  `json:"sent_sat"`
}

// MaxPage bounds a history page.
const MaxPage = 10000

// Address returns the summary of address id and the page of its history
// (newest first) starting at offset. It walks the address's chain of
// outputs (SCHEMA.md): each output is a receipt in the tx that made it and,
// if spent, a spend in its spender.
func (ix *Index) Address(id uint32, offset, limit int) (*AddressView, error) {
	if limit <= 0 || limit > MaxPage {
		return nil, fmt.Errorf("%w: page size %d (want 1..%d)", ErrBadInput, limit, MaxPage)
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset", ErrBadInput)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if id == 0 || id > ix.tip.nAddr {
		return nil, fmt.Errorf("%w: address id %d", ErrNotFound, id)
	}
	k, err := ix.addrKeyLocked(id)
	if err != nil {
		return nil, err
	}
	v := &AddressView{Address: k.Encode(ix.Net), Offset: offset, Limit: limit, History: []HistoryItem{}}
	type flow struct{ recv, sent int64 }
	byTx := map[uint32]*flow{}
	add := func(tx uint32, recv, sent int64) {
		f := byTx[tx]
		if f == nil {
			f = &flow{}
			byTx[tx] = f
		}
		f.recv += recv
		f.sent += sent
	}
	err = ix.eachAddrOut(id, func(o uint64) error {
		val, err := ix.outValue(o)
		if err != nil {
			return err
		}
		tx, err := ix.outTx(o)
		if err != nil {
			return err
		}
		add(tx, val, 0)
		v.ReceivedSat += val
		s, err := ix.outSpender(o)
		if err != nil {
			return err
		}
		if s != NoTx {
			add(s, 0, val)
			v.SentSat += val
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	txs := make([]uint32, 0, len(byTx))
	for tx := range byTx {
		txs = append(txs, tx)
	}
	slices.Sort(txs)
	v.TxCount = len(txs)
	v.BalanceSat = v.ReceivedSat - v.SentSat
	if len(txs) > 0 {
		if v.FirstHeight, err = ix.txHeight(txs[0]); err != nil {
			return nil, err
		}
		if v.LastHeight, err = ix.txHeight(txs[len(txs)-1]); err != nil {
			return nil, err
		}
	}
	for i := len(txs) - 1 - offset; i >= 0 && len(v.History) < limit; i-- {
		tx := txs[i]
		h, err := ix.txHeight(tx)
		if err != nil {
			return nil, err
		}
		id, err := ix.txHash(tx)
		if err != nil {
			return nil, err
		}
		f := byTx[tx]
		v.History = append(v.History, HistoryItem{TxID: TxIDString(id), Height: h, Time: ix.blockTime(h), ReceivedSat: f.recv, SentSat: f.sent})
	}
	return v, nil
}

// eachAddrOut calls fn for every output on address id's chain, newest
// first. The walk is checked: every output on it pays id, and prev_same
// strictly decreases (outPrevSame), so it ends on any records.
func (ix *Index) eachAddrOut(id uint32, fn func(o uint64) error) error {
	o, err := ix.addrHead(id)
	for ; err == nil && o != NoOut; o, err = ix.outPrevSame(o) {
		a, err := ix.outAddr(o)
		if err != nil {
			return err
		}
		if a != id {
			return badRecord("outs.col", o, "address %d, but it is on the output chain of address %d", a, id)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return err
}

// BlockView is a block as queries show it.
type BlockView struct {
	Height  uint32   `json:"height"`
	Hash    string   `json:"hash"`
	Prev    string   `json:"prev"`
	Time    uint32   `json:"time"`
	Size    uint32   `json:"size"`
	TxCount uint32   `json:"tx_count"`
	FeeSat  int64    `json:"fee_sat"`
	TxIDs   []string `json:"txids"`
}

// Block returns the view of the block at height h.
func (ix *Index) Block(h uint32) (*BlockView, error) {
	b, err := ix.BlockAt(h)
	if err != nil {
		return nil, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if uint64(b.FirstTx)+uint64(b.NumTx) > uint64(ix.tip.nTx) {
		return nil, fmt.Errorf("%w: block record at height %d: txs %d..%d beyond the %d committed txs %s", ErrCorrupt, h, b.FirstTx, uint64(b.FirstTx)+uint64(b.NumTx), ix.tip.nTx, repairHint)
	}
	v := &BlockView{Height: h, Hash: b.Hash.String(), Prev: b.Prev.String(), Time: b.Time, Size: b.Size, TxCount: b.NumTx, TxIDs: make([]string, 0, b.NumTx)}
	for tx := b.FirstTx; tx < b.FirstTx+b.NumTx; tx++ {
		id, err := ix.txHash(tx)
		if err != nil {
			return nil, err
		}
		fee, _, _, err := ix.txMeta(tx)
		if err != nil {
			return nil, err
		}
		v.TxIDs = append(v.TxIDs, TxIDString(id))
		v.FeeSat += fee
	}
	return v, nil
}

// StatusView summarises the index.
type StatusView struct {
	Network       string `json:"network"`
	SchemaVersion int    `json:"schema_version"`
	Empty         bool   `json:"empty"`
	TipHeight     int64  `json:"tip_height"`
	TipHash       string `json:"tip_hash"`
	TipTime       uint32 `json:"tip_time"`
	Txs           uint32 `json:"txs"`
	Outputs       uint64 `json:"outputs"`
	Inputs        uint64 `json:"inputs"`
	Addresses     uint32 `json:"addresses"`
	DiskBytes     int64  `json:"disk_bytes"`
}

// Status returns the index summary.
func (ix *Index) Status() StatusView {
	t := ix.Tip()
	s := StatusView{Network: ix.Net.Name, SchemaVersion: SchemaVersion, Empty: t.Empty, TipHeight: -1,
		Txs: t.nTx, Outputs: t.nOut, Inputs: t.nIn, Addresses: t.nAddr, DiskBytes: ix.DiskSize()}
	if !t.Empty {
		s.TipHeight = int64(t.Height)
		s.TipHash = t.Hash.String()
		ix.mu.RLock()
		s.TipTime = ix.blockTime(t.Height)
		ix.mu.RUnlock()
	}
	return s
}

// ParseBlockArg resolves a height or a block hash.
func (ix *Index) ParseBlockArg(s string) (uint32, error) {
	if len(s) == 64 {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return 0, fmt.Errorf("%w: %q is not a block hash", ErrBadInput, s)
		}
		b, err := ix.BlockByHash(*h)
		return b.Height, err
	}
	var h uint32
	if _, err := fmt.Sscan(s, &h); err != nil || fmt.Sprint(h) != s {
		return 0, fmt.Errorf("%w: %q is neither a height nor a block hash", ErrBadInput, s)
	}
	return h, nil
}
