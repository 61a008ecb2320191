package chain

import (
	"bytes"
	"context"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// headerCheck judges, in height order, the blocks FetchBlocks hands out
// against the network's difficulty rules and checkpoints: a node (or a
// proxy in front of it) cannot slip in a block whose bits it chose itself.
// The context-free checks (proof of work against the block's own bits,
// merkle root) are index.Prepare's.
//
// The state of the block below the first one fetched comes from the node
// (getblockhash + getblockheader) and is cached in the client, so a
// follower fetching one block at a time asks for it once.
type headerCheck struct {
	c     *RPCClient
	net   Network
	state HeaderState
	known bool // state holds the parent of the next block
}

func (c *RPCClient) newHeaderCheck(ctx context.Context) (*headerCheck, error) {
	c.mu.Lock()
	net, ok := c.net, c.netKnown
	c.mu.Unlock()
	if !ok {
		name, err := c.Network(ctx)
		if err != nil {
			return nil, err
		}
		if net, err = NetworkByName(name); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.net, c.netKnown = net, true
		c.mu.Unlock()
	}
	return &headerCheck{c: c, net: net}, nil
}

// check judges the block at height h (raw: its bytes).
func (k *headerCheck) check(ctx context.Context, h int64, raw []byte) error {
	var hdr wire.BlockHeader
	if err := hdr.Deserialize(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("%w: %s height %d: block header: %v", ErrCorrupt, k.c.endpoint, h, err)
	}
	hash := hdr.BlockHash()
	bits, t := hdr.Bits, uint32(hdr.Timestamp.Unix())
	if h == 0 {
		k.state, k.known = GenesisState(k.net), hash == *k.net.Params.GenesisHash
		return nil
	}
	if !k.known || k.state.Height != h-1 || k.state.Hash != hdr.PrevBlock {
		if err := k.load(ctx, h-1); err != nil {
			return err
		}
		if k.state.Hash != hdr.PrevBlock {
			// The node reorganised between calls: the caller's parent
			// check reports it; there is nothing to judge bits against.
			k.known = false
			return nil
		}
	}
	if err := CheckContext(k.net, k.state, hash, bits, t); err != nil {
		return fmt.Errorf("%w: %s height %d: block %s: %w", ErrCorrupt, k.c.endpoint, h, hash, err)
	}
	k.state = k.state.Advance(k.net.Params, hash, bits, t)
	k.c.mu.Lock()
	k.c.lastState = k.state
	k.c.mu.Unlock()
	return nil
}

// load sets the state of the node's block at height h, from the client's
// cache or from the node's headers: h itself, the first block of its
// retarget period, and on testnet the blocks back to the last one not mined
// at the 20-minute minimum difficulty (at most one period).
func (k *headerCheck) load(ctx context.Context, h int64) error {
	k.c.mu.Lock()
	cached := k.c.lastState
	k.c.mu.Unlock()
	hdrAt := func(height int64) (*wire.BlockHeader, error) {
		hash, err := k.c.BlockHash(ctx, height)
		if err != nil {
			return nil, err
		}
		return k.c.BlockHeader(ctx, hash)
	}
	top, err := hdrAt(h)
	if err != nil {
		return err
	}
	hash := top.BlockHash()
	if cached.Height == h && cached.Hash == hash && h > 0 {
		k.state, k.known = cached, true
		return nil
	}
	if h == 0 {
		k.state, k.known = GenesisState(k.net), true
		return nil
	}
	p := k.net.Params
	per := retargetInterval(p)
	s := HeaderState{Height: h, Hash: hash, Bits: top.Bits, Time: uint32(top.Timestamp.Unix()), LastRealBits: top.Bits}
	if start := h - h%per; start == h {
		s.PeriodStart = s.Time
	} else if !p.PoWNoRetargeting {
		first, err := hdrAt(start)
		if err != nil {
			return err
		}
		s.PeriodStart = uint32(first.Timestamp.Unix())
	}
	if p.ReduceMinDifficulty && !p.PoWNoRetargeting {
		for at := h; at%per != 0 && s.LastRealBits == p.PowLimitBits; {
			at--
			prev, err := hdrAt(at)
			if err != nil {
				return err
			}
			s.LastRealBits = prev.Bits
		}
	}
	k.state, k.known = s, true
	return nil
}

// BlockHeader is the header of the block with the given hash, checked
// against it.
func (c *RPCClient) BlockHeader(ctx context.Context, hash chainhash.Hash) (*wire.BlockHeader, error) {
	res, err := c.call(ctx, "getblockheader", []any{hash.String(), false})
	if err != nil {
		return nil, err
	}
	raw, err := decodeHexString(res)
	if err != nil || len(raw) != 80 {
		return nil, c.errorf("getblockheader", "header of %s: not 80 bytes of hex", hash.String())
	}
	var hdr wire.BlockHeader
	if err := hdr.Deserialize(bytes.NewReader(raw)); err != nil || hdr.BlockHash() != hash {
		return nil, fmt.Errorf("%w: %s getblockheader: asked for block %s, got a header that does not hash to it", ErrCorrupt, c.endpoint, hash.String())
	}
	return &hdr, nil
}

// CheckHeader judges a block that arrived another way (a ZMQ push) at
// height h against the difficulty rules, with the state of its parent from
// the node's headers (or the last block FetchBlocks or CheckHeader judged).
// The error names the endpoint, the height and the rule.
func (c *RPCClient) CheckHeader(ctx context.Context, h int64, raw []byte) error {
	hc, err := c.newHeaderCheck(ctx)
	if err != nil {
		return err
	}
	return hc.check(ctx, h, raw)
}
