package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
)

// overwrite puts the little-endian value v of size bytes at byte off of a
// column file of the mainnet index in data.
func overwrite(t *testing.T, data, file string, off int64, v uint64, size int) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(data, "mainnet", "graph", file), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := f.WriteAt(b[:size], off); err != nil {
		t.Fatal(err)
	}
}

// failsWith runs cointrail and wants exit 1 and exactly one line on
// stderr — no Go panic or stack trace — equal to want (or, with a trailing
// "…", starting with it).
func failsWith(t *testing.T, want string, args ...string) {
	t.Helper()
	stdout, stderr, err := run(t, nil, args...)
	code := 0
	if err != nil {
		code = err.(interface{ ExitCode() int }).ExitCode()
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	prefix, ok := strings.CutSuffix(want, "…")
	match := lines[0] == want || ok && strings.HasPrefix(lines[0], prefix)
	if code != 1 || len(lines) != 1 || !match || strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("cointrail %s: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and the one line\n%s", strings.Join(args, " "), code, stdout, stderr, want)
	}
}

// TestCorruptIndex: on a real index with a spent mark pointing past the
// tip (the damage of issue 10, where `tx` and `trace` panicked), every
// query on the transaction fails with one line naming the record and what
// to run; a tail record out of range is refused at open, and `index
// rollback` below it repairs the index.
func TestCorruptIndex(t *testing.T) {
	data := mainnetIndex(t)
	net, err := chain.NetworkByName("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(data, net, index.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := index.ParseTxID(hal)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ix.FindTx(h)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := ix.TxOutputs(tx)
	spentBy := ix.OutSpender(out)
	tip := ix.Tip()
	nTx, nOut, _, _ := tip.Counts()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// Output 0 of Satoshi's payment to Hal Finney "spent" by a tx beyond the tip.
	bad := nTx + 815
	overwrite(t, data, "outs.col", int64(out)*24+12, uint64(bad), 4)
	hint := " (run 'cointrail index verify'; repair with 'cointrail index rollback N' or rebuild)"
	spender := fmt.Sprintf("index: corrupt data: outs.col record %d: spender tx %d beyond the %d committed txs", out, bad, nTx) + hint
	failsWith(t, "cointrail tx: "+spender, "tx", "--data", data, hal)
	failsWith(t, "cointrail tx: "+spender, "tx", "--data", data, "--json", hal)
	failsWith(t, "cointrail trace: model haircut: "+spender, "trace", "--data", data, "--from", hal+":0")
	failsWith(t, "cointrail trace: model haircut: "+spender, "trace", "--data", data, "--model", "haircut", "--format", "json", "-o", filepath.Join(t.TempDir(), "t.json"), "--from", hal+":0")
	failsWith(t, "cointrail index verify: "+spender, "index", "verify", "--data", data)
	mustRun(t, "status", "--data", data) // a record in the middle: only verify and the queries meeting it can tell
	overwrite(t, data, "outs.col", int64(out)*24+12, uint64(spentBy), 4)
	if got := mustRun(t, "index", "verify", "--data", data); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("verify after putting the record back: %q", got)
	}
	mustRun(t, "tx", "--data", data, hal)

	// The last tx's first output beyond the outputs: refused at open.
	overwrite(t, data, "txs.col", int64(nTx-1)*24, nOut+5, 8)
	tail := fmt.Sprintf("index: corrupt data: txs.col record %d: first output %d beyond the %d committed outputs", nTx-1, nOut+5, nOut) + hint
	failsWith(t, "cointrail status: "+tail, "status", "--data", data)
	failsWith(t, "cointrail tx: "+tail, "tx", "--data", data, hal)
	failsWith(t, "cointrail index verify: "+tail, "index", "verify", "--data", data)
	if got := mustRun(t, "index", "rollback", "--data", data, fmt.Sprint(tip.Height-1)); got != fmt.Sprintf("rolled back from %d to %d\n", tip.Height, tip.Height-1) {
		t.Fatalf("rollback: %q", got)
	}
	if got := mustRun(t, "index", "verify", "--data", data); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("verify after rollback: %q", got)
	}
	mustRun(t, "tx", "--data", data, hal)
}
