package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"

	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/chain"
)

// Stats are measured from a chain's blocks (not from the generator's
// bookkeeping), so they can be set beside mainnet's published figures and
// checked by tests: docs/simulator.md has both.
type Stats struct {
	Blocks  int   `json:"blocks"`
	Txs     int   `json:"txs"`     // non-coinbase transactions
	Inputs  int64 `json:"inputs"`  // of those transactions
	Outputs int64 `json:"outputs"` // of those transactions, OP_RETURN included

	InputsPerTx  float64            `json:"inputs_per_tx"`
	OutputsPerTx float64            `json:"outputs_per_tx"`
	InputsHist   map[string]float64 `json:"inputs_hist"`  // share of txs by input count
	OutputsHist  map[string]float64 `json:"outputs_hist"` // share of txs by output count
	MaxInputs    int                `json:"max_inputs"`
	MaxOutputs   int                `json:"max_outputs"`

	// ScriptMix is the share of each script type among the outputs of
	// each tenth of the non-coinbase transactions, in chain order.
	ScriptMix []map[string]float64 `json:"script_mix_by_tenth"`

	// Reuse is the share of outputs (coinbases included) paying an address
	// that an earlier output already paid.
	Reuse float64 `json:"reuse"`

	// UTXOs are the outputs unspent at the tip (OP_RETURN excluded), and
	// UTXOFraction their share of all such outputs ever created.
	UTXOs        int64   `json:"utxos"`
	UTXOFraction float64 `json:"utxo_fraction"`

	// SpentAge is the age, in blocks, of the outputs inputs spend.
	SpentAge SpentAge `json:"spent_age_blocks"`
	// SpentAgeMedianByTenth is the median age of the inputs of each tenth
	// of the transactions: it grows with the chain when spends reach back
	// uniformly (the oldest profile).
	SpentAgeMedianByTenth []int `json:"spent_age_median_by_tenth"`
}

// SpentAge summarizes the ages of spent outputs.
type SpentAge struct {
	P10, P25, P50, P75, P90, P99 int
	WithinBlock                  float64 `json:"within_1_block"`
	WithinDay                    float64 `json:"within_144_blocks"`
	WithinWeek                   float64 `json:"within_1008_blocks"`
	WithinMonth                  float64 `json:"within_4320_blocks"`
}

// histBucket names the bucket of a count for InputsHist and OutputsHist.
func histBucket(n int) string {
	switch {
	case n <= 2:
		return fmt.Sprint(n)
	case n <= 5:
		return "3-5"
	case n <= 49:
		return "6-49"
	case n <= 99:
		return "50-99"
	}
	return "100+"
}

