package sim

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/database"
	_ "github.com/btcsuite/btcd/database/ffldb" // the block store of the local check
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

// Submit generates the same kind of chain on top of a live regtest node's
// tip and hands it to the node with submitblock. The whole chain is
// generated and checked first, so a simulator bug never leaves a
// half-submitted chain: against a node that runs btcd's regtest rules
// (it reports BIP 9 state for SegWit) every block goes through btcd's own
// consensus code (blockchain.ProcessBlock: scripts, signatures, fees,
// maturity, BIP 16 and BIP 9, median time past) on a private copy of the
// node's chain; against another node (Bitcoin Core's regtest, SegWit from
// genesis) through btcd's context-free sanity checks. If the node still
// rejects a block, the blocks it had accepted are invalidated again
// (invalidateblock) so that its tip is where it was, and the error says so.
//
// Block times end by the wall clock (taken as the node's) ten minutes
// apart, or, after a tip that is already recent, start after it and are
// compressed to end within an hour of the clock (btcd allows two); never
// before the later of the tip's time and its median time past, nor before
// StartTime. The first 100 blocks only mature coinbases, because only the
// simulator's own coinbases are spent; on a node that is not at genesis
// the warm-up grows until it matures as much as one from genesis, so
// amounts keep their full value (a scenario that cannot have it is
// refused). If SegWit or Taproot is not yet active on the node, the
// warm-up blocks signal for them and carry no witness data until they are.
func Submit(ctx context.Context, cfg Config, c *chain.RPCClient, log *slog.Logger) (*Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, err := prepare(ctx, cfg, c, log)
	if err != nil {
		return nil, err
	}
	log.Info("sim: submitting", "node", c.Endpoint(), "blocks", len(p.blocks))
	if err := submitBlocks(ctx, c, p.tip, p.tipHash, p.blocks); err != nil {
		return nil, err
	}
	got, err := c.BlockCount(ctx)
	if err != nil {
		return nil, err
	}
	if want := p.tip + int64(p.res.Blocks); got != want {
		return nil, fmt.Errorf("%w: %s: height %d after submitting %d blocks on top of %d", chain.ErrNode, c.Endpoint(), got, p.res.Blocks, p.tip)
	}
	return p.res, nil
}

// prepared is a chain generated and checked for a node, not yet submitted.
type prepared struct {
	res     *Result
	blocks  [][]byte // in submission order, stale blocks included
	tip     int64    // the node's tip the chain extends
	tipHash chainhash.Hash
}

