package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

// blkPadTo is Bitcoin Core's blk file preallocation chunk (16 MiB).
const blkPadTo = 16 << 20

// WriteDir generates the chain from the regtest genesis block into
// outDir/blocks/ as Bitcoin Core lays it out (blk?????.dat of at most 128
// MiB, the genesis block first; xor.dat with Config.XOR), and, with a
// scenario, outDir/labels.yaml and outDir/truth.json. It refuses a blocks
// directory that already holds blk00000.dat.
func WriteDir(ctx context.Context, cfg Config, outDir string, log *slog.Logger) (*Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	opts := chain.BlkWriterOptions{PadTo: blkPadTo}
	if cfg.XOR {
		opts.XORKey = xorKey(cfg.Seed)
	}
	w, err := chain.NewBlkWriter(filepath.Join(outDir, "blocks"), net, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	defer w.Close()
	gen := chaincfg.RegressionNetParams.GenesisBlock
	var buf bytes.Buffer
	if err := gen.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("%w: genesis: %w", ErrInternal, err)
	}
	if err := w.WriteBlock(buf.Bytes()); err != nil {
		return nil, err
	}
	o := origin{height: 1, prev: *chaincfg.RegressionNetParams.GenesisHash, tipTime: gen.Header.Timestamp.Unix(),
		actH: activationHeight(1, "defined")}
	var res *Result
	if cfg.Profile != "" {
		pcfg := cfg // TxsPerBlock 0 keeps its profile meaning (see newPengine)
		if pcfg.Txs == 0 {
			pcfg.Txs = DefaultTxs
		}
		pe, perr := newPengine(pcfg, o, log, w.WriteBlock)
		if perr != nil {
			return nil, perr
		}
		res, err = pe.run(ctx)
	} else {
		e, eerr := newEngine(cfg, o, log, w.WriteBlock)
		if eerr != nil {
			return nil, eerr
		}
		res, err = e.run(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if res.Truth != nil {
		tj, err := res.Truth.JSON()
		if err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(outDir, "truth.json"), tj); err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(outDir, "labels.yaml"), res.TagPack); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// writeFile replaces path atomically.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// xorKey is the blk obfuscation key of a seed (never all zeros).
func xorKey(seed uint64) [8]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h := sha256.Sum256(append([]byte("cointrail sim xor "), b[:]...))
	var k [8]byte
	copy(k[:], h[:8])
	if k == [8]byte{} {
		k[0] = 1
	}
	return k
}

// activationHeight is the first height at which SegWit (or Taproot) is
// surely active when the chain is extended from height next on with
// blocks that all signal, given the deployment's BIP 9 status for block
// next: active now; at the next window if locked in; otherwise (defined or
// started, whatever the current window's count) after the next full
// window of our signalling blocks locks it in.
func activationHeight(next int32, status string) int32 {
	w := next / bip9Window * bip9Window
	switch status {
	case "active":
		return next
	case "lockedin":
		return w + bip9Window
	}
	return w + 3*bip9Window
}

// Submit generates the same kind of chain on top of a live regtest node's
// tip and hands it block by block to the node with submitblock. Block
// times continue from the tip (or from Config.StartTime if that is later)
// and stay within an hour of the wall clock; the first 100 blocks only
// mature coinbases, because only the simulator's own coinbases are spent.
// If SegWit or Taproot is not yet active on the node, the warm-up blocks
// signal for them and carry no witness data until they are.
func Submit(ctx context.Context, cfg Config, c *chain.RPCClient, log *slog.Logger) (*Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
		return nil, fmt.Errorf("%w: node %s is on %s, the simulator only builds regtest chains", ErrBadConfig, c.Endpoint(), netName)
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
	o := origin{height: next, prev: tipHash, tipTime: tipTime, actH: act, now: time.Now().Unix()}
	e, err := newEngine(cfg, o, log, func(raw []byte) error { return c.SubmitBlock(ctx, raw) })
	if err != nil {
		return nil, err
	}
	res, err := e.run(ctx)
	if err != nil {
		return nil, err
	}
	got, err := c.BlockCount(ctx)
	if err != nil {
		return nil, err
	}
	if want := tip + int64(res.Blocks); got != want {
		return nil, fmt.Errorf("%w: %s: height %d after submitting %d blocks on top of %d", chain.ErrNode, c.Endpoint(), got, res.Blocks, tip)
	}
	return res, nil
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
