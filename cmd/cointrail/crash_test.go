package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// The external kill loop (issue 10). A simulated chain with ≥ 100k inputs,
// on which both hash tables double several times, is ingested in small
// batches and SIGKILLed from outside at seeded random moments — during
// open and recovery, aimed at a table doubling, anywhere, late — with
// `index verify` after every kill, until a run completes with the
// uninterrupted build's digest; then it is rolled back under kills and
// ingested again under kills to that digest. Fresh builds follow until
// wantKills kills. COINTRAIL_KILL_SEED overrides the schedule's seed. The
// seed fixes the draws (kinds, delays, batch sizes, rollback heights);
// where a kill lands also depends on the machine's speed, so a failure
// keeps a copy of its data directory.
//
// Ingest commits without syncing, and Pebble writes such commits to its
// log only in 32 KiB blocks, so a killed run keeps only the commits of
// the log blocks it filled (~130 blocks of this chain) and redoes the
// rest: a kill loses committed blocks, too, and recovery must undo their
// columns like an uncommitted batch's.
var killChain = []string{"--txs", "100000", "--txs-per-block", "100", "--fast", "--seed", "21"}

const (
	killSeed          = 10
	wantKills         = 200
	maxRunsPerGoal    = 150 // runs of one ingest to the tip before it counts as stuck
	rollbacksPerBuild = 2
	minDoublings      = 5 // of both tables together, per build
	minSlots          = 1 << 16
)

// verifyCounts is `index verify --json`.
type verifyCounts struct{ Blocks, Txs, Inputs, Addresses uint64 }

type killLoop struct {
	t             *testing.T
	seed          uint64
	rng           *rand.Rand
	blocks        string
	full, startup time.Duration // an uninterrupted ingest; a run with nothing to do
	total         verifyCounts
	want          string // the uninterrupted build's digest
	scale         float64
	maxTx, maxAd  uint64 // table slots at the end of a build
	build         int
	last          string // the last kill, for reproduction

	kills, runs  int
	ingestKills  int
	connecting   int // killed ingest runs that had started connecting blocks
	advanced     int // killed ingest runs that moved the committed tip
	finished     int // runs that completed before their kill
	doublings    int // table doublings seen across all runs
	killedGrown  int // killed runs whose tables had doubled before the kill
	midRebuild   int // kills that left a rebuild's new table behind
	rbCycles     int
	rbKills      int
	rbBefore     int // rollbacks killed before their commit
	rbMidRecover int // rollbacks killed after their commit, before their recovery truncated the columns
}

