package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestIndexDigestParts: `index digest` prints the index digest alone on
// its first line (scripts compare it), then the labels and the clustering
// a trace runs with, each with its own digest — the very digests `labels
// digest` and `cluster digest` print — or none, incomplete after a killed
// cluster build, stale after a rollback under the clustering. Each part
// changes alone.
func TestIndexDigestParts(t *testing.T) {
	data := mainnetIndex(t)
	digest := func(dir string) []string {
		t.Helper()
		return strings.Split(strings.TrimSuffix(mustRun(t, "index", "digest", "--data", dir), "\n"), "\n")
	}
	type parts struct {
		Digest string `json:"digest"`
		Labels struct {
			State, SHA256 string
		} `json:"labels"`
		Clusters struct {
			State, SHA256 string
		} `json:"clusters"`
	}
	digestJSON := func(dir string) parts {
		t.Helper()
		var p parts
		if err := json.Unmarshal([]byte(mustRun(t, "index", "digest", "--data", dir, "--json")), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(step string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: index digest printed\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	bare := digest(data)
	chain := bare[0]
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(chain) {
		t.Fatalf("first line %q is not a SHA-256", chain)
	}
	check("no labels, no clustering", bare, chain, "labels_sha256 none", "clusters_sha256 none")
	if p := digestJSON(data); p.Digest != chain || p.Labels.State != "none" || p.Clusters.State != "none" {
		t.Fatalf("--json: %+v", p)
	}

	mustRun(t, "labels", "import", "--data", data, sharedData(t, "labels", "graphsense-tagpacks", "lazarus2.yaml"))
	var ld struct {
		SHA256 string `json:"sha256"`
		Labels int    `json:"labels"`
		Files  []any  `json:"files"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "labels", "digest", "--data", data, "--json")), &ld); err != nil {
		t.Fatal(err)
	}
	labelsLine := fmt.Sprintf("labels_sha256 %s (%d labels from %d files)", ld.SHA256, ld.Labels, len(ld.Files))
	check("labels imported", digest(data), chain, labelsLine, "clusters_sha256 none")

	mustRun(t, "cluster", "build", "--data", data)
	clustersLine := strings.TrimSuffix(mustRun(t, "cluster", "digest", "--data", data), "\n")
	check("clustered", digest(data), chain, labelsLine, clustersLine)
	if p := digestJSON(data); p.Labels.State != "imported" || p.Labels.SHA256 != ld.SHA256 || p.Clusters.State != "built" || !strings.Contains(clustersLine, p.Clusters.SHA256) {
		t.Fatalf("--json: %+v", p)
	}

	killed := filepath.Join(t.TempDir(), "killed")
	if err := os.CopyFS(killed, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, []string{"COINTRAIL_FAILPOINT=cluster-wipe:1"}, "cluster", "build", "--data", killed)
	if !killedBySIGKILL(err) {
		t.Fatalf("cluster build was not killed at the failpoint: %v\n%s", err, stderr)
	}
	check("cluster build killed", digest(killed), chain, labelsLine,
		"clusters_sha256 incomplete (cluster: clustering incomplete: a cluster build was interrupted before it wrote all its rows; run `cointrail cluster build`)")
	if p := digestJSON(killed); p.Clusters.State != "incomplete" || p.Clusters.SHA256 != "" {
		t.Fatalf("--json after a killed cluster build: %+v", p)
	}

	mustRun(t, "index", "rollback", "--data", data, "100")
	got := digest(data)
	if got[0] == chain {
		t.Fatal("the rollback did not change the index digest")
	}
	check("rolled back under the clustering", got, got[0], labelsLine,
		"clusters_sha256 stale (cluster: rebuild needed: the clustering covers blocks up to height 4312 but the index was rolled back to height 100; run `cointrail cluster build`)")
}
