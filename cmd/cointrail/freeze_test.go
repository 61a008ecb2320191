package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFreezeAndSeizable: on real mainnet blocks with two addresses on the
// path of Hal Finney's coins labelled as an exchange, `--format freeze`
// lists exactly the trace's arrivals, one row per deposit, sorted by time,
// with the UTC time of each block as `cointrail block` reports it;
// `--format seizable` lists exactly its unspent tainted outputs, largest
// first. The JSON variants hold the same rows.
func TestFreezeAndSeizable(t *testing.T) {
	data := mainnetIndex(t)
	seed := hal + ":1"
	type out struct {
		TxID     string `json:"txid"`
		Vout     uint32 `json:"vout"`
		Address  string `json:"address"`
		TaintSat int64  `json:"taint_sat"`
		Hops     int    `json:"hops"`
		Spent    bool   `json:"spent"`
		Stop     string `json:"stop"`
		Label    string `json:"label"`
		Height   uint32 `json:"height"`
		Time     string `json:"time"`
	}
	trace := func() []out {
		var r struct{ Outputs []out }
		if err := json.Unmarshal([]byte(mustRun(t, "trace", "--data", data, "--format", "json", "--from", seed)), &r); err != nil {
			t.Fatal(err)
		}
		return r.Outputs
	}
	// Label the addresses of two outputs Hal paid at hops 2 and later (not
	// his own reused address, which holds the seed).
	var picked []string
	first := trace()
	for _, o := range first {
		if o.Hops >= 2 && len(picked) < 2 && o.Address != first[0].Address && !slices.Contains(picked, o.Address) {
			picked = append(picked, o.Address)
		}
	}
	if len(picked) != 2 {
		t.Fatalf("fewer than two outputs at hop 2: %v", picked)
	}
	lf := filepath.Join(t.TempDir(), "labels.csv")
	os.WriteFile(lf, []byte("address,label,category\n"+picked[0]+",Exchange X,exchange\n"+picked[1]+",Exchange Y,exchange\n"), 0o644)
	mustRun(t, "labels", "import", "--data", data, lf)
	outs := trace()

	blockTime := map[uint32]string{}
	utc := func(h uint32) string {
		if s, ok := blockTime[h]; ok {
			return s
		}
		var b struct{ Time int64 }
		if err := json.Unmarshal([]byte(mustRun(t, "block", "--data", data, "--json", strconv.Itoa(int(h)))), &b); err != nil {
			t.Fatal(err)
		}
		blockTime[h] = time.Unix(b.Time, 0).UTC().Format(time.RFC3339)
		return blockTime[h]
	}
	var wantFreeze, wantSeize []string
	for _, o := range outs {
		if o.Time != utc(o.Height) {
			t.Fatalf("output %s:%d time %q, block %d is at %s", o.TxID, o.Vout, o.Time, o.Height, utc(o.Height))
		}
		if o.Stop == "arrival" {
			wantFreeze = append(wantFreeze, fmt.Sprintf("%s,%s,%s,%d,%d,%s,%d,%d", o.Label, o.Address, o.TxID, o.Vout, o.Height, o.Time, o.TaintSat, o.Hops))
		}
		if !o.Spent {
			wantSeize = append(wantSeize, fmt.Sprintf("%s,%s,%d,%d,%s,%d", o.Address, o.TxID, o.Vout, o.Height, o.Time, o.TaintSat))
		}
	}
	if len(wantFreeze) < 2 || len(wantSeize) == 0 {
		t.Fatalf("%d arrivals, %d unspent outputs", len(wantFreeze), len(wantSeize))
	}

	dir := t.TempDir()
	readCSV := func(format string) ([]string, [][]string) {
		t.Helper()
		f := filepath.Join(dir, format+".csv")
		mustRun(t, "trace", "--data", data, "--model", "haircut", "--format", format, "-o", f, "--from", seed)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		rows, err := csv.NewReader(fh).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows[0], rows[1:]
	}
	col := func(header []string, row []string, names ...string) string {
		var v []string
		for _, n := range names {
			i := slices.Index(header, n)
			if i < 0 {
				t.Fatalf("no column %s in %v", n, header)
			}
			v = append(v, row[i])
		}
		return strings.Join(v, ",")
	}

	header, rows := readCSV("freeze")
	var got []string
	for i, r := range rows {
		got = append(got, col(header, r, "entity", "address", "txid", "vout", "height", "time", "taint_sat", "hops"))
		if i > 0 && col(header, rows[i-1], "time") > col(header, r, "time") {
			t.Fatalf("freeze rows not sorted by time: %v before %v", rows[i-1], r)
		}
	}
	slices.Sort(got)
	slices.Sort(wantFreeze)
	if !slices.Equal(got, wantFreeze) {
		t.Fatalf("freeze rows\n%s\nwant the arrivals\n%s", strings.Join(got, "\n"), strings.Join(wantFreeze, "\n"))
	}

	header, rows = readCSV("seizable")
	got = got[:0]
	for i, r := range rows {
		got = append(got, col(header, r, "address", "txid", "vout", "height", "time", "taint_sat"))
		a, _ := strconv.ParseInt(col(header, r, "taint_sat"), 10, 64)
		if i > 0 {
			b, _ := strconv.ParseInt(col(header, rows[i-1], "taint_sat"), 10, 64)
			if b < a {
				t.Fatalf("seizable rows not sorted by amount: %v before %v", rows[i-1], r)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(wantSeize)
	if !slices.Equal(got, wantSeize) {
		t.Fatalf("seizable rows\n%s\nwant the unspent outputs\n%s", strings.Join(got, "\n"), strings.Join(wantSeize, "\n"))
	}

	var deps []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "trace", "--data", data, "--format", "freeze-json", "--from", seed)), &deps); err != nil || len(deps) != len(wantFreeze) {
		t.Fatalf("freeze-json: %v, %d rows, want %d", err, len(deps), len(wantFreeze))
	}
	if _, stderr, err := run(t, nil, "trace", "--data", data, "--direction", "backward", "--format", "freeze", "--from", seed); exitCode(err) != 2 ||
		!strings.Contains(stderr, "--format freeze lists where the taint went: it needs --direction forward") {
		t.Fatalf("freeze of a backward trace: exit %d %s", exitCode(err), stderr)
	}
}
