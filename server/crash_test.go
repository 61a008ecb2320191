package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/pebblecrash"
	"github.com/cointrail/cointrail/kv"
)

// storeSnapshot digests every row of the store (index, labels, server).
func storeSnapshot(t *testing.T, st kv.Store) string {
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

// TestCasesPowerLoss cuts the power at every sync of a server's life —
// cases created, blocks connected and processed into alerts (with their
// webhook queue rows and undo records), an alert acknowledged, a case
// deleted — over the real Pebble store on a strict in-memory file system
// (the index's columns stay on disk). After each cut the store reopens to
// exactly the state after one of the steps: every step that returned is
// there, the one in progress whole or not at all. Then the server restarts
// on it: its state loads, the restart replays what the index holds beyond
// the cases, and every case equals a full trace of its seeds.
func TestCasesPowerLoss(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hooks := []Webhook{{URL: "http://127.0.0.1:1/hook", Secret: "s"}} // queue rows; nothing delivers in this test
	type scenario struct {
		data   string
		ix     *index.Index
		fs     *pebblecrash.FS
		e      *engine
		blocks []*wire.MsgBlock
		seeds  []string
	}
	// setup builds the same chain on disk every time (a fixed seed), moves
	// the index's store into a fresh FS and opens the engine over it.
	setup := func(t *testing.T) *scenario {
		sc := &scenario{data: t.TempDir(), fs: pebblecrash.New()}
		ix, err := index.Open(sc.data, mustNet(t), index.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := newSynth(t, ix, 42, 40)
		for range 12 {
			s.connect(s.block(20))
		}
		importLabels(t, ix, s.addrs[0].Encode(ix.Net)+",Exchange A,exchange,test,ownership")
		// Two unspent outputs, kept out of random spending, are the seeds;
		// the two blocks to come spend one each.
		var ops []wire.OutPoint
		for _, u := range s.utxos[len(s.utxos)-2:] {
			ops = append(ops, u.op)
		}
		s.reserved = map[wire.OutPoint]bool{ops[0]: true, ops[1]: true}
		for _, op := range ops {
			sc.seeds = append(sc.seeds, fmt.Sprintf("%s:%d", op.Hash, op.Index))
			sc.blocks = append(sc.blocks, s.msgBlock(15, op))
		}
		if err := ix.Store.Close(); err != nil {
			t.Fatal(err)
		}
		if err := sc.fs.Load(filepath.Join(index.Dir(sc.data, ix.Net), "db")); err != nil {
			t.Fatal(err)
		}
		mem, err := kv.OpenPebbleFS(pebblecrash.Dir, sc.fs)
		if err != nil {
			t.Fatal(err)
		}
		ix.Store = mem
		sc.ix = ix
		return sc
	}
	openEngine := func(t *testing.T, ix *index.Index) *engine {
		e, err := newEngine(ix, DefaultConfig().Limits, 8, hooks, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.now = func() time.Time { return clock }
		if err := e.reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e
	}
	connect := func(i int) func(*testing.T, *scenario) {
		return func(t *testing.T, sc *scenario) {
			// As the follower does: the index commits without sync, the
			// engine's commit of the block syncs both.
			if _, err := sc.ix.Connect([]*index.Block{index.PrepareMsg(sc.blocks[i], "synth")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	process := func(t *testing.T, sc *scenario) {
		if err := sc.e.processBlock(sc.ix.Tip().Height); err != nil {
			t.Fatal(err)
		}
		if sc.e.nextSeq == 1 {
			t.Fatal("the block raised no alert: the test proves less than it claims")
		}
	}
	createCase := func(seed int) func(*testing.T, *scenario) {
		return func(t *testing.T, sc *scenario) {
			if _, err := sc.e.createCase(context.Background(), CaseSpec{Name: fmt.Sprint("case ", seed), Seeds: []string{sc.seeds[seed]}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []func(*testing.T, *scenario){
		func(t *testing.T, sc *scenario) { // writes the state version
			var err error
			if sc.e, err = newEngine(sc.ix, DefaultConfig().Limits, 8, hooks, nil); err != nil {
				t.Fatal(err)
			}
			sc.e.now = func() time.Time { return clock }
		},
		func(t *testing.T, sc *scenario) { // writes the follower position
			if err := sc.e.reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		createCase(0),
		createCase(1),
		connect(0),
		process,
		func(t *testing.T, sc *scenario) {
			if _, err := ackAlert(sc.ix.Store, 1, "key", "seen", clock); err != nil {
				t.Fatal(err)
			}
		},
		connect(1),
		process,
		func(t *testing.T, sc *scenario) {
			if err := sc.e.deleteCase(1); err != nil {
				t.Fatal(err)
			}
		},
	}

	run := func(crashAt int64) (states []string, syncs []int64, after string) {
		sc := setup(t)
		sc.fs.CrashAtSync(crashAt)
		states, syncs = append(states, storeSnapshot(t, sc.ix.Store)), append(syncs, sc.fs.Syncs())
		for _, step := range steps {
			step(t, sc)
			states, syncs = append(states, storeSnapshot(t, sc.ix.Store)), append(syncs, sc.fs.Syncs())
		}
		if err := sc.ix.Close(); err != nil {
			t.Fatal(err)
		}
		if crashAt > 0 && !sc.fs.Crashed() {
			return states, syncs, ""
		}
		sc.fs.Restore()
		// Reopen what the power cut left with the ordinary on-disk store.
		if err := sc.fs.Save(filepath.Join(index.Dir(sc.data, mustNet(t)), "db")); err != nil {
			t.Fatal(err)
		}
		ix, err := index.Open(sc.data, mustNet(t), index.Options{}, nil)
		if err != nil {
			t.Fatalf("power cut at sync %d: the index does not open: %v", crashAt, err)
		}
		defer ix.Close()
		after = storeSnapshot(t, ix.Store)
		e := openEngine(t, ix) // loads the state, replays blocks beyond the cases
		for id := range e.cases {
			compareWithTrace(t, e, id)
		}
		return states, syncs, after
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
