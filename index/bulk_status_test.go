package index_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/internal/testchain"
)

// TestBulkBuildStatus kills a real bulk build (a subprocess, SIGKILL from a
// failpoint) in each phase and checks what BulkBuild reports: the phase the
// next run resumes with and the height the forward pass reached, taken
// from bulk/state.json — nothing while phase 1 has recorded nothing — and,
// once the resumed build is installed, no build at all. A build killed in
// its install is finished by a writable open; a read-only open leaves it
// pending and says so.
func TestBulkBuildStatus(t *testing.T) {
	blocks := spendyChain(t)
	net := regtest(t)
	const mem = 1 << 20
	want := build(t, net, t.TempDir(), blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem})
	nTx, _, _, _ := want.tip.Counts()
	all := index.BulkView{Phases: 6, Height: int64(want.tip.Height), Hash: want.tip.Hash.String(), Blocks: want.tip.Height + 1, Txs: nTx}
	at := func(phase int, name string) index.BulkView {
		v := all
		v.Phase, v.PhaseName = phase, name
		return v
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		point    string
		readOnly bool
		want     *index.BulkView
	}{
		{"bulk-block:57", false, &index.BulkView{Phase: 1, Phases: 6, PhaseName: "blocks", Height: -1}},
		{"bulk-part:3", false, ptr(at(2, "addresses"))},
		{"bulk-phase:1", false, ptr(at(3, "address ids"))}, // the first hit follows phase 2
		{"bulk-range:2", false, ptr(at(4, "outputs"))},
		{"bulk-phase:3", false, ptr(at(5, "tables"))},
		{"bulk-phase:4", false, ptr(at(6, "install"))},
		{"bulk-rename:1", true, ptr(at(6, "install"))},
		{"bulk-rename:1", false, nil}, // Open finished the install
	} {
		t.Run(c.point+map[bool]string{true: "-readonly"}[c.readOnly], func(t *testing.T) {
			data := t.TempDir()
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "BULK_CHILD=1", "BULK_NET=regtest", "BULK_DATA="+data, "BULK_BLOCKS="+blocks,
				"BULK_MEM="+strconv.Itoa(mem), "COINTRAIL_FAILPOINT="+c.point)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != -1 {
				t.Fatalf("child was not killed at %s: %v\n%s", c.point, err, out)
			}
			ix, err := index.Open(data, net, index.Options{ReadOnly: c.readOnly}, testchain.Log(t))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := ix.BulkBuild()
			empty := ix.Tip().Empty
			ix.Close()
			switch {
			case c.want == nil && ok:
				t.Fatalf("a build is reported after the install: %+v", got)
			case c.want == nil && empty:
				t.Fatal("the index is empty, and no build is reported")
			case c.want != nil && (!ok || got != *c.want):
				t.Fatalf("killed at %s: build %+v (reported %v), want %+v", c.point, got, ok, *c.want)
			case c.want != nil && !empty:
				t.Fatal("a build is reported beside a tip")
			}
			if done := build(t, net, data, blocks, index.IngestOptions{Mode: index.ModeBulk, MemoryBytes: mem}); done != want {
				t.Fatalf("resumed: %s, want %s", done.digest, want.digest)
			}
			ix, err = index.Open(data, net, index.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			if v, ok := ix.BulkBuild(); ok {
				t.Fatalf("a finished build is still reported: %+v", v)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
