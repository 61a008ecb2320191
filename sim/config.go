package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// Config says what chain to generate. The zero value (plus a seed) is a
// background-only chain of DefaultTxs transactions.
type Config struct {
	// Scenario is "" for background traffic only, or one of Scenarios().
	Scenario string
	// Profile is "" for the actor economy (the default), or one of
	// Profiles(): traffic drawn from mainnet's distributions ("mainnet")
	// or every spend uniform over all unspent coins ("oldest"). A profile
	// takes no Scenario and no Stale branch; WriteDir only.
	Profile string
	// Seed determines everything: the same Config gives the same bytes.
	Seed uint64
	// Txs is the number of background transactions of the main phase
	// (0 = DefaultTxs). A scenario that needs more blocks than Txs fills
	// keeps the background running until it is done.
	Txs int
	// Fast skips elliptic-curve work: keys are hashes and signatures are
	// dummy bytes of the right shape. The blocks decode, link and balance
	// but fail script validation, so Submit refuses Fast.
	Fast bool
	// XOR obfuscates the blk files with a seed-derived key and writes
	// xor.dat, as Bitcoin Core 28+ does (WriteDir only).
	XOR bool
	// Stale adds a competing branch of this many blocks that loses to the
	// main chain (0..MaxStale).
	Stale int
	// TxsPerBlock is the background transactions per main-phase block
	// (0 = Txs/100 clamped to 20..2000). Blocks close early when they
	// near the consensus weight or sigop limit, so a larger value may give
	// fewer than Txs transactions.
	TxsPerBlock int
	// StartTime is the timestamp of the first main-phase block (the
	// warm-up blocks are dated before it). Zero means 2024-05-31T00:00:00Z
	// for dmm-2024 and 2024-01-01T00:00:00Z otherwise; with Submit, zero
	// means "continue from the node's tip".
	StartTime time.Time
	// Progress, if set, is called after every main-chain block with the
	// blocks done and the blocks planned.
	Progress func(done, total int)
}

// Result describes a generated chain.
type Result struct {
	Blocks  int            // main-chain blocks generated (stale blocks not counted)
	Txs     int            // transactions in them, coinbases included
	TipHash chainhash.Hash // hash of the last main-chain block
	Truth   *Truth         // ground truth of the scenario; nil without one
	TagPack []byte         // labels.yaml contents; nil without a scenario
}

// Defaults and limits of Config.
const (
	DefaultTxs     = 6000
	MaxStale       = 10
	maxTxsPerBlock = 5000
	scenarioDMM    = "dmm-2024"
)

var scenarios = []string{scenarioDMM}

// Scenarios lists the known scenario names.
func Scenarios() []string { return append([]string(nil), scenarios...) }

// withDefaults validates cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	known := false
	for _, s := range scenarios {
		known = known || s == cfg.Scenario
	}
	if cfg.Scenario != "" && !known {
		return cfg, fmt.Errorf("%w: unknown scenario %q (known: %s)", ErrBadConfig, cfg.Scenario, strings.Join(scenarios, ", "))
	}
	if cfg.Profile != "" {
		knownP := false
		for _, p := range profiles {
			knownP = knownP || p == cfg.Profile
		}
		switch {
		case !knownP:
			return cfg, fmt.Errorf("%w: unknown profile %q (known: %s)", ErrBadConfig, cfg.Profile, strings.Join(profiles, ", "))
		case cfg.Scenario != "":
			return cfg, fmt.Errorf("%w: profile %s takes no scenario", ErrBadConfig, cfg.Profile)
		case cfg.Stale != 0:
			return cfg, fmt.Errorf("%w: profile %s takes no stale branch", ErrBadConfig, cfg.Profile)
		}
	}
	switch {
	case cfg.Txs < 0:
		return cfg, fmt.Errorf("%w: Txs %d is negative", ErrBadConfig, cfg.Txs)
	case cfg.TxsPerBlock < 0 || cfg.TxsPerBlock > maxTxsPerBlock:
		return cfg, fmt.Errorf("%w: TxsPerBlock %d is outside 0..%d", ErrBadConfig, cfg.TxsPerBlock, maxTxsPerBlock)
	case cfg.Stale < 0 || cfg.Stale > MaxStale:
		return cfg, fmt.Errorf("%w: Stale %d is outside 0..%d", ErrBadConfig, cfg.Stale, MaxStale)
	}
	if cfg.Txs == 0 {
		cfg.Txs = DefaultTxs
	}
	if cfg.TxsPerBlock == 0 {
		cfg.TxsPerBlock = min(max(cfg.Txs/100, 20), 2000)
	}
	return cfg, nil
}

// defaultStart is the first main-phase block time when Config.StartTime is zero.
func defaultStart(scenario string) time.Time {
	if scenario == scenarioDMM {
		return time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
}
