package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/taint"
)

// TestVerifyResult: a trace result JSON records its inputs, and re-verified
// on a fresh index built from the same real blocks and the same label file
// it is identical (exit 0); after one more label file is imported it
// differs, and verify-result names the labels (exit 1). A changed byte
// fails the result's own hash.
func TestVerifyResult(t *testing.T) {
	lazarus := sharedData(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	build := func() string {
		data := mainnetIndex(t)
		mustRun(t, "labels", "import", "--data", data, lazarus)
		return data
	}
	first := build()
	dir := t.TempDir()
	res := filepath.Join(dir, "result.json")
	mustRun(t, "trace", "--data", first, "--format", "json", "-o", res, "--from", hal+":1")
	b, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Inputs  taint.Inputs `json:"inputs"`
		Outputs []struct {
			Height uint32 `json:"height"`
			Time   string `json:"time"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	digest := strings.Split(mustRun(t, "index", "digest", "--data", first), "\n")
	var ld struct {
		SHA256 string `json:"sha256"`
	}
	json.Unmarshal([]byte(mustRun(t, "labels", "digest", "--data", first, "--json")), &ld)
	in := r.Inputs
	if in.ToolVersion == "" || in.IndexDigest != digest[0] || ld.SHA256 == "" || in.LabelsDigest != ld.SHA256 || len(in.LabelFiles) != 1 ||
		in.ClustersDigest != "none" || in.ClusterTip != nil || strings.Join(in.Seeds, " ") != hal+":1" || len(in.CapsBound) != 0 {
		t.Fatalf("inputs %+v\nindex digest %q, labels %q", in, digest, ld.SHA256)
	}
	if len(r.Outputs) < 2 || r.Outputs[0].Height != 170 || r.Outputs[0].Time != "2009-01-12T03:30:25Z" {
		t.Fatalf("outputs %+v", r.Outputs[:min(2, len(r.Outputs))])
	}

	fresh := build()
	out := mustRun(t, "verify-result", "--data", fresh, res)
	if !strings.HasPrefix(out, "identical: haircut result_sha256 ") {
		t.Fatalf("verify-result on a fresh index: %s", out)
	}
	// Several models in one file: each is re-run.
	multi := filepath.Join(dir, "multi.json")
	mustRun(t, "trace", "--data", first, "--format", "json", "--model", "fifo,poison", "-o", multi, "--from", hal+":1")
	if out := mustRun(t, "verify-result", "--data", fresh, multi); strings.Count(out, "identical: ") != 2 {
		t.Fatalf("verify-result of two models: %s", out)
	}

	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, []byte(strings.Replace(string(b), `"hops":1`, `"hops":2`, 1)), 0o644)
	if _, stderr, err := run(t, nil, "verify-result", "--data", fresh, tampered); exitCode(err) != 1 || !strings.Contains(stderr, "result_sha256") {
		t.Fatalf("a tampered result: exit %d\n%s", exitCode(err), stderr)
	}

	mustRun(t, "labels", "import", "--data", fresh, sharedData(t, "labels", "graphsense-tagpacks", "miners.yaml"))
	stdout, stderr, err := run(t, nil, "verify-result", "--data", fresh, res)
	if exitCode(err) != 1 || strings.TrimSpace(stderr) != "cointrail verify-result: cli: result differs: "+res+": labels" ||
		!strings.Contains(stdout, "  labels: labels_sha256 "+ld.SHA256+" in the result, ") || !strings.Contains(stdout, "was imported since") ||
		!strings.Contains(stdout, "the flows are identical") ||
		strings.Contains(stdout, "index:") || strings.Contains(stdout, "clusters:") || strings.Contains(stdout, "tool version:") {
		t.Fatalf("after one more label file: exit %d\nstdout %s\nstderr %s", exitCode(err), stdout, stderr)
	}
	// Each further input that changes is named too.
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "build", "--data", fresh}, "labels, clusters"},
		{[]string{"index", "rollback", "--data", fresh, "4000"}, "index, labels, clusters"},
	} {
		mustRun(t, step.args...)
		_, stderr, err := run(t, nil, "verify-result", "--data", fresh, res)
		if exitCode(err) != 1 || strings.TrimSpace(stderr) != "cointrail verify-result: cli: result differs: "+res+": "+step.want {
			t.Fatalf("after %v: exit %d, %s", step.args, exitCode(err), stderr)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return -1
}
