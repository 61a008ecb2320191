package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/taint"
)

// mainnetIndex ingests the first 4,313 real mainnet blocks into a fresh data dir.
func mainnetIndex(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	mustRun(t, "ingest", "--data", data, "--blocks", mainnetBlocks(t))
	return data
}

const hal = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"

// TestBadInput: every kind of bad input gets one clear line naming what is
// wrong, and a non-zero exit (2 for a wrong command line).
func TestBadInput(t *testing.T) {
	data := mainnetIndex(t)
	digest := mustRun(t, "index", "digest", "--data", data)
	garbage := filepath.Join(t.TempDir(), "blocks")
	os.MkdirAll(garbage, 0o755)
	os.WriteFile(filepath.Join(garbage, "blk00000.dat"), []byte("this is not a block file at all"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tx", "--data", data, "abc"}, 2, `cointrail tx: index: bad input: "abc" is not a txid (want 64 hex digits)`},
		{[]string{"tx", "--data", data, strings.Repeat("0", 64)}, 1, "cointrail tx: index: not found: transaction 0000000000000000000000000000000000000000000000000000000000000000 is not in the index (tip 4312)"},
		{[]string{"tx", "--data", data}, 2, "cointrail tx: want one TXID"},
		{[]string{"address", "--data", data, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"}, 2, `cointrail address: index: bad input: chain: wrong network: address "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" is a testnet address, the index is mainnet`},
		{[]string{"address", "--data", data, "--limit", "0", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"}, 1, "cointrail address: index: bad input: page size 0 (want 1..10000)"},
		{[]string{"block", "--data", data, "99999"}, 1, "cointrail block: index: not found: no block at height 99999 (tip 4312)"},
		{[]string{"status", "--data", data, "--network", "foo"}, 2, `cointrail status: chain: bad input: unknown network "foo" (want mainnet, testnet, signet or regtest)`},
		{[]string{"ingest", "--data", data, "--rpc", "http://127.0.0.1:1"}, 1, "cointrail ingest: chain: node error: http://127.0.0.1:1 getblockchaininfo: connection refused"},
		{[]string{"ingest", "--data", data, "--network", "testnet", "--blocks", mainnetBlocks(t)}, 1, "cointrail ingest: chain: wrong network: blk00000.dat:0: mainnet block (magic f9beb4d9), want testnet (magic 0b110907)"},
		{[]string{"ingest", "--data", data, "--blocks", garbage}, 1, "cointrail ingest: chain: corrupt data: blk00000.dat:0: no network magic (found 74686973, want mainnet magic f9beb4d9)"},
		{[]string{"ingest", "--data", data}, 2, "cointrail ingest: give exactly one of --blocks DIR or --rpc URL"},
		{[]string{"trace", "--data", data, "--model", "foo", "--from", hal}, 2, `cointrail trace: taint: bad parameters: unknown model "foo" (valid: poison, haircut, fifo, lifo, tiho)`},
		{[]string{"trace", "--data", data, "--from", hal + ":7"}, 1, "cointrail trace: index: not found: transaction " + hal + " has 2 outputs, no output 7"},
		{[]string{"trace", "--data", data, "--max-txs", "2", "--from", hal + ":1"}, 1, `cointrail trace: taint: limit reached: haircut stopped after --max-txs 2 transactions; the result written is partial (summary.truncated, outputs not followed have stop "limit"): raise it (--max-txs 4) or bound the trace (--max-hops N, --min-sats S, --to-height H)`},
		{[]string{"trace", "--data", data, "--from", hal + ":1@999999999999"}, 2, `cointrail trace: index: bad input: seed "` + hal + `:1@999999999999": amount 999999999999 sat exceeds the seed's value`},
		{[]string{"nosuchcommand"}, 2, ""},
	}
	for _, c := range cases {
		_, stderr, err := run(t, nil, c.args...)
		code := 0
		if err != nil {
			code = err.(interface{ ExitCode() int }).ExitCode()
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if strings.HasPrefix(l, "cointrail ") {
				lines = append(lines, l)
			}
		}
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
		}
		if c.want != "" && (len(lines) != 1 || lines[0] != c.want) {
			t.Errorf("%v:\n got %q\nwant %q", c.args, lines, c.want)
		}
	}
	if got := mustRun(t, "index", "digest", "--data", data); got != digest {
		t.Fatal("bad input changed the index")
	}
}

// TestTraceDeterministic: the same index and parameters give byte-identical
// output in every format, and the JSON carries a valid result_sha256.
func TestTraceDeterministic(t *testing.T) {
	data := mainnetIndex(t)
	// The report's cover carries its generation time; SOURCE_DATE_EPOCH
	// pins it so that a re-run writes the same bytes.
	t.Setenv("SOURCE_DATE_EPOCH", "1716508800")
	for _, format := range []string{"json", "csv", "graphml", "html", "text"} {
		args := []string{"trace", "--data", data, "--model", "haircut,fifo,lifo,tiho,poison", "--max-hops", "6", "--format", format, "--from", hal + ":1"}
		a, b := mustRun(t, args...), mustRun(t, args...)
		if a != b || len(a) < 100 {
			t.Fatalf("format %s: outputs differ or are empty (%d bytes)", format, len(a))
		}
		if format == "html" && !strings.Contains(a, "2024-05-24T00:00:00Z") {
			t.Fatal("html: the cover does not show SOURCE_DATE_EPOCH's time")
		}
	}
	out := mustRun(t, "trace", "--data", data, "--model", "fifo", "--max-hops", "6", "--format", "json", "--from", hal+":1")
	if err := taint.VerifyJSON([]byte(strings.TrimSpace(out))); err != nil {
		t.Fatal(err)
	}
	var r struct {
		TipHeight uint32 `json:"tip_height"`
		Model     string `json:"model"`
		Summary   struct {
			TracedSat  int64 `json:"traced_sat"`
			UnspentSat int64 `json:"unspent_sat"`
			FeeSat     int64 `json:"fee_sat"`
			StoppedSat int64 `json:"stopped_sat"`
			DustSat    int64 `json:"dust_sat"`
		} `json:"summary"`
		Outputs []struct {
			TxID  string `json:"txid"`
			Spent bool   `json:"spent"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	s := r.Summary
	if r.TipHeight != 4312 || r.Model != "fifo" || s.TracedSat != 40_00000000 || s.UnspentSat+s.FeeSat+s.StoppedSat+s.DustSat != s.TracedSat || len(r.Outputs) == 0 {
		t.Fatalf("trace result %+v", r)
	}
}

// TestCorruptBlockKeepsGoodPrefix: a block that does not decode stops
// ingest with an error naming its file and offset; every block before it is
// indexed and verifies, and the bad block is not.
func TestCorruptBlockKeepsGoodPrefix(t *testing.T) {
	raw, err := os.ReadFile(sharedData(t, "btc", "mainnet", "blk00000-heights-0-4312.dat"))
	if err != nil {
		t.Fatal(err)
	}
	// Find the frame of the 2001st block (height 2000: the file is in height order).
	off := 0
	for i := 0; i < 2000; i++ {
		off += 8 + int(uint32(raw[off+4])|uint32(raw[off+5])<<8|uint32(raw[off+6])<<16|uint32(raw[off+7])<<24)
	}
	bad := append([]byte(nil), raw...)
	copy(bad[off+8+80:], []byte{0xfd, 0xff, 0xff}) // 65,535 transactions that are not there
	dir := filepath.Join(t.TempDir(), "blocks")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	_, stderr, err := run(t, nil, "ingest", "--data", data, "--blocks", dir)
	if err == nil {
		t.Fatal("ingest of a corrupt block succeeded")
	}
	want := "blk00000.dat:" + strconv.Itoa(off)
	if !strings.Contains(stderr, "cointrail ingest: index: corrupt data: block at "+want) {
		t.Fatalf("error does not name %s: %s", want, stderr)
	}
	var st struct {
		TipHeight int64 `json:"tip_height"`
	}
	json.Unmarshal([]byte(mustRun(t, "status", "--data", data, "--json")), &st)
	if st.TipHeight != 1999 {
		t.Fatalf("tip after the corrupt block: %d, want 1999", st.TipHeight)
	}
	mustRun(t, "index", "verify", "--data", data)
}
