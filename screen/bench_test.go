package screen

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkScreen screens addresses of the dmm-2024 simulator chain (every
// 37th address id, labels imported, multi-input clustering built) with one
// Screener, 1 and 3 hops back, and reports the latency percentiles of one
// Screen call.
//
//	go test -run '^$' -bench BenchmarkScreen ./screen
func BenchmarkScreen(b *testing.B) {
	ix, _ := simIndex(b, true)
	_, _, _, n := ix.Tip().Counts()
	var targets []string
	for a := uint32(1); a <= n; a += 37 {
		targets = append(targets, ix.AddrString(a))
	}
	for _, hops := range []int{1, 3} {
		b.Run(map[int]string{1: "hops=1", 3: "hops=3"}[hops], func(b *testing.B) {
			s, err := New(ix, Options{Hops: hops}, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				start := time.Now()
				if _, err := s.Screen(ctx, targets[i%len(targets)]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
