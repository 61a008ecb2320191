package labels

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cointrail/cointrail/internal/pebblecrash"
	"github.com/cointrail/cointrail/internal/shareddata"
	"github.com/cointrail/cointrail/kv"
)

// countingStore counts the batches committed through it.
type countingStore struct {
	kv.Store
	commits int
}

func (c *countingStore) NewBatch() kv.Batch { return &countingBatch{c.Store.NewBatch(), c} }

type countingBatch struct {
	kv.Batch
	s *countingStore
}

func (b *countingBatch) Commit(sync bool) error {
	b.s.commits++
	return b.Batch.Commit(sync)
}

// snapshot is a digest of every row of the store.
func snapshot(t *testing.T, st kv.Store) string {
	t.Helper()
	it, err := st.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	h := sha256.New()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(h, "%x=%x\n", it.Key(), it.Value())
		n++
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d rows %s", n, hex.EncodeToString(h.Sum(nil))[:16])
}

// TestImportPowerLoss cuts the power at every sync of a sequence of
// imports, a re-import (whose old labels are removed in the same batch)
// and removals, over the real Pebble store on a strict in-memory file
// system. After each cut the store reopens to exactly the state after one
// of the operations: every operation that returned is there, the one in
// progress is there whole or not at all, and nothing after the cut is.
func TestImportPowerLoss(t *testing.T) {
	lz2 := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	hacks := shareddata.Path(t, "labels", "graphsense-tagpacks", "hacks.yaml")
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine.csv")
	const a1, a2, a3 = "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", "bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"
	write := func(s string) func(*testing.T, kv.Store) {
		return func(t *testing.T, _ kv.Store) {
			if err := os.WriteFile(mine, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	imp := func(paths ...string) func(*testing.T, kv.Store) {
		return func(t *testing.T, st kv.Store) {
			cs := &countingStore{Store: st}
			if _, err := Import(cs, mainnet, paths, testNow, nil); err != nil {
				t.Fatal(err)
			}
			if cs.commits != 1 {
				t.Fatalf("Import of %v committed %d batches, want 1", paths, cs.commits)
			}
		}
	}
	remove := func(src string) func(*testing.T, kv.Store) {
		return func(t *testing.T, st kv.Store) {
			cs := &countingStore{Store: st}
			if _, err := Remove(cs, src); err != nil {
				t.Fatal(err)
			}
			if cs.commits != 1 {
				t.Fatalf("Remove(%q) committed %d batches, want 1", src, cs.commits)
			}
		}
	}
	// Each step is one durable operation (writing the CSV file is not a
	// store operation; it rides with the import after it).
	steps := []func(*testing.T, kv.Store){
		func(t *testing.T, st kv.Store) {
			write(a1+",Thief,perpetrator,case-x\n"+a2+",Victim,victim\n"+a3+",Mule,perpetrator,case-x\n")(t, st)
			imp(mine, lz2)(t, st)
		},
		imp(hacks),
		func(t *testing.T, st kv.Store) {
			write(a2+",Victim hot wallet,victim,case-x\n"+a3+",Mule 2,perpetrator\n")(t, st)
			imp(mine)(t, st) // replaces the three labels of the first version
		},
		remove("case-x"),
		remove("https://www.fbi.gov/news/press-releases/fbi-identifies-cryptocurrency-funds-stolen-by-dprk"),
		remove(mine),
	}

	// run plays the steps over a fresh FS, cutting the power at sync
	// crashAt (0: never), and returns the state after each step (states[0]:
	// the opened empty store), the sync count after each, and the state
	// found after the cut and a reopen.
	run := func(crashAt int64) (states []string, syncs []int64, after string) {
		fs := pebblecrash.New()
		fs.CrashAtSync(crashAt)
		st, err := kv.OpenPebbleFS(pebblecrash.Dir, fs)
		if err != nil {
			t.Fatal(err)
		}
		states, syncs = append(states, snapshot(t, st)), append(syncs, fs.Syncs())
		for _, step := range steps {
			step(t, st)
			states, syncs = append(states, snapshot(t, st)), append(syncs, fs.Syncs())
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if crashAt > 0 && !fs.Crashed() {
			return states, syncs, ""
		}
		fs.Restore()
		st, err = kv.OpenPebbleFS(pebblecrash.Dir, fs)
		if err != nil {
			t.Fatalf("reopen after a power cut at sync %d: %v", crashAt, err)
		}
		defer st.Close()
		// Whatever survived reads without error.
		if _, err := List(st, mainnet, Query{}); err != nil {
			t.Fatalf("after a power cut at sync %d: %v", crashAt, err)
		}
		if _, err := Digest(st, mainnet); err != nil {
			t.Fatalf("after a power cut at sync %d: %v", crashAt, err)
		}
		return states, syncs, snapshot(t, st)
	}

	states, syncs, after := run(0)
	if after != states[len(states)-1] {
		t.Fatalf("without a power cut, the reopened store %s differs from the last state %s", after, states[len(states)-1])
	}
	for i := 1; i < len(states); i++ {
		if states[i] == states[i-1] {
			t.Fatalf("step %d changed nothing: the test proves less than it claims", i)
		}
	}
	total := syncs[len(syncs)-1]
	t.Logf("%d steps, %d syncs", len(steps), total)
	for k := int64(1); k <= total; k++ {
		states, syncs, after := run(k)
		// done: the steps that returned before sync k; the next one may or
		// may not have reached stable storage, but only whole.
		// The store must hold the state after some step between the last
		// one whose syncs all came before the cut (lo: durable) and the one
		// in progress at the cut (hi); steps in between did not sync (the
		// index commits blocks without sync; the engine's commit syncs it).
		lo, hi := 0, len(states)-1
		for j, s := range syncs {
			if s < k && (j == 0 || s > syncs[j-1]) {
				lo = j
			}
		}
		for j, s := range syncs {
			if s >= k {
				hi = j
				break
			}
		}
		ok := false
		for j := lo; j <= hi; j++ {
			ok = ok || after == states[j]
		}
		if !ok {
			t.Errorf("power cut at sync %d: the store reopened as %s, want one of the states after steps %d..%d of %v", k, after, lo, hi, states)
		}
	}
}
