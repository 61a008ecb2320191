package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
)

// follower keeps the index on the node's best chain. It asks the node for
// its best block hash every poll interval (btcd has no ZMQ; 200 ms by
// default), or sooner when a ZMQ notification arrives, and on a change
// finds the last block both chains share, rolls the index (and the cases)
// back to it if needed and connects the node's blocks after it, one commit
// and one case update per block.
type follower struct {
	e          *engine
	rpc        *chain.RPCClient
	poll       time.Duration
	reorgLimit int
	m          *metrics
	log        *slog.Logger
	kick       chan struct{}   // a hashblock notification: sync now
	raw        chan rawArrival // a rawblock notification: connect it if it extends the tip
	// groupBytes bounds the raw bytes of blocks connected in one commit
	// while catching up; live blocks commit one by one.
	groupBytes int
}

type rawArrival struct {
	raw []byte
	at  time.Time
}

// errRetry: the node's chain changed under a sync; the next one starts over.
var errRetry = errors.New("the node's chain changed during sync")

func (f *follower) run(ctx context.Context) error {
	f.e.mu.Lock()
	err := f.e.reconcile(ctx)
	f.e.mu.Unlock()
	if err != nil {
		return err
	}
	netName, err := f.rpc.Network(ctx)
	for tries := 0; err != nil && ctx.Err() == nil; tries++ {
		if tries%30 == 0 {
			f.log.Warn("node not answering; retrying every second", "err", err)
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		netName, err = f.rpc.Network(ctx)
	}
	if ctx.Err() != nil {
		return nil
	}
	if netName != f.e.ix.Net.Name {
		return fmt.Errorf("%w: node %s is on %s, the index is %s", chain.ErrWrongNetwork, f.rpc.Endpoint(), netName, f.e.ix.Net.Name)
	}
	f.m.followerUp.Store(1)
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	failing := false
	for first := true; ; first = false {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-f.now(first):
			err = f.sync(ctx, time.Now())
		case <-tick.C:
			err = f.sync(ctx, time.Now())
		case <-f.kick:
			err = f.sync(ctx, time.Now())
		case r := <-f.raw:
			err = f.connectRaw(ctx, r)
		}
		switch {
		case err == nil:
			if failing {
				f.log.Info("following the node again")
			}
			failing = false
		case errors.Is(err, ErrReorgTooDeep) || errors.Is(err, ErrCorrupt) || errors.Is(err, index.ErrCorrupt) || errors.Is(err, ErrInternal):
			return err
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errRetry):
			f.log.Debug("sync restarts", "err", err)
		default:
			if !failing {
				f.log.Warn("sync with the node failed; retrying", "err", err)
			}
			failing = true
		}
	}
}

// now is a channel that is ready at once on the first round (catch up
// without waiting for the first tick) and never after.
func (f *follower) now(first bool) <-chan time.Time {
	if !first {
		return nil
	}
	c := make(chan time.Time, 1)
	c <- time.Now()
	return c
}

// connectRaw connects a block pushed over ZMQ if it extends the tip, and
// otherwise syncs over RPC.
func (f *follower) connectRaw(ctx context.Context, r rawArrival) error {
	b, err := index.Prepare(r.raw, "zmq rawblock")
	if err != nil {
		f.log.Warn("zmq block does not decode; syncing over RPC", "err", err)
		return f.sync(ctx, r.at)
	}
	tip := f.e.ix.Tip()
	if tip.Empty || b.Prev != tip.Hash {
		if !tip.Empty && b.Hash == tip.Hash {
			return nil // already connected (by polling)
		}
		return f.sync(ctx, r.at)
	}
	if err := f.rpc.CheckHeader(ctx, int64(tip.Height)+1, r.raw); err != nil {
		f.log.Warn("zmq block breaks the difficulty rules; syncing over RPC", "err", err)
		return f.sync(ctx, r.at)
	}
	return f.connect(ctx, []*index.Block{b}, r.at)
}

// sync brings the index to the node's best chain.
func (f *follower) sync(ctx context.Context, seen time.Time) error {
	if err := f.caseCatchUp(ctx); err != nil {
		return err
	}
	var bestStr string
	if err := f.rpc.Call(ctx, "getbestblockhash", nil, &bestStr); err != nil {
		return err
	}
	best, err := chainhash.NewHashFromStr(bestStr)
	if err != nil {
		return fmt.Errorf("%w: getbestblockhash answered %q", chain.ErrNode, bestStr)
	}
	tip := f.e.ix.Tip()
	if !tip.Empty && *best == tip.Hash {
		return nil
	}
	count, err := f.rpc.BlockCount(ctx)
	if err != nil {
		return err
	}
	fork, err := f.findFork(ctx, tip, count)
	if err != nil {
		return err
	}
	if !tip.Empty && fork > int64(tip.Height) {
		return nil // the node is behind on the same chain
	}
	if !tip.Empty && fork < int64(tip.Height) {
		if err := f.rollback(ctx, tip, fork); err != nil {
			return err
		}
	}
	if count <= fork {
		return nil
	}
	return f.fetch(ctx, fork+1, count, seen)
}

