package sim

import (
	"context"
	"log/slog"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
)

// BenchmarkGenerate measures generation without disk: a warm-up from
// genesis and a main phase of Txs background transactions per iteration.
func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"signing", Config{Seed: 1, Txs: 3000}},
		{"fast", Config{Seed: 1, Txs: 30000, Fast: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			txs := 0
			for b.Loop() {
				o := origin{height: 1, prev: *chaincfg.RegressionNetParams.GenesisHash,
					tipTime: chaincfg.RegressionNetParams.GenesisBlock.Header.Timestamp.Unix(), actH: activationHeight(1, "defined")}
				e, err := newEngine(bc.cfg, o, slog.New(slog.DiscardHandler), func([]byte) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				res, err := e.run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				txs += res.Txs
			}
			b.ReportMetric(float64(txs)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// BenchmarkProfile measures profile generation without disk.
func BenchmarkProfile(b *testing.B) {
	for _, p := range profiles {
		b.Run(p, func(b *testing.B) {
			txs := 0
			for b.Loop() {
				o := origin{height: 1, prev: *chaincfg.RegressionNetParams.GenesisHash,
					tipTime: chaincfg.RegressionNetParams.GenesisBlock.Header.Timestamp.Unix(), actH: activationHeight(1, "defined")}
				e, err := newPengine(Config{Seed: 1, Txs: 200000, Fast: true, Profile: p}, o, slog.New(slog.DiscardHandler), func([]byte) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				res, err := e.run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				txs += res.Txs
			}
			b.ReportMetric(float64(txs)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
