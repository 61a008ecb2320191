package index_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/shareddata"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/sim"
)

func TestMain(m *testing.M) {
	if os.Getenv("BULK_CHILD") != "" {
		os.Exit(bulkChild())
	}
	code := m.Run()
	testchain.Cleanup()
	os.Exit(code)
}

// bulkChild is the subprocess the crash tests kill at a failpoint: one
// ingest run with the options in its environment (BULK_MODE, default bulk;
// BULK_BATCH bytes per block-by-block batch).
func bulkChild() int {
	net, err := chain.NetworkByName(os.Getenv("BULK_NET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	ix, err := index.Open(os.Getenv("BULK_DATA"), net, index.Options{}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	mem, _ := strconv.ParseInt(os.Getenv("BULK_MEM"), 10, 64)
	opt := index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem}
	if m := os.Getenv("BULK_MODE"); m != "" {
		if opt.Mode, err = index.ParseMode(m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	opt.BatchBytes, _ = strconv.Atoi(os.Getenv("BULK_BATCH"))
	_, err = ix.IngestBlkDir(context.Background(), os.Getenv("BULK_BLOCKS"), opt)
	ix.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type built struct {
	digest string
	tip    index.Tip
}

// build ingests blocks into a fresh index with opt and returns its digest
// after a clean verify.
func build(t *testing.T, net chain.Network, data, blocks string, opts ...index.IngestOptions) built {
	t.Helper()
	ix, err := index.Open(data, net, index.Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for _, opt := range opts {
		if _, err := ix.IngestBlkDir(context.Background(), blocks, opt); err != nil {
			t.Fatal(err)
		}
	}
	return digestOf(t, ix)
}

func digestOf(t *testing.T, ix *index.Index) built {
	t.Helper()
	if _, err := ix.Verify(context.Background()); err != nil {
		t.Fatalf("verify: %v", err)
	}
	d, err := ix.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return built{d, ix.Tip()}
}

func regtest(t testing.TB) chain.Network {
	n, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// spendyChain is a simulated chain with many inputs spending old coins: the
// case where the bulk build's spend buckets and address partitions matter.
var spendy struct {
	once sync.Once
	dir  string
	err  error
}

func spendyChain(t *testing.T) string {
	t.Helper()
	spendy.once.Do(func() {
		spendy.dir, spendy.err = os.MkdirTemp("", "cointrail-bulk-")
		if spendy.err == nil {
			_, spendy.err = sim.WriteDir(context.Background(), sim.Config{Seed: 11, Txs: 40000, Fast: true, TxsPerBlock: 400}, spendy.dir, nil)
		}
	})
	if spendy.err != nil {
		t.Fatal(spendy.err)
	}
	t.Cleanup(func() {}) // the directory is shared by the tests of this binary
	return filepath.Join(spendy.dir, "blocks")
}

// TestBulkEqualsBlockByBlock: the bulk build gives the same index as the
// block-by-block path, byte for byte (index digest), on real mainnet blocks,
// the simulated heist and a spend-heavy simulated chain, with a generous and
// with a tiny memory budget (many partitions, buckets and table ranges).
func TestBulkEqualsBlockByBlock(t *testing.T) {
	dmm, _ := testchain.DMM(t)
	cases := []struct {
		name   string
		net    chain.Network
		blocks string
	}{
		{"mainnet-4313", mainnetNet(t), shareddata.BlocksDir(t, "blk00000-heights-0-4312.dat")},
		{"dmm-2024", regtest(t), filepath.Join(dmm, "blocks")},
		{"spendy", regtest(t), spendyChain(t)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := build(t, c.net, t.TempDir(), c.blocks, index.IngestOptions{Mode: index.ModeBlocks})
			for _, mem := range []int64{1 << 30, 256 << 10} {
				got := build(t, c.net, t.TempDir(), c.blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem})
				if got != want {
					t.Fatalf("memory %d: bulk %s (tip %d), block by block %s (tip %d)", mem, got.digest, got.tip.Height, want.digest, want.tip.Height)
				}
			}
		})
	}
}

// TestBulkThenBlocks: a bulk build of a prefix continued block by block
// equals the block-by-block build of the whole chain (the server switches to
// the block path at the tip), for random split points.
func TestBulkThenBlocks(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	want := build(t, net, t.TempDir(), blocks, index.IngestOptions{Mode: index.ModeBlocks})
	rng := rand.New(rand.NewPCG(5, 7))
	for i := 0; i < 3; i++ {
		split := 1 + rng.IntN(int(want.tip.Height))
		got := build(t, net, t.TempDir(), blocks, index.IngestOptions{Mode: index.ModeBulk, StopAfter: split, MemoryBytes: 1 << 20}, index.IngestOptions{})
		if got != want {
			t.Fatalf("bulk of %d blocks + block by block: %s, want %s", split, got.digest, want.digest)
		}
	}
}

// TestBulkBadBlockKeepsPrefix: a bad block in the middle (one input's
// prevout changed) ends the build at the block before it, which is
// installed; the error is the block's.
func TestBulkBadBlockKeepsPrefix(t *testing.T) {
	src := spendyChain(t)
	net := regtest(t)
	dir := t.TempDir()
	d, err := chain.OpenBlkDir(src, net, nil)
	if err != nil {
		t.Fatal(err)
	}
	best, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	bad := len(best) / 2
	var frames []byte
	for i, loc := range best {
		raw, err := d.ReadBlock(loc)
		if err != nil {
			t.Fatal(err)
		}
		if i == bad {
			var mb wire.MsgBlock
			if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			mb.Transactions[1].TxIn[0].PreviousOutPoint.Hash[0] ^= 1
			var buf bytes.Buffer
			if err := mb.Serialize(&buf); err != nil {
				t.Fatal(err)
			}
			raw = buf.Bytes()
		}
		frames = append(frames, frame(net, raw)...)
	}
	d.Close()
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), frames, 0o644); err != nil {
		t.Fatal(err)
	}
	want := build(t, net, t.TempDir(), src, index.IngestOptions{Mode: index.ModeBlocks, StopAfter: bad})
	ix, err := index.Open(t.TempDir(), net, index.Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	_, err = ix.IngestBlkDir(context.Background(), dir, index.IngestOptions{Mode: index.ModeBulk})
	if !errors.Is(err, index.ErrCorrupt) {
		t.Fatalf("ingest of a chain with a bad block: %v, want index.ErrCorrupt", err)
	}
	got := digestOf(t, ix)
	if got != want {
		t.Fatalf("after the bad block: tip %d %s, want tip %d %s (err %v)", got.tip.Height, got.digest, want.tip.Height, want.digest, err)
	}
}

func frame(net chain.Network, raw []byte) []byte {
	var h [8]byte
	m := uint32(net.Params.Net)
	h[0], h[1], h[2], h[3] = byte(m), byte(m>>8), byte(m>>16), byte(m>>24)
	n := uint32(len(raw))
	h[4], h[5], h[6], h[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return append(h[:], raw...)
}

// TestBulkKilledResumes kills a bulk build (a real subprocess, SIGKILL from
// a failpoint) in every phase — mid forward pass, after each phase, inside
// the address and output passes, between the renames of the install and
// after its commit — and checks that the next run finishes to the digest of
// an uninterrupted build, with verify clean.
func TestBulkKilledResumes(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	const mem = 1 << 20 // small: many partitions and ranges to die in
	want := build(t, net, t.TempDir(), blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	points := []string{"bulk-block:1", "bulk-block:57", "bulk-phase:1", "bulk-part:3", "bulk-phase:2", "bulk-phase:3",
		"bulk-range:2", "bulk-range-written:2", "bulk-phase:4", "bulk-rename:1", "bulk-rename:5", "bulk-installed:1"}
	for _, fp := range points {
		t.Run(fp, func(t *testing.T) {
			data := t.TempDir()
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "BULK_CHILD=1", "BULK_NET=regtest", "BULK_DATA="+data, "BULK_BLOCKS="+blocks,
				"BULK_MEM="+strconv.Itoa(mem), "COINTRAIL_FAILPOINT="+fp)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Fatalf("child was not killed at %s: %v\n%s", fp, err, out)
			}
			got := build(t, net, data, blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem})
			if got != want {
				t.Fatalf("killed at %s, resumed: %s (tip %d), want %s (tip %d)", fp, got.digest, got.tip.Height, want.digest, want.tip.Height)
			}
			if _, err := os.Stat(filepath.Join(data, "regtest", "bulk")); !os.IsNotExist(err) {
				t.Fatalf("the bulk directory is left after the build: %v", err)
			}
		})
	}
}

func mainnetNet(t testing.TB) chain.Network {
	n, err := chain.NetworkByName("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBulkKilledAtRandom SIGKILLs a real bulk build from outside at random
// moments, restarting it each time, until a run completes; the result has the
// uninterrupted build's digest.
func TestBulkKilledAtRandom(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	const mem = 1 << 20
	want := build(t, net, t.TempDir(), blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 9))
	kills := 0
	for run := 0; ; run++ {
		if run == 40 {
			t.Fatalf("no run completed in 40 tries (%d killed)", kills)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "BULK_CHILD=1", "BULK_NET=regtest", "BULK_DATA="+data, "BULK_BLOCKS="+blocks, "BULK_MEM="+strconv.Itoa(mem))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Early runs die young; the delay grows so that some run gets through.
		delay := time.Duration(20+rng.IntN(100+run*150)) * time.Millisecond
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d after %d kills: %v\n%s", run, kills, err, stderr.Bytes())
			}
			got := build(t, net, data, blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem})
			if got != want {
				t.Fatalf("after %d kills: %s, want %s", kills, got.digest, want.digest)
			}
			t.Logf("completed after %d kills", kills)
			return
		case <-time.After(delay):
			cmd.Process.Kill()
			<-done
			kills++
		}
	}
}
