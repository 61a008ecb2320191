package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/btcsuite/btcd/chaincfg"

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
	if err := WriteTruth(outDir, res); err != nil {
		return nil, err
	}
	return res, nil
}

// WriteTruth writes a scenario's dir/truth.json and dir/labels.yaml
// (atomically, creating dir); without a scenario there is nothing to write.
func WriteTruth(dir string, res *Result) error {
	if res.Truth == nil {
		return nil
	}
	tj, err := res.Truth.JSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if err := writeFile(filepath.Join(dir, "truth.json"), tj); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "labels.yaml"), res.TagPack)
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