func TestIngestSurvivesExternalSIGKILL(t *testing.T) {
	began := time.Now()
	seed := uint64(killSeed)
	if s := os.Getenv("COINTRAIL_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("COINTRAIL_KILL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	dir := t.TempDir()
	chainDir := filepath.Join(dir, "chain")
	mustRun(t, append([]string{"sim", "--out", chainDir}, killChain...)...)
	k := &killLoop{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x6b696c6c)), blocks: filepath.Join(chainDir, "blocks"), scale: 1}

	ref := filepath.Join(dir, "ref")
	start := time.Now()
	mustRun(t, "ingest", "--data", ref, "--network", "regtest", "--blocks", k.blocks, "--batch-kb", "8")
	k.full = time.Since(start)
	k.startup = time.Hour
	for range 3 { // the least of three: other processes share the machine
		start = time.Now()
		mustRun(t, "ingest", "--data", ref, "--network", "regtest", "--blocks", k.blocks, "--batch-kb", "8")
		k.startup = min(k.startup, time.Since(start))
	}
	k.want = mustRun(t, "index", "digest", "--data", ref, "--network", "regtest")
	out := mustRun(t, "index", "verify", "--json", "--data", ref, "--network", "regtest")
	if err := json.Unmarshal([]byte(out), &k.total); err != nil {
		t.Fatalf("index verify --json: %v\n%s", err, out)
	}
	if k.total.Inputs < 100_000 {
		t.Fatalf("the chain has %d inputs; the kill loop needs ≥ 100,000", k.total.Inputs)
	}
	k.maxTx, k.maxAd = tableSlots(ref)
	if d := log2(k.maxTx/minSlots) + log2(k.maxAd/minSlots); d < minDoublings {
		t.Fatalf("the hash tables double %d times in a build; the kill loop wants ≥ %d", d, minDoublings)
	}
	t.Logf("seed %d: %d blocks, %d txs, %d inputs, %d addresses; tables grow from %d to %d and %d slots; uninterrupted ingest %v, a run with nothing to do %v",
		seed, k.total.Blocks, k.total.Txs, k.total.Inputs, k.total.Addresses, minSlots, k.maxTx, k.maxAd, k.full.Round(time.Millisecond), k.startup.Round(time.Millisecond))

	for k.build = 0; k.kills < wantKills; k.build++ {
		if k.build == 30 {
			t.Fatalf("%d kills after 30 builds; want %d", k.kills, wantKills)
		}
		kills, doublings, start := k.kills, k.doublings, time.Now()
		data := filepath.Join(dir, fmt.Sprintf("data%d", k.build))
		k.ingestToTip(data, verifyCounts{})
		k.checkDigest(data, "after the killed build")
		for range rollbacksPerBuild {
			k.ingestToTip(data, k.rollback(data, k.total))
			k.checkDigest(data, "after the killed rollback and the killed ingest after it")
		}
		os.RemoveAll(data)
		t.Logf("build %d: %d kills, %d table doublings, %v", k.build, k.kills-kills, k.doublings-doublings, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("seed %d: %d builds, %d runs, %d kills: %d of ingest (%d while connecting blocks, %d of them moved the tip), %d of rollback (%d before its commit, %d before its recovery truncated the columns); %d runs finished before their kill",
		seed, k.build, k.runs, k.kills, k.ingestKills, k.connecting, k.advanced, k.rbKills, k.rbBefore, k.rbMidRecover, k.finished)
	t.Logf("seed %d: %d table doublings (an uninterrupted build makes %d; ingest after a rollback re-inserts what the tables hold and doubles them, too), %d kills after a doubling in the same run, %d in the middle of a rebuild; %v in all",
		seed, k.doublings, log2(k.maxTx/minSlots)+log2(k.maxAd/minSlots), k.killedGrown, k.midRebuild, time.Since(began).Round(time.Millisecond))
	if 2*k.connecting <= k.ingestKills {
		t.Errorf("only %d of %d ingest kills landed while blocks were being connected: the schedule missed the build", k.connecting, k.ingestKills)
	}
	if 4*k.advanced < k.ingestKills {
		t.Errorf("only %d of %d killed ingest runs moved the committed tip: the builds were finished by runs that escaped their kill, not resumed", k.advanced, k.ingestKills)
	}
	if k.doublings < minDoublings*k.build {
		t.Errorf("%d table doublings in %d builds; want ≥ %d per build", k.doublings, k.build, minDoublings)
	}
	if k.killedGrown == 0 {
		t.Error("no run was killed after one of its table doublings")
	}
	if k.rbMidRecover == 0 {
		t.Error("no rollback was killed between its commit and its recovery")
	}
}

// ingestToTip runs ingest on data, killing it at drawn moments, until a run
// completes. The committed tip never goes back, and verify passes after
// every run.
func (k *killLoop) ingestToTip(data string, prev verifyCounts) {
	t := k.t
	txSlots, adSlots := tableSlots(data)
	outs := filepath.Join(data, "regtest", "graph", "outs.col")
	for runs := 0; ; runs++ {
		if runs == maxRunsPerGoal {
			t.Fatalf("seed %d build %d: the tip is stuck at %d blocks after %d runs (%d kills; last %s)", k.seed, k.build, prev.Blocks, runs, k.kills, k.last)
		}
		kind, delay := k.draw(prev, txSlots, adSlots)
		batch := []int{8, 8, 64, 512}[k.rng.IntN(4)]
		before := fileSize(outs) // the committed length: the last verify closed the index
		k.runs++
		killed := k.runKilled(data, delay, fmt.Sprintf("ingest (%s kill, --batch-kb %d, from %d blocks)", kind, batch, prev.Blocks),
			"ingest", "--data", data, "--network", "regtest", "--blocks", k.blocks, "--batch-kb", strconv.Itoa(batch))
		connecting := fileSize(outs) > before // grown for the first block
		tx, ad := tableSlots(data)
		grown := log2(tx/txSlots) + log2(ad/adSlots)
		k.doublings += grown
		txSlots, adSlots = tx, ad
		if _, err := os.Stat(filepath.Join(data, "regtest", "graph")); killed && prev.Blocks == 0 && err != nil {
			// Killed before the index existed: a query says there is none
			// and how to build it; the next ingest makes it.
			if _, stderr, err := run(t, nil, "index", "verify", "--data", data, "--network", "regtest"); exitCode(err) != 2 || !strings.Contains(stderr, "no regtest index in "+data+": build one with `cointrail ingest") {
				k.fail(data, "index verify after a kill before the index existed: exit %d: %s", exitCode(err), stderr)
			}
			k.ingestKills++
			continue
		}
		c := k.verify(data)
		if c.Blocks < prev.Blocks {
			k.fail(data, "the committed tip went back from %d to %d blocks", prev.Blocks, c.Blocks)
		}
		if !killed {
			if c != k.total {
				k.fail(data, "a completed ingest left %+v, want %+v", c, k.total)
			}
			k.finished++
			return
		}
		k.ingestKills++
		if connecting {
			k.connecting++
		}
		if c.Blocks > prev.Blocks {
			k.advanced++
		}
		if grown > 0 {
			k.killedGrown++
		}
		if kind != "open" {
			// Keep the kills spread however fast the machine is: on a slow
			// one runs die before they connect a block, on a fast one they
			// get far; about half should move the tip.
			switch {
			case !connecting:
				k.scale *= 1.5
			case c.Blocks == prev.Blocks:
				k.scale *= 1.08
			default:
				k.scale *= 0.92
			}
			k.scale = min(max(k.scale, 0.5), 50)
		}
		if c == k.total {
			return // killed in its last steps, after its last commit reached the log
		}
		prev = c
	}
}

// draw picks the kind and delay of the next ingest kill. Times are in
// units of the uninterrupted ingest: startup (process start, Pebble open,
// recovery, the blocks dir scan), then connecting blocks at a steady rate.
func (k *killLoop) draw(c verifyCounts, txSlots, adSlots uint64) (string, time.Duration) {
	s := float64(k.startup)
	work := max(float64(k.full-k.startup), float64(10*time.Millisecond))
	at := func(d float64) time.Duration { return time.Duration(d * k.scale) }
	switch p := k.rng.Float64(); {
	case p < 0.1: // during open and recovery, the first growth of the files
		return "open", time.Duration(k.rng.Float64() * s * 1.2)
	case p < 0.4: // at the next doubling of either table (killed batches' leftover entries bring it forward)
		dt := -1.0
		if txSlots < k.maxTx && c.Txs < txSlots/2 {
			dt = work * float64(txSlots/2-c.Txs) / float64(k.total.Txs)
		}
		if adSlots < k.maxAd && c.Addresses < adSlots/2 {
			if d := work * float64(adSlots/2-c.Addresses) / float64(k.total.Addresses); dt < 0 || d < dt {
				dt = d
			}
		}
		if dt >= 0 {
			return "doubling", at(s + dt*(0.6+0.6*k.rng.Float64()))
		}
		fallthrough
	case p < 0.96: // anywhere in the next fifth of the build
		return "anywhere", at(s + k.rng.Float64()*work/5)
	default: // late: most of what is left, or past its end
		left := work * float64(k.total.Txs-min(c.Txs, k.total.Txs)) / float64(k.total.Txs)
		return "late", at(s + (0.3+0.8*k.rng.Float64())*left)
	}
}

// rollback rolls data back to a drawn height under kills. On even cycles
// the first kill comes at a drawn moment and, if it landed before the
// rollback's commit, a second one at the rollback failpoint (after the
// commit, before the recovery); on odd cycles the failpoint kill is the
// only one.
func (k *killLoop) rollback(data string, c verifyCounts) verifyCounts {
	t := k.t
	h := int64(k.rng.IntN(int(c.Blocks))) - 1 // -1 (empty) .. the tip's parent
	ins := filepath.Join(data, "regtest", "graph", "ins.col")
	what := fmt.Sprintf("rollback from %d blocks to height %d", c.Blocks, h)
	args := []string{"index", "rollback", "--data", data, "--network", "regtest", strconv.FormatInt(h, 10)}
	k.rbCycles++
	for attempt := k.rbCycles % 2; ; attempt++ {
		before := fileSize(ins) // the committed length: the last verify closed the index
		if attempt == 0 {
			delay := time.Duration(k.rng.Float64() * 1.5 * float64(k.startup) * k.scale)
			if !k.runKilled(data, delay, what, args...) {
				after := k.verify(data)
				if after.Blocks != uint64(h+1) {
					k.fail(data, "a completed %s left %d blocks", what, after.Blocks)
				}
				return after
			}
		} else {
			k.kills++
			k.last = fmt.Sprintf("kill %d: %s at failpoint rollback:1", k.kills, what)
			if _, stderr, err := run(t, []string{"COINTRAIL_FAILPOINT=rollback:1"}, args...); !killedBySIGKILL(err) {
				t.Fatalf("seed %d build %d: %s at failpoint rollback:1: want death by SIGKILL, got %v\n%s", k.seed, k.build, what, err, stderr)
			}
		}
		k.rbKills++
		truncated := fileSize(ins) < before
		after := k.verify(data)
		switch {
		case after.Blocks == c.Blocks && attempt == 0:
			k.rbBefore++
			continue
		case after.Blocks != uint64(h+1):
			k.fail(data, "a killed %s left %d blocks", what, after.Blocks)
		case !truncated && after.Inputs < c.Inputs:
			k.rbMidRecover++
		}
		return after
	}
}

// runKilled starts cointrail on data and SIGKILLs it after delay; it
// reports whether the kill landed (false: the run completed first).
func (k *killLoop) runKilled(data string, delay time.Duration, what string, args ...string) bool {
	t := k.t
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("seed %d build %d: %s (kill due after %v) failed: %v\n%s", k.seed, k.build, what, delay, err, stderr.Bytes())
		}
		return false
	case <-timer.C:
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := <-done
	if err == nil {
		return false // it finished as the signal went out
	}
	if !killedBySIGKILL(err) {
		t.Fatalf("seed %d build %d: %s: %v\n%s", k.seed, k.build, what, err, stderr.Bytes())
	}
	k.kills++
	k.last = fmt.Sprintf("kill %d: %s, %v after its start", k.kills, what, delay)
	if left, _ := filepath.Glob(filepath.Join(data, "regtest", "graph", "*.table.new")); len(left) > 0 {
		k.midRebuild++
	}
	return true
}

