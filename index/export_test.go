package index_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cointrail/cointrail/internal/testchain"
)

// TestExportAddresses: outputs.csv refers to addresses by id and
// addresses.csv resolves every id it uses, so the thief's address and the
// theft output paying it are found from the export alone.
func TestExportAddresses(t *testing.T) {
	ix, _, truth := testchain.DMMIndex(t, 0, false)
	dir := t.TempDir()
	if err := ix.ExportCSV(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows[1:]
	}
	addrs := map[string]string{}
	for i, r := range read("addresses.csv") {
		if r[0] != strconv.Itoa(i+1) {
			t.Fatalf("addresses.csv row %d has id %s: want dense ids from 1", i, r[0])
		}
		addrs[r[0]] = r[1]
	}
	if n := ix.Status().Addresses; len(addrs) != int(n) {
		t.Fatalf("addresses.csv has %d rows, the index %d addresses", len(addrs), n)
	}
	txids := map[string]string{}
	for _, r := range read("txs.csv") {
		txids[r[0]] = r[1]
	}
	found := false
	for _, r := range read("outputs.csv") {
		if r[4] != "0" && addrs[r[4]] == "" {
			t.Fatalf("output %s pays address id %s, which addresses.csv lacks", r[0], r[4])
		}
		if txids[r[1]] == truth.TheftTxid && r[2] == "0" {
			found = addrs[r[4]] == truth.AttackerAddress && r[3] == strconv.FormatInt(truth.StolenSat, 10)
		}
	}
	if !found {
		t.Fatalf("the theft output %s:0 does not pay %s BTC to %s in the export", truth.TheftTxid, strconv.FormatInt(truth.StolenSat, 10), truth.AttackerAddress)
	}
}
