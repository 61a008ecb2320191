package sim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
)

// profileChain writes a profile chain into a temporary directory.
func profileChain(t *testing.T, cfg Config) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := WriteDir(context.Background(), cfg, dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func blkBytes(t *testing.T, dir string) []byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "blocks", "blk*.dat"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no blk files in %s: %v", dir, err)
	}
	slices.Sort(names)
	var all []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestProfileConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Profile: "testnet"}, `sim: bad config: unknown profile "testnet" (known: mainnet, oldest)`},
		{Config{Profile: ProfileMainnet, Scenario: "dmm-2024"}, "sim: bad config: profile mainnet takes no scenario"},
		{Config{Profile: ProfileOldest, Stale: 2}, "sim: bad config: profile oldest takes no stale branch"},
	} {
		_, err := WriteDir(context.Background(), tc.cfg, t.TempDir(), nil)
		if !errors.Is(err, ErrBadConfig) || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := Submit(context.Background(), Config{Profile: ProfileMainnet}, nil, nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Submit with a profile: %v", err)
	}
}

func TestProfileDeterminism(t *testing.T) {
	for _, p := range profiles {
		t.Run(p, func(t *testing.T) {
			cfg := Config{Profile: p, Seed: 11, Txs: 3000, Fast: true}
			a := blkBytes(t, profileChain(t, cfg))
			b := blkBytes(t, profileChain(t, cfg))
			if !bytes.Equal(a, b) {
				t.Fatal("same config, different bytes")
			}
			cfg.Seed = 12
			if c := blkBytes(t, profileChain(t, cfg)); bytes.Equal(a, c) {
				t.Fatal("different seeds, same bytes")
			}
		})
	}
}

// TestProfileMainnetShape measures a few-thousand-transaction mainnet
// profile chain from its blocks and checks it against the documented
// targets and tolerances (docs/simulator.md).
func TestProfileMainnetShape(t *testing.T) {
	const txs = 12000
	dir := profileChain(t, Config{Profile: ProfileMainnet, Seed: 3, Txs: txs, Fast: true})
	st, err := ChainStats(context.Background(), filepath.Join(dir, "blocks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Txs != txs {
		t.Errorf("%d non-coinbase transactions, want %d", st.Txs, txs)
	}
	within := func(name string, got, want, tol float64) {
		t.Helper()
		if got < want*(1-tol) || got > want*(1+tol) {
			t.Errorf("%s = %.4f, want %.4f ± %.0f %%", name, got, want, 100*tol)
		}
	}
	within("outputs/tx", st.OutputsPerTx, TargetOutputsPerTx, 0.2)
	// Inputs follow outputs minus what stays unspent.
	within("inputs/tx", st.InputsPerTx, st.OutputsPerTx*(1-TargetUTXOFraction), 0.1)
	within("UTXO fraction", st.UTXOFraction, TargetUTXOFraction, 0.5)
	within("reuse", st.Reuse, TargetReuse, 0.25)
	within("1-input share", st.InputsHist["1"], 0.55, 0.2)
	within("2-output share", st.OutputsHist["2"], 0.70, 0.1)
	if st.MaxInputs < 50 || st.MaxOutputs < 100 {
		t.Errorf("no heavy tail: at most %d inputs and %d outputs", st.MaxInputs, st.MaxOutputs)
	}
	first, last := st.ScriptMix[0], st.ScriptMix[9]
	if first["p2pkh"]+first["p2sh"] < 0.999 || first["p2pkh"] < 0.8 {
		t.Errorf("first tenth is not the legacy era: %v", first)
	}
	if last["p2wpkh"] < 0.35 || last["p2tr"] < 0.1 || last["p2pkh"] > 0.3 {
		t.Errorf("last tenth is not the Taproot era: %v", last)
	}
	for i := 1; i < 10; i++ {
		if st.ScriptMix[i]["p2pkh"] > st.ScriptMix[i-1]["p2pkh"]+0.03 {
			t.Errorf("P2PKH share rises from tenth %d to %d: %v", i-1, i, st.ScriptMix)
		}
	}
	a := st.SpentAge
	if a.WithinDay < 0.5 || a.WithinBlock < 0.08 || a.P99 < 10*max(a.P50, 1) {
		t.Errorf("spent ages are not young-heavy with a long tail: %+v", a)
	}
}

// TestProfileOldestSpread: uniform spends over all unspent coins are older
// than mainnet's young-heavy spends and rarely take the newest coins. (Their
// median age need not grow with the chain: the pool is held near the UTXO
// fraction, so a coin's expected life is the same at every height.)
func TestProfileOldestSpread(t *testing.T) {
	dir := profileChain(t, Config{Profile: ProfileOldest, Seed: 4, Txs: 12000, Fast: true})
	st, err := ChainStats(context.Background(), filepath.Join(dir, "blocks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	mdir := profileChain(t, Config{Profile: ProfileMainnet, Seed: 4, Txs: 12000, Fast: true})
	ms, err := ChainStats(context.Background(), filepath.Join(mdir, "blocks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.SpentAge.WithinBlock*2 > ms.SpentAge.WithinBlock || st.SpentAge.P50 <= ms.SpentAge.P50 {
		t.Errorf("oldest spends %+v are not older than mainnet's %+v", st.SpentAge, ms.SpentAge)
	}
	within := st.UTXOFraction > TargetUTXOFraction/2 && st.UTXOFraction < 2*TargetUTXOFraction
	if !within {
		t.Errorf("oldest UTXO fraction %.4f", st.UTXOFraction)
	}
}

// TestProfileIngestVerify: today's ingest accepts profile chains and the
// index verifies clean.
func TestProfileIngestVerify(t *testing.T) {
	for _, p := range profiles {
		t.Run(p, func(t *testing.T) {
			dir := profileChain(t, Config{Profile: p, Seed: 5, Txs: 4000, Fast: true})
			st, err := ChainStats(context.Background(), filepath.Join(dir, "blocks"), nil)
			if err != nil {
				t.Fatal(err)
			}
			ix, err := index.Open(t.TempDir(), regtest, index.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			if _, err := ix.IngestBlkDir(context.Background(), filepath.Join(dir, "blocks"), index.IngestOptions{}); err != nil {
				t.Fatal(err)
			}
			r, err := ix.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if int(r.Blocks) != st.Blocks || int(r.Txs) != st.Txs+st.Blocks || int64(r.UTXOs) != st.UTXOs {
				t.Errorf("verify %+v, stats %d blocks %d txs %d UTXOs", r, st.Blocks, st.Txs, st.UTXOs)
			}
		})
	}
}

// TestProfileSigned: without Fast, a small profile chain carries real
// signatures that btcd's script engine accepts, and replays as a node
// would (coinbase maturity, fees, coinbase = subsidy + fees, no witness
// data before activation).
func TestProfileSigned(t *testing.T) {
	if testing.Short() {
		t.Skip("signing")
	}
	for _, p := range profiles {
		t.Run(p, func(t *testing.T) {
			dir := profileChain(t, Config{Profile: p, Seed: 6, Txs: 1200})
			main := blkFiles(t, filepath.Join(dir, "blocks"))
			utxos, spent := replay(t, main)
			if len(utxos) == 0 {
				t.Fatal("no unspent outputs")
			}
			for _, st := range []chain.ScriptType{chain.ScriptP2PKH, chain.ScriptP2SH, chain.ScriptP2WPKH} {
				if spent[st] == 0 {
					t.Errorf("no %s spent: %v", st, spent)
				}
			}
		})
	}
}
