package sim

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
)

func TestStatsTmp(t *testing.T) {
	dir := t.TempDir()
	st := time.Now()
	cfg := Config{Scenario: os.Getenv("SC"), Seed: 1, Fast: os.Getenv("FAST") != ""}
	if os.Getenv("TXS") != "" {
		fmt.Sscan(os.Getenv("TXS"), &cfg.Txs)
	}
	res, err := WriteDir(context.Background(), cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gen %v blocks %d txs %d", time.Since(st), res.Blocks, res.Txs)
	if os.Getenv("NOREAD") != "" {
		return
	}
	main, _ := mainChain(t, blkFiles(t, dir+"/blocks"))
	nin, nout := map[string]int{}, map[string]int{}
	bucket := func(n int) string {
		switch {
		case n <= 3:
			return fmt.Sprint(n)
		case n <= 10:
			return "4-10"
		case n <= 50:
			return "11-50"
		}
		return ">50"
	}
	types := map[chain.ScriptType]int{}
	var vals []int64
	seen := map[chain.AddrKey]int{}
	total, reused := 0, 0
	var txs int
	for _, b := range main[432:] {
		for _, tx := range b.Transactions[1:] {
			txs++
			nin[bucket(len(tx.TxIn))]++
			nout[bucket(len(tx.TxOut))]++
			for _, o := range tx.TxOut {
				s, k := chain.Classify(o.PkScript)
				types[s]++
				vals = append(vals, o.Value)
				if k != "" {
					total++
					if seen[k] > 0 {
						reused++
					}
					seen[k]++
				}
			}
		}
	}
	slices.Sort(vals)
	p := func(q float64) string { return sat(vals[int(q*float64(len(vals)-1))]) }
	t.Logf("main txs %d nin %v nout %v", txs, nin, nout)
	t.Logf("types %v", types)
	t.Logf("values p10 %s p50 %s p90 %s p99 %s", p(.1), p(.5), p(.9), p(.99))
	t.Logf("outputs to reused addresses %.1f%%", 100*float64(reused)/float64(total))
	sh := countShapes(main)
	t.Logf("shapes %+v", sh)
}
