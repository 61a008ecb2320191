package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// FuzzSplitResults: the reader of verify-result never panics, and an array
// of results splits into exactly the bytes of its elements, which decode
// as results when they are objects.
func FuzzSplitResults(f *testing.F) {
	golden, err := os.ReadFile("../taint/testdata/g1_haircut.json")
	if err != nil {
		f.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, golden); err != nil {
		f.Fatal(err)
	}
	g := compact.Bytes()
	f.Add(g, []byte(`{"model":"fifo"}`))
	f.Add([]byte(`[`), []byte(`{"inputs":null}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		parts, err := splitResults(a)
		if err == nil {
			for _, p := range parts {
				var r recorded
				_ = json.Unmarshal(p, &r)
			}
		}
		if !json.Valid(a) || !json.Valid(b) || bytes.TrimSpace(a)[0] != '{' || bytes.TrimSpace(b)[0] != '{' {
			return
		}
		a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
		arr := append(append(append(append([]byte{'['}, a...), ','), b...), ']')
		parts, err = splitResults(arr)
		if err != nil || len(parts) != 2 || !bytes.Equal(parts[0], a) || !bytes.Equal(parts[1], b) {
			t.Fatalf("split %s: %v %q", arr, err, parts)
		}
	})
}
