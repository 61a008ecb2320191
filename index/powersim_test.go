package index

import (
	"bytes"
	"math/rand/v2"
	"os"
)

// The power-loss simulation of the mapped files (the store's own files are
// on Pebble's strict in-memory FS, internal/pebblecrash). A page of a mapped
// file written since the file's last msync may or may not be on disk after
// a power cut, in any combination; so may a size change. PowerSim keeps a
// copy of each file as of its last msync (the durable state), and Image
// builds, at the instant of the cut, what a disk could hold: the durable
// bytes with a random subset of the pages that changed since.

// PowerSim records the durable state of the mapped files.
type PowerSim struct {
	seq     int
	durable map[string]synced // by path at the time of the msync
	chunk   int64
}

type synced struct {
	seq  int
	data []byte
}

// StartPowerSim starts recording; Stop ends it. Not for parallel tests.
func StartPowerSim() *PowerSim {
	p := &PowerSim{durable: map[string]synced{}, chunk: columnChunk}
	columnChunk = 64 << 10
	syncedHook = func(c *column) {
		p.seq++
		p.durable[c.name] = synced{p.seq, bytes.Clone(c.data)}
	}
	return p
}

func (p *PowerSim) Stop() { syncedHook, columnChunk = nil, p.chunk }

// PageSize is the unit in which a power cut keeps or loses writes.
const PageSize = 4096

// Image returns, by path, the bytes ix's mapped files could hold on disk
// if the power went now. Call it where ix's mappings are stable (a
// failpoint hook inside a commit).
func (p *PowerSim) Image(ix *Index, rng *rand.Rand) map[string][]byte {
	out := map[string][]byte{}
	for _, c := range ix.columns() {
		out[c.name] = dropPages(p.durable[c.name].data, c.data, rng)
	}
	for _, t := range []*hashTable{ix.txTable, ix.addrTable} {
		old, cur := p.durable[t.path], t.col.data
		if len(old.data) == len(cur) {
			out[t.path] = dropPages(old.data, cur, rng)
			continue
		}
		// Rebuilt since its last msync. Either the rename did not reach the
		// disk — the old file, as last synced — or it did: the new file as of
		// its own last msync (under its temporary name), plus later pages.
		if old.data != nil && rng.IntN(2) == 0 {
			out[t.path] = old.data
			continue
		}
		base := p.durable[t.path+rebuildSuffix]
		if base.seq < old.seq {
			base = synced{}
		}
		out[t.path] = dropPages(base.data, cur, rng)
	}
	return out
}

// dropPages is cur where cur equals durable, and per page that differs,
// either; pages beyond durable's length are cur's or zeros. The size is
// cur's, or (the growth's metadata lost) durable's.
func dropPages(durable, cur []byte, rng *rand.Rand) []byte {
	if bytes.Equal(durable, cur) {
		return bytes.Clone(cur)
	}
	n := len(cur)
	if len(durable) != len(cur) && rng.IntN(4) == 0 {
		n = len(durable)
	}
	img := make([]byte, n)
	copy(img, durable)
	keepAll := rng.IntN(4) // 0: keep every page, 1: lose every page, else a random half
	for off := 0; off < n; off += PageSize {
		end := min(off+PageSize, n)
		var c []byte
		if off < len(cur) {
			c = cur[off:min(end, len(cur))]
		}
		keep := keepAll == 0 || keepAll > 1 && rng.IntN(2) == 0
		if keep {
			copy(img[off:end], c)
		}
	}
	return img
}

// WriteImage writes an image into place (after the index is closed).
func WriteImage(img map[string][]byte) error {
	for path, d := range img {
		if err := os.WriteFile(path, d, 0o644); err != nil {
			return err
		}
	}
	return nil
}