// caseCatchUp reconciles the cases with the index when an earlier round
// connected blocks but failed to move the cases through them.
func (f *follower) caseCatchUp(ctx context.Context) error {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	tip := f.e.ix.Tip()
	if tip.Empty || f.e.follow.ok && f.e.follow.hash == tip.Hash {
		return nil
	}
	return f.e.reconcile(ctx)
}

// findFork returns the height of the last block the index and the node's
// best chain share (-1 for none: an empty index). It returns tip+1 when the
// node's chain is a prefix of the index's (the node is catching up, e.g.
// after a restart): nothing to do.
func (f *follower) findFork(ctx context.Context, tip index.Tip, count int64) (int64, error) {
	if tip.Empty {
		return -1, nil
	}
	h := int64(tip.Height)
	if count < h {
		nh, err := f.rpc.BlockHash(ctx, count)
		if err != nil {
			return 0, err
		}
		b, err := f.e.ix.BlockAt(uint32(count))
		if err != nil {
			return 0, err
		}
		if nh == b.Hash {
			return h + 1, nil
		}
		h = count - 1
	}
	for ; h >= 0; h-- {
		if depth := int64(tip.Height) - h; depth > int64(f.reorgLimit) {
			return 0, fmt.Errorf("%w: the node's best chain left the index's more than reorg_limit=%d blocks below the tip %d %s; following stopped (roll back with `cointrail index rollback` if the node is right)",
				ErrReorgTooDeep, f.reorgLimit, tip.Height, tip.Hash)
		}
		nh, err := f.rpc.BlockHash(ctx, h)
		if err != nil {
			return 0, err
		}
		b, err := f.e.ix.BlockAt(uint32(h))
		if err != nil {
			return 0, err
		}
		if nh == b.Hash {
			return h, nil
		}
	}
	return 0, fmt.Errorf("%w: the node %s shares no block with the index, not even genesis", chain.ErrWrongNetwork, f.rpc.Endpoint())
}

// rollback disconnects the index down to height fork and undoes the cases
// (withdrawing the alerts of the undone blocks). The index goes first: a
// crash in between leaves case state ahead of the index, which the next
// reconcile undoes.
func (f *follower) rollback(ctx context.Context, tip index.Tip, fork int64) error {
	f.log.Warn("reorg: rolling back", "from", tip.Height, "to", fork, "depth", int64(tip.Height)-fork)
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	// The clustering cannot be undone block by block: after a reorg below
	// its tip it is stale (updateClusters reports it once).
	f.e.clusters.close()
	if err := f.e.ix.Rollback(fork); err != nil {
		return err
	}
	if err := f.e.ix.Sync(); err != nil {
		return err
	}
	f.m.reorgs.Add(1)
	f.m.undone.Add(int64(tip.Height) - fork)
	return f.e.reconcile(ctx)
}

// fetch downloads the blocks at heights [from, to] and connects them, in
// groups while catching up, one by one at the tip.
func (f *follower) fetch(ctx context.Context, from, to int64, seen time.Time) error {
	if to-from > 10 {
		f.log.Info("catching up with the node", "from", from, "to", to)
	}
	var group []*index.Block
	bytes := 0
	err := f.rpc.FetchBlocks(ctx, from, to, func(h int64, raw []byte) error {
		b, err := index.Prepare(raw, fmt.Sprintf("%s height %d", f.rpc.Endpoint(), h))
		if err != nil {
			return err
		}
		group = append(group, b)
		bytes += len(raw)
		if h == to || bytes >= f.groupBytes || len(group) >= 500 {
			err := f.connect(ctx, group, seen)
			group, bytes = group[:0], 0
			return err
		}
		return nil
	})
	return err
}

// connect commits blocks to the index, makes them durable, and moves the
// cases through each. A block that does not extend the tip means the node
// reorganised meanwhile: the next sync sorts it out.
func (f *follower) connect(ctx context.Context, bs []*index.Block, seen time.Time) error {
	f.e.mu.Lock()
	defer f.e.mu.Unlock()
	tip := f.e.ix.Tip()
	n, err := f.e.ix.Connect(bs)
	if n > 0 {
		if serr := f.e.ix.Sync(); serr != nil {
			return serr
		}
		first := uint32(0)
		if !tip.Empty {
			first = tip.Height + 1
		}
		for i := range n {
			if perr := f.e.processBlock(first + uint32(i)); perr != nil {
				return perr
			}
		}
		f.e.updateClusters(ctx)
		f.m.blocks.Add(int64(n))
		f.m.lastBlockUnix.Store(time.Now().Unix())
		f.m.blockSeconds.observe(time.Since(seen).Seconds())
		if n == 1 {
			f.log.Debug("block connected", "height", first, "hash", bs[0].Hash, "txs", len(bs[0].Txs), "took", time.Since(seen))
		}
	}
	if errors.Is(err, index.ErrUnknownParent) {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	return err
}
