package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/rodir"
)

var diskBytes = regexp.MustCompile(`"disk_bytes": [0-9]+`)

// TestReadOnlyDataDir: on a data directory nothing may be written to — a
// read-only bind mount, or `chmod -R a-w` — the query commands print what
// they print on the writable directory and leave every file as it was
// (content, size, time); ingest and the other writing commands fail with one
// line naming the index directory and why it is not writable.
func TestReadOnlyDataDir(t *testing.T) {
	data := mainnetIndex(t)
	labels := filepath.Join(t.TempDir(), "labels.csv")
	os.WriteFile(labels, []byte("address,label,category\n1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3,Hal Finney,user\n"), 0o644)
	mustRun(t, "labels", "import", "--data", data, labels)
	queries := [][]string{
		{"status"},
		{"status", "--json"},
		{"tx", hal},
		{"address", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"},
		{"block", "170"},
		{"trace", "--format", "json", "--from", "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0"},
		{"trace", "--model", "fifo,haircut", hal + ":1"},
		{"index", "digest"},
		{"index", "verify"},
		{"labels", "list"},
	}
	ask := func(t *testing.T, dir string) []string {
		t.Helper()
		var out []string
		for _, q := range queries {
			// The size on disk counts the store's files, which every writable
			// open rewrites (a new WAL, manifest, options file): bytes apart.
			out = append(out, diskBytes.ReplaceAllString(mustRun(t, withData(q, dir)...), `"disk_bytes": N`))
		}
		return out
	}
	ask(t, data) // the first writable open after ingest rewrites the store's small files once
	want := ask(t, data)
	root := os.Geteuid() == 0
	for _, c := range []struct {
		name string
		view func(testing.TB, string) string
		why  string
	}{
		{"mount", rodir.Mount, map[bool]string{true: "read-only file system", false: "permission denied"}[root]},
		{"chmod", rodir.Chmod, map[bool]string{true: "no write permission bits", false: "permission denied"}[root]},
	} {
		t.Run(c.name, func(t *testing.T) {
			view := c.view(t, data)
			before := rodir.Record(t, view)
			got := ask(t, view)
			for i, q := range queries {
				if got[i] != want[i] {
					t.Errorf("cointrail %s on the read-only directory:\n%s\nwant (writable):\n%s", strings.Join(q, " "), got[i], want[i])
				}
			}
			for _, w := range [][]string{
				{"ingest", "--blocks", mainnetBlocks(t)},
				{"labels", "import", labels},
				{"index", "rollback", "100"},
			} {
				_, stderr, err := run(t, nil, withData(w, view)...)
				name := w[0]
				if w[0] != "ingest" {
					name += " " + w[1]
				}
				wantErr := "cointrail " + name + ": index: read-only: the index in " + filepath.Join(view, "mainnet") + " is not writable (" + c.why +
					"); this command writes to it (queries open a read-only index as it is)\n"
				if err == nil || stderr != wantErr {
					t.Errorf("cointrail %s on a read-only directory: %v\n%s\nwant exit 1 and\n%s", strings.Join(w, " "), err, stderr, wantErr)
				}
			}
			if d := before.Diff(rodir.Record(t, view)); len(d) > 0 {
				t.Fatalf("commands on the read-only directory changed its files:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// withData puts --data dir after the command's name (one or two words).
func withData(args []string, dir string) []string {
	n := 1
	if args[0] == "index" || args[0] == "labels" || args[0] == "cluster" {
		n = 2
	}
	return append(append(append([]string(nil), args[:n]...), "--data", dir), args[n:]...)
}
