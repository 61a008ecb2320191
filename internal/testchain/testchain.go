// Package testchain gives tests the chains they share: the simulator's
// dmm-2024 heist, generated once per test binary, and a logger that writes
// into the test's log.
package testchain

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/sim"
)

// Log returns a logger that writes warnings and errors into t's log.
func Log(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// DMMConfig is the shared chain: dmm-2024 at its default size. Fast only
// skips the elliptic-curve work; the transaction graph is the same.
var DMMConfig = sim.Config{Scenario: "dmm-2024", Seed: 1, Fast: true}

var dmm struct {
	once  sync.Once
	dir   string
	truth *sim.Truth
	err   error
}

// DMM returns the directory (blocks/, labels.yaml, truth.json) and truth
// of the DMMConfig chain, generated on first use. Call Cleanup from TestMain.
func DMM(t testing.TB) (string, *sim.Truth) {
	t.Helper()
	dmm.once.Do(func() {
		if dmm.dir, dmm.err = os.MkdirTemp("", "cointrail-dmm-"); dmm.err != nil {
			return
		}
		var res *sim.Result
		if res, dmm.err = sim.WriteDir(context.Background(), DMMConfig, dmm.dir, nil); dmm.err == nil {
			dmm.truth = res.Truth
		}
	})
	if dmm.err != nil {
		t.Fatal(dmm.err)
	}
	return dmm.dir, dmm.truth
}

// Cleanup removes the generated chain.
func Cleanup() {
	if dmm.dir != "" {
		os.RemoveAll(dmm.dir)
	}
}

// DMMIndex ingests the DMM chain (its first stop blocks; 0 = all) into a
// fresh regtest index closed when t ends, and with labels imports its
// labels.yaml. It returns the index, the chain's directory and its truth.
func DMMIndex(t testing.TB, stop int, labelled bool) (*index.Index, string, *sim.Truth) {
	t.Helper()
	dir, truth := DMM(t)
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	log := Log(t)
	ix, err := index.Open(t.TempDir(), net, index.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.IngestBlkDir(context.Background(), filepath.Join(dir, "blocks"), index.IngestOptions{StopAfter: stop}); err != nil {
		t.Fatal(err)
	}
	if labelled {
		if _, err := labels.Import(ix.Store, net, []string{filepath.Join(dir, "labels.yaml")}, time.Unix(1717113600, 0), log); err != nil {
			t.Fatal(err)
		}
	}
	return ix, dir, truth
}
