package cli

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		data string
		json bool
	}{
		{[]string{"a:0", "--data", "d", "b:1"}, []string{"a:0", "b:1"}, "d", false},
		{[]string{"--json", "a:0", "--data=d"}, []string{"a:0"}, "d", true},
		{[]string{"a:0", "--", "--data", "-x"}, []string{"a:0", "--data", "-x"}, "def", false},
		{[]string{"-", "a"}, []string{"-", "a"}, "def", false},
		{nil, nil, "def", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		data := fs.String("data", "def", "")
		js := fs.Bool("json", false, "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(pos, tc.pos) || *data != tc.data || *js != tc.json {
			t.Errorf("%q: pos %q data %q json %v, want %q %q %v", tc.args, pos, *data, *js, tc.pos, tc.data, tc.json)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	if _, err := parseInterspersed(fs, []string{"a", "--nope"}); err == nil {
		t.Error("an unknown flag after a positional was accepted")
	}
}

// A global flag after the seed must take effect, not become a second seed.
func TestMainFlagsAfterPositional(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Main([]string{"screen", "bc1qnotthere", "--data", dir, "--network", "regtest"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), dir) || !strings.Contains(errb.String(), "regtest") {
		t.Fatalf("exit %d, stderr %q: want a failure naming %s and regtest", code, errb.String(), dir)
	}
}
