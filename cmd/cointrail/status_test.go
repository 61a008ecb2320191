package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestStatusBulkBuildInProgress: after a bulk build of the real mainnet
// blocks is killed (SIGKILL from a failpoint) between phases, `status` says
// a bulk build is in progress — the phase it resumes with, how far it read
// — and the command that resumes it, instead of an empty tip; the resumed
// build installs and `status` shows its tip again.
func TestStatusBulkBuildInProgress(t *testing.T) {
	blocks := mainnetBlocks(t)
	data := t.TempDir()
	_, stderr, err := run(t, []string{"COINTRAIL_FAILPOINT=bulk-phase:1"}, "ingest", "--data", data, "--mode", "bulk", "--blocks", blocks)
	if !killedBySIGKILL(err) {
		t.Fatalf("ingest was not killed at the failpoint: %v\n%s", err, stderr)
	}
	during := mustRun(t, "status", "--data", data)
	var duringJSON struct {
		Empty bool `json:"empty"`
		Bulk  *struct {
			Phase     int    `json:"phase"`
			PhaseName string `json:"phase_name"`
			Height    int64  `json:"height"`
		} `json:"bulk_build"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--data", data, "--json")), &duringJSON); err != nil {
		t.Fatal(err)
	}

	mustRun(t, "ingest", "--data", data, "--mode", "bulk", "--blocks", blocks)
	after := mustRun(t, "status", "--data", data)
	var s struct {
		TipHeight int64  `json:"tip_height"`
		Txs       uint32 `json:"txs"`
		Bulk      any    `json:"bulk_build"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--data", data, "--json")), &s); err != nil {
		t.Fatal(err)
	}
	// The first bulk-phase point follows phase 2: the build resumes with 3.
	want := []string{
		"network mainnet (schema v3)",
		fmt.Sprintf("bulk build in progress: phase 3 of 6 (address ids), blocks read to height %d (%d blocks, %d txs), not installed: the index stays empty until the build ends",
			s.TipHeight, s.TipHeight+1, s.Txs),
		"resume it: cointrail ingest --data " + data + " --network mainnet --blocks DIR (or --rpc URL), from the same source",
	}
	if lines := strings.Split(during, "\n"); len(lines) != 5 || strings.Join(lines[:3], "\n") != strings.Join(want, "\n") || !strings.HasPrefix(lines[3], "index size ") {
		t.Fatalf("status of a killed bulk build:\n%s\nwant:\n%s\nindex size …", during, strings.Join(want, "\n"))
	}
	if b := duringJSON.Bulk; !duringJSON.Empty || b == nil || b.Phase != 3 || b.PhaseName != "address ids" || b.Height != s.TipHeight {
		t.Fatalf("status --json of a killed bulk build: empty %v, bulk_build %+v", duringJSON.Empty, b)
	}
	if s.Bulk != nil || strings.Contains(after, "bulk") || !strings.Contains(after, fmt.Sprintf("\ntip %d ", s.TipHeight)) {
		t.Fatalf("status after the resumed build:\n%s(bulk_build %v)", after, s.Bulk)
	}
}
