package bench

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/screen"
)

// ScreenResult is the rate of screening random addresses.
type ScreenResult struct {
	N      int     `json:"screens"`
	Hops   int     `json:"hops"`
	PerSec float64 `json:"screens_per_s"`
	Faults float64 `json:"major_faults_per_screen"`
}

// Screens screens n random addresses of ix within hops, as a compliance
// desk's deposit screening would, with one loaded Screener.
func Screens(ctx context.Context, ix *index.Index, n, hops int, seed uint64, log *slog.Logger) (ScreenResult, error) {
	r := ScreenResult{N: n, Hops: hops}
	_, _, _, nAddr := ix.Tip().Counts()
	if nAddr == 0 || n <= 0 {
		return r, nil
	}
	s, err := screen.New(ix, screen.Options{Hops: hops}, log)
	if err != nil {
		return r, err
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	addrs := make([]string, n)
	for i := range addrs {
		// Bare multisig and non-standard scripts have ids, not addresses a user would screen.
		for try := 0; try < 100; try++ {
			addrs[i] = ix.AddrString(1 + rng.Uint32N(nAddr))
			if !strings.Contains(addrs[i], "-") {
				break
			}
		}
	}
	f0 := majorFaults()
	start := time.Now()
	for _, a := range addrs {
		if _, err := s.Screen(ctx, a); err != nil {
			return r, err
		}
	}
	r.PerSec = float64(n) / time.Since(start).Seconds()
	r.Faults = float64(majorFaults()-f0) / float64(n)
	return r, nil
}