// verify runs index verify on data; a failure names what reproduces it and
// keeps a copy of the data directory.
func (k *killLoop) verify(data string) verifyCounts {
	out, stderr, err := run(k.t, nil, "index", "verify", "--json", "--data", data, "--network", "regtest")
	if err != nil {
		k.fail(data, "index verify: %v\n%s", err, stderr)
	}
	var c verifyCounts
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		k.fail(data, "index verify --json: %v\n%s", err, out)
	}
	return c
}

func (k *killLoop) checkDigest(data, when string) {
	if got, _, err := run(k.t, nil, "index", "digest", "--data", data, "--network", "regtest"); err != nil || got != k.want {
		k.fail(data, "digest %s %q (%v), uninterrupted %q", when, got, err, k.want)
	}
}

func (k *killLoop) fail(data, format string, args ...any) {
	k.t.Helper()
	keep, err := os.MkdirTemp("", "cointrail-killed-")
	if err == nil {
		err = os.CopyFS(keep, os.DirFS(data))
	}
	k.t.Fatalf("seed %d (rerun: COINTRAIL_KILL_SEED=%d go test ./cmd/cointrail -run ExternalSIGKILL), build %d, after %s: %s\nthe data directory is kept in %s (copy error: %v); the chain is `cointrail sim %s`",
		k.seed, k.seed, k.build, k.last, fmt.Sprintf(format, args...), keep, err, strings.Join(killChain, " "))
}

// tableSlots returns the slots of data's txid and address tables (the
// minimum before they exist).
func tableSlots(data string) (tx, addr uint64) {
	g := filepath.Join(data, "regtest", "graph")
	return max(uint64(fileSize(filepath.Join(g, "txids.table"))/8), minSlots), max(uint64(fileSize(filepath.Join(g, "addrs.table"))/8), minSlots)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func log2(x uint64) int { return bits.Len64(x) - 1 }
