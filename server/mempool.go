package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/taint"
)

// mempoolWatcher raises unconfirmed alerts: it polls getrawmempool (btcd
// and Core alike; Core's rawtx ZMQ feed, when configured, pushes
// transactions sooner) and checks every transaction it has not seen
// against the cases.
type mempoolWatcher struct {
	e        *engine
	rpc      *chain.RPCClient
	interval time.Duration
	m        *metrics
	log      *slog.Logger
	txs      chan []byte // raw transactions from ZMQ
	seen     map[chainhash.Hash]bool
}

// maxMempoolPerRound bounds the transactions fetched per poll, so a huge
// mempool at start does not hold up the first round for minutes.
const maxMempoolPerRound = 5000

func (w *mempoolWatcher) run(ctx context.Context) {
	w.seen = map[chainhash.Hash]bool{}
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case raw := <-w.txs:
			var tx wire.MsgTx
			if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
				w.log.Debug("zmq rawtx does not decode", "err", err)
				continue
			}
			if h := tx.TxHash(); !w.seen[h] {
				w.seen[h] = true
				w.check(&tx)
			}
		case <-tick.C:
			if err := w.poll(ctx); err != nil && ctx.Err() == nil {
				w.log.Debug("mempool poll failed", "err", err)
			}
		}
	}
}

func (w *mempoolWatcher) poll(ctx context.Context) error {
	var ids []string
	if err := w.rpc.Call(ctx, "getrawmempool", nil, &ids); err != nil {
		return err
	}
	cur := make(map[chainhash.Hash]bool, len(ids))
	fetched := 0
	for _, s := range ids {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return fmt.Errorf("%w: getrawmempool answered %q", chain.ErrNode, s)
		}
		if w.seen[*h] {
			cur[*h] = true
			continue
		}
		if fetched >= maxMempoolPerRound {
			continue // next round
		}
		fetched++
		var hexTx string
		if err := w.rpc.Call(ctx, "getrawtransaction", []any{s, 0}, &hexTx); err != nil {
			continue // mined or evicted meanwhile
		}
		raw, err := hex.DecodeString(hexTx)
		var tx wire.MsgTx
		if err == nil {
			err = tx.Deserialize(bytes.NewReader(raw))
		}
		if err != nil || tx.TxHash() != *h {
			return fmt.Errorf("%w: getrawtransaction %s: not that transaction", chain.ErrNode, s)
		}
		cur[*h] = true
		w.check(&tx)
	}
	w.seen = cur
	return nil
}

func (w *mempoolWatcher) check(tx *wire.MsgTx) {
	w.m.mempoolTxs.Add(1)
	if err := w.e.mempoolTx(tx); err != nil {
		w.log.Warn("mempool check failed", "tx", tx.TxHash(), "err", err)
	}
}

// mempoolTx raises the unconfirmed alerts of tx: for every case with taint
// on an output tx spends, and every case watching an address tx pays. An
// alert is raised once per case and transaction. Takes mu.
func (e *engine) mempoolTx(tx *wire.MsgTx) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	tip := e.ix.Tip()
	if tip.Empty || len(e.cases) == 0 {
		return nil
	}
	next := tip.Height + 1
	txid := tx.TxHash()
	ix := e.ix
	type in struct {
		out   uint64
		value int64
		known bool
	}
	ins := make([]in, len(tx.TxIn))
	var hits []uint32
	for i, ti := range tx.TxIn {
		ptx, err := ix.FindTx(ti.PreviousOutPoint.Hash)
		if errors.Is(err, index.ErrNotFound) {
			continue // an unconfirmed parent
		}
		if err != nil {
			return err
		}
		first, n := ix.TxOutputs(ptx)
		if ti.PreviousOutPoint.Index >= n {
			continue
		}
		o := first + uint64(ti.PreviousOutPoint.Index)
		ins[i] = in{out: o, value: ix.OutValue(o), known: true}
		hits = append(hits, e.live[o]...)
	}
	outKeys := make([]chain.AddrKey, len(tx.TxOut))
	for j, to := range tx.TxOut {
		_, outKeys[j] = chain.Classify(to.PkScript)
		if itr, ok := e.book.byKey[outKeys[j]]; ok {
			hits = append(hits, itr.watchers...)
		}
	}
	if len(hits) == 0 {
		return nil
	}
	slices.Sort(hits)
	hits = slices.Compact(hits)
	t := e.newTxn()
	defer t.b.Close()
	for _, id := range hits {
		c := e.cases[id]
		if c == nil || !c.active(next) {
			continue
		}
		if _, done, err := getOpt(e.st, keyMempool(id, txid)); err != nil {
			return err
		} else if done {
			continue
		}
		a := &Alert{Kind: KindTaintMoved, CaseID: id, CaseName: c.def.Name, Model: c.def.Model, TxID: txid.String()}
		flows := make([]taint.Flow, len(ins))
		known := true
		for i, x := range ins {
			known = known && x.known
			flows[i].Value = x.value
			if lo, ok := c.live[x.out]; ok && x.known && lo.stop == taint.StopFollowed {
				flows[i].Taint, flows[i].Segs = lo.taint, lo.segs
				a.AmountSat += lo.taint
			}
		}
		var res []taint.Flow
		if a.AmountSat > 0 && known {
			vals := make([]int64, len(tx.TxOut))
			for j, to := range tx.TxOut {
				vals[j] = to.Value
			}
			var err error
			if res, err = taint.Split(c.def.model(), flows, vals); err != nil {
				res = nil // an invalid transaction the node will not mine
			} else {
				a.FeeTaintSat = res[len(vals)].Taint
			}
		}
		best := int64(0)
		watched := false
		for j, to := range tx.TxOut {
			itr := e.book.byKey[outKeys[j]]
			w := itr != nil && slices.Contains(itr.watchers, id)
			var tv int64
			if res != nil {
				tv = res[j].Taint
			}
			if tv == 0 && !w && (a.AmountSat == 0 || res != nil) {
				continue
			}
			d := Destination{Vout: uint32(j), Address: outKeys[j].Encode(e.ix.Net), ValueSat: to.Value, TaintSat: tv, Watched: w}
			if itr != nil && itr.service {
				d.Label, d.Category = itr.entity.Label, itr.entity.Category
				if tv > best {
					best, a.Label, a.Category = tv, d.Label, d.Category
				}
			}
			if w {
				watched = true
				a.ReceivedSat += to.Value
			}
			a.Destinations = append(a.Destinations, d)
		}
		switch {
		case best > 0:
			a.Kind = KindServiceArrival
		case watched:
			a.Kind = KindWatchHit
		case a.AmountSat == 0:
			continue // only dust or stopped taint moved
		}
		e.addAlert(t, a)
		t.b.Set(keyMempool(id, txid), nil)
	}
	if len(t.alerts) == 0 {
		return nil
	}
	return e.commit(t)
}
