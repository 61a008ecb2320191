package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/sim"
)

// rebuildChain has ~40k transactions and ~90k addresses: the address table
// doubles twice and the txid table once on the way (three rebuilds).
var rebuildChain = sim.Config{Seed: 11, Txs: 40000, Fast: true, TxsPerBlock: 400}

func regtestNet(t testing.TB) chain.Network {
	n, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTableRebuildKilled kills ingest (a real subprocess, SIGKILL from a
// failpoint) inside a hash-table rebuild — half the new table filled, the
// new file synced, renamed over the old one, the directory synced — of the
// first and of the third rebuild, and checks that the reopened index has no
// leftover new file, verifies, finds every tx and address under its own id,
// and resumes to the digest of an uninterrupted build.
func TestTableRebuildKilled(t *testing.T) {
	if os.Getenv("TABLE_CHILD") != "" {
		tableChild(t)
		return
	}
	dir := t.TempDir()
	if _, err := sim.WriteDir(context.Background(), rebuildChain, dir, nil); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(dir, "blocks")
	net := regtestNet(t)
	opt := IngestOptions{Mode: ModeBlocks, BatchBytes: 64 << 10}

	ref := t.TempDir()
	want, rebuilds := func() (string, int) {
		ix, err := Open(ref, net, Options{}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		if _, err := ix.IngestBlkDir(context.Background(), blocks, opt); err != nil {
			t.Fatal(err)
		}
		d, err := ix.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d, tableDoublings(ix.txTable) + tableDoublings(ix.addrTable)
	}()
	if rebuilds < 3 {
		t.Fatalf("the chain makes %d table rebuilds, the test needs 3", rebuilds)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, point := range []string{"table-half", "table-synced", "table-renamed", "table-rebuilt"} {
		for _, n := range []int{1, 3} {
			fp := fmt.Sprintf("%s:%d", point, n)
			t.Run(fp, func(t *testing.T) {
				data := t.TempDir()
				cmd := exec.Command(exe, "-test.run=^TestTableRebuildKilled$")
				cmd.Env = append(os.Environ(), "TABLE_CHILD=1", "TABLE_DATA="+data, "TABLE_BLOCKS="+blocks, "COINTRAIL_FAILPOINT="+fp)
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("child was not killed at %s: %v\n%s", fp, err, out)
				}
				graph := filepath.Join(Dir(data, net), "graph")
				left, _ := filepath.Glob(filepath.Join(graph, "*.table"+rebuildSuffix))
				if beforeRename := point == "table-half" || point == "table-synced"; beforeRename != (len(left) == 1) {
					t.Fatalf("killed at %s: rebuild files left %v", fp, left)
				}

				ix, err := Open(data, net, Options{}, quiet())
				if err != nil {
					t.Fatalf("open after a kill at %s: %v", fp, err)
				}
				defer ix.Close()
				if left, _ := filepath.Glob(filepath.Join(graph, "*"+rebuildSuffix)); len(left) != 0 {
					t.Fatalf("open left %v", left)
				}
				if _, err := ix.Verify(context.Background()); err != nil {
					t.Fatalf("verify after a kill at %s: %v", fp, err)
				}
				checkTablesFindAll(t, ix)
				if _, err := ix.IngestBlkDir(context.Background(), blocks, opt); err != nil {
					t.Fatalf("resume after a kill at %s: %v", fp, err)
				}
				if _, err := ix.Verify(context.Background()); err != nil {
					t.Fatalf("verify after resuming from a kill at %s: %v", fp, err)
				}
				checkTablesFindAll(t, ix)
				if got, err := ix.Digest(); err != nil || got != want {
					t.Fatalf("killed at %s, resumed: digest %s (%v), uninterrupted %s", fp, got, err, want)
				}
			})
		}
	}
}

// tableChild is the subprocess TestTableRebuildKilled kills: one
// block-by-block ingest in small batches.
func tableChild(t *testing.T) {
	ix, err := Open(os.Getenv("TABLE_DATA"), regtestNet(t), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.IngestBlkDir(context.Background(), os.Getenv("TABLE_BLOCKS"), IngestOptions{Mode: ModeBlocks, BatchBytes: 64 << 10}); err != nil {
		t.Fatal(err)
	}
}

// checkTablesFindAll looks every committed tx and address up in the tables
// and wants its own id back.
func checkTablesFindAll(t *testing.T, ix *Index) {
	t.Helper()
	nTx, _, _, nAddr := ix.Tip().Counts()
	for tx := uint32(0); tx < nTx; tx++ {
		h := chainhash.Hash(ix.TxHash(tx))
		if got, ok := ix.findTx(&h, nTx); !ok || got != tx {
			t.Fatalf("the txid table finds tx %d (%s) as %d, %v", tx, h, got, ok)
		}
	}
	for id := uint32(1); id <= nAddr; id++ {
		if got, ok := ix.findAddr(ix.addrKeyAt(id), nAddr); !ok || got != id {
			t.Fatalf("the address table finds address %d as %d, %v", id, got, ok)
		}
	}
	if nTx == 0 {
		t.Fatal("nothing committed: the check proved nothing")
	}
}

// tableDoublings is how often t doubled from the minimum size.
func tableDoublings(t *hashTable) int {
	d := 0
	for s := t.col.n; s > minTableSlots; s /= 2 {
		d++
	}
	return d
}

// TestOpenHashTableRemovesRebuildLeftover: a rebuild's file that a kill left
// before its rename is removed at open, and the table is untouched.
func TestOpenHashTableRemovesRebuildLeftover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.table")
	tb, err := openHashTable(path)
	if err != nil {
		t.Fatal(err)
	}
	tb.insert(12345<<32|7, 41)
	if err := tb.close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+rebuildSuffix, []byte("half a table"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err = openHashTable(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.close()
	if _, err := os.Stat(path + rebuildSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover after open: %v", err)
	}
	var ids []uint32
	tb.probe(12345<<32|7, func(id uint32) bool { ids = append(ids, id); return false })
	if tb.used != 1 || len(ids) != 1 || ids[0] != 41 {
		t.Fatalf("table after open: used %d, probe %v", tb.used, ids)
	}
}

// TestHashTableRebuild: a rebuild doubles the capacity (more while the ids
// need it), holds exactly the ids given, and replaces the file.
func TestHashTableRebuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.table")
	tb, err := openHashTable(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { tb.close() }()
	hash := func(id uint32) uint64 { return uint64(id) * 0x9E3779B97F4A7C15 }
	tb.insert(hash(999_999), 999_999) // a leftover the rebuild drops
	const n = 3 * minTableSlots / 2
	if err := tb.rebuild(1, n, hash); err != nil {
		t.Fatal(err)
	}
	if tb.col.n != 4*minTableSlots || tb.used != n {
		t.Fatalf("after rebuild: %d slots, %d used; want %d, %d", tb.col.n, tb.used, 4*minTableSlots, n)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 4*minTableSlots*slotSize {
		t.Fatalf("table file: %v, %v", fi, err)
	}
	if _, err := os.Stat(path + rebuildSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rebuild file left: %v", err)
	}
	for id := uint32(1); id <= n; id++ {
		found := 0
		tb.probe(hash(id), func(got uint32) bool {
			if got == id {
				found++
			}
			return false
		})
		if found != 1 {
			t.Fatalf("id %d found %d times", id, found)
		}
	}
	tb.probe(hash(999_999), func(got uint32) bool {
		if got == 999_999 {
			t.Fatal("the leftover survived the rebuild")
		}
		return false
	})
}

// TestProbeFullTable: a lookup in a corrupt table with no empty slot ends.
func TestProbeFullTable(t *testing.T) {
	dir := t.TempDir()
	tb, err := openHashTable(dir + "/t.table")
	if err != nil {
		t.Fatal(err)
	}
	defer tb.close()
	for i := uint64(0); i < tb.col.n; i++ {
		binary.LittleEndian.PutUint64(tb.col.data[i*slotSize:], 1) // id 0, fingerprint 0
	}
	calls := 0
	tb.probe(0xffffffff00000005, func(uint32) bool { calls++; return false })
	if calls != 0 {
		t.Fatalf("%d matches of a fingerprint no slot has", calls)
	}
	tb.probe(5, func(uint32) bool { calls++; return false })
	if uint64(calls) != tb.col.n {
		t.Fatalf("%d candidates in a full table of %d", calls, tb.col.n)
	}
}