// ChainStats reads the best chain of a regtest blocks/ directory and
// measures Stats. It holds the unspent outputs and a 64-bit hash of every
// address seen: ~80 B per UTXO and ~12 B per address.
func ChainStats(ctx context.Context, dir string, log *slog.Logger) (*Stats, error) {
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	d, err := chain.OpenBlkDir(dir, net, log)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	locs, err := d.BestChain()
	if err != nil {
		return nil, err
	}
	// First pass: transaction counts, to cut the chain into tenths.
	total := 0
	for _, l := range locs {
		raw, err := d.ReadBlock(l)
		if err != nil {
			return nil, err
		}
		n, err := wire.ReadVarInt(bytes.NewReader(raw[min(len(raw), 80):]), 0)
		if err != nil || n == 0 || n > uint64(len(raw)) {
			return nil, fmt.Errorf("%w: %s: bad transaction count", chain.ErrBadInput, l)
		}
		total += int(n) - 1
	}
	st := &Stats{Blocks: len(locs), InputsHist: map[string]float64{}, OutputsHist: map[string]float64{}}
	mix := make([][numScriptNames]int64, 10)
	ages := make([][]int64, 10)
	for i := range ages {
		ages[i] = make([]int64, len(locs)+1)
	}
	utxo := map[wire.OutPoint]int32{}
	seen := map[uint64]struct{}{}
	var addrOuts, reused, created int64
	done := 0
	for h, l := range locs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, err := d.ReadBlock(l)
		if err != nil {
			return nil, err
		}
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", chain.ErrBadInput, l, err)
		}
		for ti, tx := range blk.Transactions {
			tenth := 0
			if ti > 0 {
				tenth = min(done*10/max(total, 1), 9)
				done++
				st.Txs++
				st.Inputs += int64(len(tx.TxIn))
				st.Outputs += int64(len(tx.TxOut))
				st.InputsHist[histBucket(len(tx.TxIn))]++
				st.OutputsHist[histBucket(len(tx.TxOut))]++
				st.MaxInputs = max(st.MaxInputs, len(tx.TxIn))
				st.MaxOutputs = max(st.MaxOutputs, len(tx.TxOut))
				for _, in := range tx.TxIn {
					ch, ok := utxo[in.PreviousOutPoint]
					if !ok {
						return nil, fmt.Errorf("%w: height %d: %s spends %v, which is not unspent", chain.ErrBadInput, h, tx.TxHash(), in.PreviousOutPoint)
					}
					delete(utxo, in.PreviousOutPoint)
					ages[tenth][h-int(ch)]++
				}
			}
			id := tx.TxHash()
			for vout, o := range tx.TxOut {
				t, key := chain.Classify(o.PkScript)
				if ti > 0 && int(t) < numScriptNames {
					mix[tenth][t]++
				}
				if t == chain.ScriptOpReturn {
					continue
				}
				utxo[wire.OutPoint{Hash: id, Index: uint32(vout)}] = int32(h)
				created++
				if key == "" {
					continue
				}
				f := fnv.New64a()
				f.Write([]byte(key))
				k := f.Sum64()
				addrOuts++
				if _, ok := seen[k]; ok {
					reused++
				} else {
					seen[k] = struct{}{}
				}
			}
		}
	}
	if st.Txs > 0 {
		st.InputsPerTx = float64(st.Inputs) / float64(st.Txs)
		st.OutputsPerTx = float64(st.Outputs) / float64(st.Txs)
		for _, m := range []map[string]float64{st.InputsHist, st.OutputsHist} {
			for k, v := range m {
				m[k] = round4(v / float64(st.Txs))
			}
		}
	}
	for _, m := range mix {
		var t int64
		for _, v := range m {
			t += v
		}
		share := map[string]float64{}
		for i, v := range m {
			if v > 0 {
				share[chain.ScriptType(i).String()] = round4(float64(v) / float64(t))
			}
		}
		st.ScriptMix = append(st.ScriptMix, share)
	}
	if addrOuts > 0 {
		st.Reuse = round4(float64(reused) / float64(addrOuts))
	}
	st.UTXOs = int64(len(utxo))
	if created > 0 {
		st.UTXOFraction = round4(float64(st.UTXOs) / float64(created))
	}
	all := make([]int64, len(locs)+1)
	for _, a := range ages {
		for i, v := range a {
			all[i] += v
		}
		st.SpentAgeMedianByTenth = append(st.SpentAgeMedianByTenth, quantile(a, 0.5))
	}
	st.SpentAge = SpentAge{P10: quantile(all, 0.1), P25: quantile(all, 0.25), P50: quantile(all, 0.5),
		P75: quantile(all, 0.75), P90: quantile(all, 0.9), P99: quantile(all, 0.99),
		WithinBlock: round4(shareTo(all, 1)), WithinDay: round4(shareTo(all, 144)),
		WithinWeek: round4(shareTo(all, 1008)), WithinMonth: round4(shareTo(all, 4320))}
	st.InputsPerTx, st.OutputsPerTx = round4(st.InputsPerTx), round4(st.OutputsPerTx)
	return st, nil
}

const numScriptNames = 10 // chain's script types (nonstandard … op_return)

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }

// quantile is the smallest age a with at least q of the counts at ages ≤ a.
func quantile(h []int64, q float64) int {
	var t int64
	for _, v := range h {
		t += v
	}
	if t == 0 {
		return 0
	}
	want := int64(q * float64(t))
	var c int64
	for a, v := range h {
		c += v
		if c > want || c == t {
			return a
		}
	}
	return len(h) - 1
}

func shareTo(h []int64, a int) float64 {
	var t, c int64
	for i, v := range h {
		t += v
		if i <= a {
			c += v
		}
	}
	if t == 0 {
		return 0
	}
	return float64(c) / float64(t)
}

// JSON is the indented JSON of s (map keys sorted, so deterministic).
func (s *Stats) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%w: stats: %w", ErrInternal, err)
	}
	return append(b, '\n'), nil
}

// WriteStats measures the chain in dir/blocks and writes dir/stats.json.
func WriteStats(ctx context.Context, dir string, log *slog.Logger) (*Stats, error) {
	st, err := ChainStats(ctx, filepath.Join(dir, "blocks"), log)
	if err != nil {
		return nil, err
	}
	b, err := st.JSON()
	if err != nil {
		return nil, err
	}
	return st, writeFile(filepath.Join(dir, "stats.json"), b)
}
