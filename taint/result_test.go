package taint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The canonical JSON of a small trace is fixed: field order, key names and
// the hash. Regenerate with -update after an intended change and review the
// diff.
func TestResultJSONGolden(t *testing.T) {
	g := newG1(t)
	for _, tc := range []struct {
		file string
		p    Params
	}{
		{"g1_haircut.json", params(Haircut)},
		{"g1_lifo_fees_to_coinbase.json", func() Params { p := params(LIFO); p.FeesToCoinbase = true; return p }()},
	} {
		r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, tc.p, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", tc.file)
		if *update {
			var ind bytes.Buffer
			if err := json.Indent(&ind, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(ind.Bytes(), '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, golden); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(compact.Bytes(), got) {
			t.Errorf("%s: JSON differs from the golden file\n got %s", tc.file, got)
		}
	}
}

func TestVerifyJSON(t *testing.T) {
	g := newG1(t)
	r, err := Trace(context.Background(), g, g.attr, []Seed{{Out: g.s}}, params(Haircut), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyJSON(b); err != nil {
		t.Fatal(err)
	}
	// The documented construction: hash of the object without its last member.
	i := bytes.LastIndex(b, []byte(`,"result_sha256"`))
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || i < 0 || len(back) != 10 {
		t.Fatalf("decoded %d keys, err %v", len(back), err)
	}
	tampered := bytes.Replace(b, []byte(`"traced_sat":100000`), []byte(`"traced_sat":100001`), 1)
	if bytes.Equal(tampered, b) {
		t.Fatal("tampering did not change the bytes")
	}
	if err := VerifyJSON(tampered); err == nil || !errors.Is(err, ErrBadParams) {
		t.Errorf("tampered result verified: %v", err)
	}
	if err := VerifyJSON([]byte(`{"a":1}`)); err == nil || err.Error() != "taint: bad parameters: no result_sha256 at the end of the result" {
		t.Errorf("err %v", err)
	}
}
