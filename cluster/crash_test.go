package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
)

var crashOpts = Options{Change: ClientChange | OptimalChange}

func openRegtest(t testing.TB, data string) *index.Index {
	t.Helper()
	net, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(data, net, index.Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestKillChild is the child process of the kill tests: with
// COINTRAIL_CLUSTER_CHILD=build|update it opens the index under
// COINTRAIL_CLUSTER_DATA and runs that, with small commits, until the
// failpoint COINTRAIL_FAILPOINT kills it. Run directly it is skipped.
func TestKillChild(t *testing.T) {
	mode := os.Getenv("COINTRAIL_CLUSTER_CHILD")
	if mode == "" {
		t.Skip("the child process of TestKilledBuild and TestKilledUpdate")
	}
	commitOps = 200
	if mode == "update" {
		commitOps = 20
	}
	ix := openRegtest(t, os.Getenv("COINTRAIL_CLUSTER_DATA"))
	defer ix.Close()
	var err error
	if mode == "build" {
		_, err = Build(context.Background(), ix, crashOpts, testchain.Log(t))
	} else {
		_, err = Update(context.Background(), ix, crashOpts, testchain.Log(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	// Finishing means the failpoint was never reached; the parent fails.
}

// runKilled runs TestKillChild in a subprocess and checks it died of SIGKILL
// at the failpoint.
func runKilled(t *testing.T, data, mode, point string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "COINTRAIL_CLUSTER_CHILD="+mode, "COINTRAIL_CLUSTER_DATA="+data, "COINTRAIL_FAILPOINT="+point)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("%s killed at %s: exit %v, want SIGKILL\n%s", mode, point, err, out)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s killed at %s: %v, want SIGKILL\n%s", mode, point, err, out)
	}
}

// simData ingests the first stop blocks of the simulated heist (0: all) into
// a data directory of its own and returns it with the blocks directory.
func simData(t *testing.T, stop int) (data, blocks string, ix *index.Index) {
	t.Helper()
	dir, _ := testchain.DMM(t)
	blocks = filepath.Join(dir, "blocks")
	data = t.TempDir()
	ix = openRegtest(t, data)
	if _, err := ix.IngestBlkDir(context.Background(), blocks, index.IngestOptions{StopAfter: stop}); err != nil {
		ix.Close()
		t.Fatal(err)
	}
	return data, blocks, ix
}

func digestOf(t *testing.T, ix *index.Index) [32]byte {
	t.Helper()
	d, err := Digest(context.Background(), ix)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestKilledBuild: a build killed while it computes keeps the previous
// clustering, row for row; one killed while it writes its rows (after any
// batch, or just before the last) is never served: every reader says the
// clustering is incomplete, until a build finishes.
func TestKilledBuild(t *testing.T) {
	ctx := context.Background()
	data, blocks, ix := simData(t, 300)
	if _, err := Build(ctx, ix, crashOpts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	rows0, d0 := dumpRows(t, ix), digestOf(t, ix)
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	tip := ix.Tip().Height
	ix.Close()

	runKilled(t, data, "build", "cluster-block:400")
	ix = openRegtest(t, data)
	if rows := dumpRows(t, ix); !slices.Equal(rows, rows0) {
		t.Fatalf("a build killed in its first phase changed the stored clustering: %s", firstDiff(rows0, rows))
	}
	if d := digestOf(t, ix); d != d0 {
		t.Fatalf("digest %x after the kill, %x before", d, d0)
	}
	if s, err := Status(ix); err != nil || s.Tip.Height != 299 {
		t.Fatalf("status after a killed build: %+v, %v", s, err)
	}
	ix.Close()

	const want = "cluster: clustering incomplete: a cluster build was interrupted before it wrote all its rows; run `cointrail cluster build`"
	for _, point := range []string{"cluster-wipe:1", "cluster-rows:1", "cluster-rows:40", "cluster-tip:1"} {
		runKilled(t, data, "build", point)
		ix = openRegtest(t, data)
		for name, run := range map[string]func() error{
			"open":    func() error { _, err := Open(ix); return err },
			"entity":  func() error { _, err := Entity(ix, "1", 0, 10); return err },
			"status":  func() error { _, err := Status(ix); return err },
			"update":  func() error { _, err := Update(ctx, ix, crashOpts, nil); return err },
			"digest":  func() error { _, err := Digest(ctx, ix); return err },
			"cluster": func() error { _, err := ClusterOf(ix, 1); return err },
		} {
			err := run()
			if err == nil || err.Error() != want || !errors.Is(err, ErrIncomplete) || !errors.Is(err, ErrRebuild) {
				t.Fatalf("killed at %s, %s: %v", point, name, err)
			}
		}
		ix.Close()
	}

	ix = openRegtest(t, data)
	defer ix.Close()
	st, err := Build(ctx, ix, crashOpts, testchain.Log(t))
	if err != nil || st.Height != int64(tip) {
		t.Fatalf("build after the kills: %+v, %v", st, err)
	}
	checkAgainst(t, ix, reference(t, ix, crashOpts))
	if d := digestOf(t, ix); d == d0 {
		t.Fatal("the clustering of the whole chain has the digest of its first 300 blocks")
	}
}

// TestKilledUpdate: an update killed before one of its commits leaves the
// clustering of the last commit — complete as of a block between the
// previous tip and the index tip — and the next update finishes it with
// the rows and digest of one build.
func TestKilledUpdate(t *testing.T) {
	ctx := context.Background()
	data, blocks, ix := simData(t, 300)
	if _, err := Build(ctx, ix, crashOpts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	tip := ix.Tip().Height
	ix.Close()

	runKilled(t, data, "update", "cluster-commit:6")
	ix = openRegtest(t, data)
	defer ix.Close()
	s, err := Status(ix)
	if err != nil || s.Tip.Height <= 299 || s.Tip.Height >= int64(tip) {
		t.Fatalf("status after a killed update: %+v, %v (index tip %d)", s, err, tip)
	}
	if _, err := Digest(ctx, ix); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(ctx, ix, crashOpts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	rows, d := dumpRows(t, ix), digestOf(t, ix)
	if _, err := Build(ctx, ix, crashOpts, testchain.Log(t)); err != nil {
		t.Fatal(err)
	}
	if full := dumpRows(t, ix); !slices.Equal(full, rows) {
		t.Fatalf("update after a kill differs from a build: %s", firstDiff(rows, full))
	}
	if full := digestOf(t, ix); full != d {
		t.Fatalf("digest %x after update, %x after build", d, full)
	}
}

// TestDigest: the digest is the same for a build and a build plus updates,
// ignores the supercluster size, and changes with any row.
func TestDigest(t *testing.T) {
	ctx := context.Background()
	_, blocks, ix := simData(t, 300)
	defer ix.Close()
	if _, err := Digest(ctx, ix); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("digest before a build: %v", err)
	}
	if _, err := Build(ctx, ix, crashOpts, nil); err != nil {
		t.Fatal(err)
	}
	part := digestOf(t, ix)
	if _, err := ix.IngestBlkDir(ctx, blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(ctx, ix, Options{Change: crashOpts.Change, SuperclusterSize: 3}, nil); err != nil {
		t.Fatal(err)
	}
	updated := digestOf(t, ix)
	if _, err := Build(ctx, ix, crashOpts, nil); err != nil {
		t.Fatal(err)
	}
	if built := digestOf(t, ix); built != updated || built == part {
		t.Fatalf("digests: first 300 blocks %x, updated %x, built %x", part, updated, built)
	}
	// Every kind of row is covered: change one row of each, the digest moves.
	rows := dumpRows(t, ix)
	for _, kind := range []byte{kAddr, kMember, kAgg, kRetired, kJoined, kTip, kOptions} {
		var key, val []byte
		for _, r := range rows {
			if r[2:4] == hex.EncodeToString([]byte{kind}) {
				key, val = hexRow(t, r)
				break
			}
		}
		if key == nil {
			t.Fatalf("no row of kind %c", kind)
		}
		b := ix.Store.NewBatch()
		switch kind {
		case kMember, kJoined: // empty values: move the row to another key
			b.Delete(key)
			k2 := slices.Clone(key)
			k2[len(k2)-1] ^= 1
			b.Set(k2, nil)
		case kOptions:
			v2 := slices.Clone(val)
			v2[1]++ // power-of-ten digits
			b.Set(key, v2)
		default:
			v2 := slices.Clone(val)
			v2[len(v2)-1] ^= 1
			b.Set(key, v2)
		}
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if d, err := Digest(ctx, ix); err == nil && d == updated {
			t.Fatalf("changing a %c row left the digest", kind)
		}
		b = ix.Store.NewBatch()
		if kind == kMember || kind == kJoined {
			k2 := slices.Clone(key)
			k2[len(k2)-1] ^= 1
			b.Delete(k2)
		}
		b.Set(key, val)
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if d := digestOf(t, ix); d != updated {
			t.Fatalf("restoring the %c row: digest %x, want %x", kind, d, updated)
		}
	}
}

// hexRow parses a dumpRows line.
func hexRow(t *testing.T, row string) (key, val []byte) {
	t.Helper()
	k, v, _ := strings.Cut(row, "=")
	key, err := hex.DecodeString(k)
	if err != nil {
		t.Fatal(err)
	}
	if val, err = hex.DecodeString(v); err != nil {
		t.Fatal(err)
	}
	return key, val
}