// prepare generates the whole chain for the node's tip and checks it.
func prepare(ctx context.Context, cfg Config, c *chain.RPCClient, log *slog.Logger) (*prepared, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Fast {
		return nil, fmt.Errorf("%w: fast mode blocks fail script validation; Submit needs real signatures", ErrBadConfig)
	}
	if cfg.Profile != "" {
		return nil, fmt.Errorf("%w: profile %s chains are written with WriteDir only", ErrBadConfig, cfg.Profile)
	}
	netName, err := c.Network(ctx)
	if err != nil {
		return nil, err
	}
	if netName != "regtest" {
		return nil, fmt.Errorf("%w: %w: node %s is on %s, the simulator only builds regtest chains", ErrBadConfig, chain.ErrWrongNetwork, c.Endpoint(), netName)
	}
	tip, err := c.BlockCount(ctx)
	if err != nil {
		return nil, err
	}
	tipHash, err := c.BlockHash(ctx, tip)
	if err != nil {
		return nil, err
	}
	tipTime, err := tipMedianTime(ctx, c, tipHash)
	if err != nil {
		return nil, err
	}
	var info struct {
		Bip9 map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
	}
	if err := c.Call(ctx, "getblockchaininfo", nil, &info); err != nil {
		return nil, err
	}
	next := int32(tip + 1)
	act := next // Bitcoin Core's regtest has SegWit and Taproot from genesis
	for _, fork := range []string{"segwit", "taproot"} {
		if d, ok := info.Bip9[fork]; ok {
			if d.Status == "failed" {
				return nil, fmt.Errorf("%w: node %s: the %s deployment failed, the chain cannot carry witness programs", ErrBadConfig, c.Endpoint(), fork)
			}
			act = max(act, activationHeight(next, d.Status))
		}
	}
	_, btcdRules := info.Bip9["segwit"]

	var blocks [][]byte
	o := origin{height: next, prev: tipHash, tipTime: tipTime, actH: act, now: time.Now().Unix()}
	e, err := newEngine(cfg, o, log, func(raw []byte) error {
		blocks = append(blocks, raw)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res, err := e.run(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("sim: checking the chain before submitting it", "blocks", len(blocks), "btcd_rules", btcdRules)
	if err := checkChain(ctx, c, tip, blocks, res.TipHash, btcdRules); err != nil {
		return nil, err
	}
	return &prepared{res: res, blocks: blocks, tip: tip, tipHash: tipHash}, nil
}

// checkChain validates the generated blocks (stale ones included) on top
// of the node's chain without the node. With btcdRules it replays the
// node's blocks 1..tip and then the generated ones through btcd's
// blockchain package in a temporary directory, and checks that the best
// chain ends at want; otherwise it runs the context-free sanity checks.
func checkChain(ctx context.Context, c *chain.RPCClient, tip int64, blocks [][]byte, want chainhash.Hash, btcdRules bool) error {
	params := &chaincfg.RegressionNetParams
	if !btcdRules {
		for i, raw := range blocks {
			b, err := btcutil.NewBlockFromBytes(raw)
			if err == nil {
				err = blockchain.CheckBlockSanity(b, params.PowLimit, blockchain.NewMedianTime())
			}
			if err != nil {
				return fmt.Errorf("%w: generated block %d of %d fails btcd's sanity checks, nothing submitted: %v", ErrInternal, i+1, len(blocks), err)
			}
		}
		return nil
	}
	dir, err := os.MkdirTemp("", "cointrail-sim-check-")
	if err != nil {
		return fmt.Errorf("sim: local check: %w", err)
	}
	defer os.RemoveAll(dir)
	db, err := database.Create("ffldb", dir, params.Net)
	if err != nil {
		return fmt.Errorf("sim: local check: %w", err)
	}
	defer db.Close()
	bc, err := blockchain.New(&blockchain.Config{DB: db, ChainParams: params, TimeSource: blockchain.NewMedianTime(), UtxoCacheMaxSize: 64 << 20})
	if err != nil {
		return fmt.Errorf("sim: local check: %w", err)
	}
	if tip > 0 {
		err := c.FetchBlocks(ctx, 1, tip, func(h int64, raw []byte) error {
			b, err := btcutil.NewBlockFromBytes(raw)
			if err == nil {
				_, _, err = bc.ProcessBlock(b, blockchain.BFNone)
			}
			if err != nil {
				return fmt.Errorf("%w: %s: its block %d does not validate under btcd's regtest rules: %v", ErrBadConfig, c.Endpoint(), h, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i, raw := range blocks {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := btcutil.NewBlockFromBytes(raw)
		var orphan bool
		if err == nil {
			_, orphan, err = bc.ProcessBlock(b, blockchain.BFNone)
		}
		if err == nil && orphan {
			err = errors.New("its parent is unknown")
		}
		if err != nil {
			return fmt.Errorf("%w: generated block %d of %d fails btcd's consensus checks, nothing submitted: %v", ErrInternal, i+1, len(blocks), err)
		}
	}
	if best := bc.BestSnapshot(); best.Hash != want {
		return fmt.Errorf("%w: the checked chain ends at %d %s, not at the generated tip %s; nothing submitted", ErrInternal, best.Height, best.Hash, want)
	}
	return nil
}

// submitBlocks hands blocks to the node in order. If the node refuses
// one, the blocks it had accepted are invalidated again, starting at the
// first (the child of tipHash, which every generated block descends
// from), and the error says what the node holds now.
func submitBlocks(ctx context.Context, c *chain.RPCClient, tip int64, tipHash chainhash.Hash, blocks [][]byte) error {
	for i, raw := range blocks {
		err := c.SubmitBlock(ctx, raw)
		if err == nil {
			continue
		}
		what := fmt.Sprintf("block %d of %d (%s)", i+1, len(blocks), chainhash.DoubleHashH(raw[:wire.MaxBlockHeaderPayload]))
		if i == 0 {
			return fmt.Errorf("sim: %s: nothing submitted: %w", what, err)
		}
		// Undo even when ctx is what stopped us.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		first := chainhash.DoubleHashH(blocks[0][:wire.MaxBlockHeaderPayload])
		uerr := c.Call(uctx, "invalidateblock", []any{first.String()}, nil)
		if uerr == nil {
			var h int64
			var th chainhash.Hash
			if h, uerr = c.BlockCount(uctx); uerr == nil {
				if th, uerr = c.BlockHash(uctx, h); uerr == nil && (h != tip || th != tipHash) {
					uerr = fmt.Errorf("the tip is %d %s, not %d %s", h, th, tip, tipHash)
				}
			}
		}
		if uerr != nil {
			return fmt.Errorf("sim: %s: %w; the %d blocks before it stay on the node (undoing them from %s failed: %v)", what, err, i, first, uerr)
		}
		return fmt.Errorf("sim: %s: %w; the %d blocks before it were invalidated again (invalidateblock %s), the node's tip is back at %d %s", what, err, i, first, tip, tipHash)
	}
	return nil
}

// tipMedianTime is the later of the tip's timestamp and the median of the
// last 11 blocks' timestamps: new blocks must be later than both.
func tipMedianTime(ctx context.Context, c *chain.RPCClient, h chainhash.Hash) (int64, error) {
	var times []int64
	for range 11 {
		var s string
		if err := c.Call(ctx, "getblockheader", []any{h.String(), false}, &s); err != nil {
			return 0, err
		}
		raw, err := hex.DecodeString(s)
		var hdr wire.BlockHeader
		if err == nil {
			err = hdr.Deserialize(bytes.NewReader(raw))
		}
		if err != nil || hdr.BlockHash() != h {
			return 0, fmt.Errorf("%w: %s: getblockheader %s: not the header asked for", chain.ErrNode, c.Endpoint(), h)
		}
		times = append(times, hdr.Timestamp.Unix())
		if hdr.PrevBlock == (chainhash.Hash{}) {
			break
		}
		h = hdr.PrevBlock
	}
	tipTime := times[0]
	slices.Sort(times)
	return max(tipTime, times[len(times)/2]), nil
}
