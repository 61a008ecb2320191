package cluster

import (
	"runtime"
	"testing"
)

// TestForestMemory: the union-find maps 8 bytes per address and puts
// nothing that grows with the addresses on the Go heap.
func TestForestMemory(t *testing.T) {
	const n = 4_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := newForest(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if err := f.reserve(n); err != nil {
		t.Fatal(err)
	}
	if err := f.grow(n); err != nil {
		t.Fatal(err)
	}
	// A chain of unions over every address, then finds: the structure works
	// at this size and the id rule holds (equal sizes: the smaller id survives).
	for a := uint32(2); a <= n; a += 2 {
		if s, r, ok := f.pick(a-1, a); !ok || s != a-1 || r != a {
			t.Fatalf("union of %d and %d: survivor %d, retired %d", a-1, a, s, r)
		} else {
			f.link(s, r)
		}
	}
	if got := f.find(n); got != n-1 || f.size[n-1] != 2 {
		t.Fatalf("find(%d) = %d (size %d)", n, got, f.size[got])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if per := float64(f.memBytes()) / n; per > 8.01 {
		t.Fatalf("the forest maps %.2f bytes per address", per)
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 1<<20 {
		t.Fatalf("the Go heap grew by %d bytes for %d addresses", grown, n)
	}
}
