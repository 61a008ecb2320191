package main

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIngestSurvivesSIGKILL kills ingest with SIGKILL at seeded random
// moments of its writes — with a block's columns written but its batch not
// committed, right after a commit, in the middle of a rollback — restarts it,
// and checks that the index verifies and its digest equals an uninterrupted
// build's.
func TestIngestSurvivesSIGKILL(t *testing.T) {
	blocks := mainnetBlocks(t)
	ref := t.TempDir()
	mustRun(t, "ingest", "--data", ref, "--blocks", blocks)
	want := strings.TrimSpace(mustRun(t, "index", "digest", "--data", ref))

	seed := uint64(20240531)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 6; i++ {
		data := t.TempDir()
		kills := 0
		// Small batches so that a kill lands between commits, not only before the first.
		for round := 0; round < 3; round++ {
			point := fmt.Sprintf("%s:%d", []string{"block", "commit"}[rng.IntN(2)], 1+rng.IntN(40))
			_, _, err := run(t, []string{"COINTRAIL_FAILPOINT=" + point}, "ingest", "--data", data, "--blocks", blocks, "--batch-kb", "8")
			if err == nil {
				continue // the point lay beyond the end of the work left
			}
			if !killedBySIGKILL(err) {
				t.Fatalf("seed %d run %d failpoint %s: want death by SIGKILL, got %v", seed, i, point, err)
			}
			kills++
			mustRun(t, "index", "verify", "--data", data)
		}
		// A rollback killed after its commit finishes on the next open.
		_, _, err := run(t, []string{"COINTRAIL_FAILPOINT=rollback:1"}, "index", "rollback", "--data", data, fmt.Sprint(rng.IntN(3000)))
		if err != nil && !killedBySIGKILL(err) {
			t.Fatalf("rollback: %v", err)
		}
		mustRun(t, "index", "verify", "--data", data)
		mustRun(t, "ingest", "--data", data, "--blocks", blocks)
		got := strings.TrimSpace(mustRun(t, "index", "digest", "--data", data))
		if got != want {
			t.Fatalf("seed %d run %d (%d kills): digest %s, uninterrupted %s", seed, i, kills, got, want)
		}
		if kills == 0 {
			t.Fatalf("seed %d run %d: no failpoint fired; the test proved nothing", seed, i)
		}
	}
}

// TestIngestSurvivesExternalSIGKILL kills a running ingest from outside with
// SIGKILL at seeded random moments, resumes it, and checks the index
// verifies and equals an uninterrupted build.
func TestIngestSurvivesExternalSIGKILL(t *testing.T) {
	dir := t.TempDir()
	chainDir := filepath.Join(dir, "chain")
	mustRun(t, "sim", "--txs", "100000", "--fast", "--seed", "21", "--out", chainDir)
	blocks := filepath.Join(chainDir, "blocks")
	ref := filepath.Join(dir, "ref")
	mustRun(t, "ingest", "--data", ref, "--network", "regtest", "--blocks", blocks)
	want := mustRun(t, "index", "digest", "--data", ref, "--network", "regtest")

	rng := rand.New(rand.NewPCG(7, 7))
	data := filepath.Join(dir, "data")
	kills := 0
	for i := 0; i < 5; i++ {
		cmd := exec.Command(bin, "ingest", "--data", data, "--network", "regtest", "--blocks", blocks, "--batch-kb", "8")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); killedBySIGKILL(err) {
			kills++
		}
		mustRun(t, "index", "verify", "--data", data, "--network", "regtest")
	}
	mustRun(t, "ingest", "--data", data, "--network", "regtest", "--blocks", blocks)
	if got := mustRun(t, "index", "digest", "--data", data, "--network", "regtest"); got != want {
		t.Fatalf("after %d kills the digest is %s, uninterrupted %s", kills, got, want)
	}
	if kills == 0 {
		t.Fatal("every ingest finished before its kill; the test proved nothing")
	}
	t.Logf("%d of 5 ingests killed mid-way", kills)
}
