package index_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/rodir"
	"github.com/cointrail/cointrail/internal/shareddata"
	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/kv"
)

// queries runs what the query commands ask of an index — status, a
// transaction, an address, a block, the digest, verify — and returns the
// answers as one JSON text to compare. The size on disk is left out: it
// counts the store's files, which a writable open rewrites.
func queries(t *testing.T, ix *index.Index) string {
	t.Helper()
	s := ix.Status()
	s.DiskBytes = 0
	h, err := index.ParseTxID("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16") // block 170, Satoshi to Hal Finney
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ix.FindTx(h)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := ix.Tx(tx)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := ix.ParseAddr("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
	if err != nil {
		t.Fatal(err)
	}
	av, err := ix.Address(id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	bv, err := ix.Block(170)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ix.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ix.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]any{s, tv, av, bv, d, r})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadOnlyDataDir: an index on a read-only mount, or with its write
// bits removed (`chmod -R a-w`), opens read-only and answers every query as
// the writable index does, without changing a byte, a size or a time of any
// of its files; the write paths fail with ErrReadOnly, and a writing open
// fails with one line naming the directory.
func TestReadOnlyDataDir(t *testing.T) {
	net := mainnetNet(t)
	data := t.TempDir()
	ix, err := index.Open(data, net, index.Options{}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shareddata.BlocksDir(t, "blk00000-heights-0-4312.dat")
	if _, err := ix.IngestBlkDir(context.Background(), blocks, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want := queries(t, ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	for _, c := range []struct {
		name string
		view func(testing.TB, string) string
		why  string // why the index is not writable
	}{
		{"mount", rodir.Mount, map[bool]string{true: "read-only file system", false: "permission denied"}[root]},
		{"chmod", rodir.Chmod, map[bool]string{true: "no write permission bits", false: "permission denied"}[root]},
	} {
		t.Run(c.name, func(t *testing.T) {
			view := c.view(t, data)
			before := rodir.Record(t, view)
			wantErr := "index: read-only: the index in " + filepath.Join(view, "mainnet") + " is not writable (" + c.why +
				"); this command writes to it (queries open a read-only index as it is)"
			if _, err := index.Open(view, net, index.Options{}, nil); !errors.Is(err, index.ErrReadOnly) || err.Error() != wantErr {
				t.Fatalf("a writing open: %v\nwant %s", err, wantErr)
			}
			ro, err := index.Open(view, net, index.Options{ReadOnly: true}, testchain.Log(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := queries(t, ro); got != want {
				t.Errorf("read-only answers differ:\n got %s\nwant %s", got, want)
			}
			if _, err := ro.IngestBlkDir(context.Background(), blocks, index.IngestOptions{}); !errors.Is(err, index.ErrReadOnly) {
				t.Errorf("ingest into a read-only index: %v", err)
			}
			if err := ro.Rollback(100); !errors.Is(err, index.ErrReadOnly) {
				t.Errorf("rollback of a read-only index: %v", err)
			}
			b := ro.Store.NewBatch()
			b.Set([]byte("Mx"), nil)
			if err := b.Commit(true); !errors.Is(err, kv.ErrStore) {
				t.Errorf("a store write through a read-only index: %v", err)
			}
			b.Close()
			if err := ro.Close(); err != nil {
				t.Fatal(err)
			}
			if d := before.Diff(rodir.Record(t, view)); len(d) > 0 {
				t.Fatalf("querying the read-only index changed its files:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// TestReadOnlyRefusesUnrecovered: an index left by an ingest killed
// after a batch wrote its spent marks and address heads into committed
// records but before the batch committed (failpoint marks; a kill earlier
// in the batch leaves no such change, see SCHEMA.md) is not served read-only — the recovery would have to write —
// and the refusal writes nothing; once a writable open has recovered it,
// the read-only open serves it with the writable digest.
func TestReadOnlyRefusesUnrecovered(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "BULK_CHILD=1", "BULK_NET=regtest", "BULK_DATA="+data, "BULK_BLOCKS="+blocks,
		"BULK_MODE=blocks", "BULK_BATCH=262144", "COINTRAIL_FAILPOINT=marks:5")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	view := rodir.Mount(t, data)
	before := rodir.Record(t, view)
	wantErr := "index: read-only: the index in " + filepath.Join(view, "regtest") +
		" was left by an interrupted ingest or rollback, and its recovery writes: run `cointrail status` on it once where it is writable (remount it read-write, or copy it)"
	if ix, err := index.Open(view, net, index.Options{ReadOnly: true}, nil); err == nil || err.Error() != wantErr {
		if ix != nil {
			ix.Close()
		}
		t.Fatalf("read-only open of an unrecovered index: %v\nwant %s", err, wantErr)
	}
	if d := before.Diff(rodir.Record(t, view)); len(d) > 0 {
		t.Fatalf("the refused open changed files:\n%s", strings.Join(d, "\n"))
	}
	writable := openDigest(t, data, net, index.Options{})
	if writable.tip.Height == 0 {
		t.Fatal("the killed ingest committed nothing: the test proves less than it claims")
	}
	if got := openDigest(t, view, net, index.Options{ReadOnly: true}); got != writable {
		t.Fatalf("read-only after recovery: %s (tip %d), writable %s (tip %d)", got.digest, got.tip.Height, writable.digest, writable.tip.Height)
	}
}

func openDigest(t *testing.T, data string, net chain.Network, opt index.Options) built {
	t.Helper()
	ix, err := index.Open(data, net, opt, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	return digestOf(t, ix)
}
