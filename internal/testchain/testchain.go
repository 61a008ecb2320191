// Package testchain gives tests the chains they share: the simulator's
// dmm-2024 heist, generated once per test binary, and a logger that writes
// into the test's log.
package testchain

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

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
