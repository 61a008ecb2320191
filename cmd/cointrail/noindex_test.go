package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryWithoutIndex: a query on a data directory without the
// network's index fails with one line saying what to run, and creates
// nothing; when the directory holds another network, it names it.
func TestQueryWithoutIndex(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	// Writers too: none may create the index it was pointed at by mistake.
	for _, args := range [][]string{{"status", "--data", data}, {"tx", "--data", data, strings.Repeat("0", 64)}, {"index", "digest", "--data", data},
		{"case", "show", "--data", data, "1"}, {"case", "list", "--data", data}, {"cluster", "build", "--data", data},
		{"labels", "import", "--data", data, "x.yaml"}, {"note", "add", "--data", data, "case:1", "x"}, {"apikey", "list", "--data", data}} {
		_, errOut, err := run(t, nil, args...)
		want := "no mainnet index in " + data + ": build one with `cointrail ingest --data " + data + " --network mainnet --blocks DIR`"
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%v on no index: %v (want exit 2)\n%s", args, err, errOut)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Fatalf("%v created %s: %v", args, data, err)
		}
	}
	mustRun(t, "ingest", "--data", data, "--blocks", mainnetBlocks(t), "--stop-after", "10")
	_, errOut, err := run(t, nil, "status", "--data", data, "--network", "regtest")
	if err == nil || !strings.Contains(errOut, "no regtest index in "+data+"; it holds mainnet: add --network mainnet") {
		t.Fatalf("status of the wrong network: %v\n%s", err, errOut)
	}
	if out := mustRun(t, "status", "--data", data); !strings.Contains(out, "network mainnet") {
		t.Fatalf("status of the right network:\n%s", out)
	}
}
