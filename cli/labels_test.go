package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/labels"
	"github.com/cointrail/cointrail/screen"
)

// hostile is label text as a malicious label file (or a store written
// before import checked text) would carry it: a forged line, terminal
// escapes (clear screen, set the window title), a bidi override, a tab.
const hostile = "Exchange\n1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2  Thief\x1b[2J\x1b]0;pwned\x07\u202egnp\tx\x9b"

// unsafeOutput reports the first character of out that must not reach a
// terminal: a control character other than the newline, or a bidi
// control.
func unsafeOutput(out string) (rune, bool) {
	for _, r := range out {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return r, true
		}
	}
	return 0, false
}

func TestLabelsTextEscaped(t *testing.T) {
	ls := []labels.Label{
		{Address: "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", Label: hostile, Category: "exchange\x1b[0m", Source: "src\r\nforged", Confidence: "ownership"},
		{TxHash: strings.Repeat("ab", 32), Label: "plain", Category: "victim", Source: "s"},
	}
	var b bytes.Buffer
	if err := writeLabels(&b, ls); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if r, bad := unsafeOutput(out); bad {
		t.Fatalf("labels list prints U+%04X:\n%q", r, out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("%d lines, want a header and one per label:\n%s", n, out)
	}
	for _, want := range []string{labels.Escape(hostile), `exchange\x1b[0m`, `src\r\nforged`, "tx " + strings.Repeat("ab", 32)} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestScreenTextEscaped(t *testing.T) {
	r := &screen.Report{Target: "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", Kind: "address", Risk: screen.High, TopCategory: "sanction\x1b[8m",
		TopLabel: hostile, Reasons: []screen.Reason{{Exposure: "direct", Category: "scam\n  direct exchange", Sat: 5, Share: 1, Level: screen.High}},
		Notes: []string{"note\x1b[1A\x1b[2K"}}
	var b bytes.Buffer
	writeScreen(&b, r, "cointrail screen")
	out := b.String()
	if rr, bad := unsafeOutput(out); bad {
		t.Fatalf("screen prints U+%04X:\n%q", rr, out)
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Fatalf("%d lines, want 5:\n%s", n, out)
	}
	if !strings.Contains(out, labels.Escape(hostile)) || !strings.Contains(out, `scam\n  direct exchange`) {
		t.Errorf("labels not shown escaped:\n%s", out)
	}
}

// labels import and labels digest name files by path; a directory whose
// name holds terminal escapes and a newline is printed escaped.
func TestLabelsCommandsEscapePaths(t *testing.T) {
	data := t.TempDir()
	// labels import needs the network's index (only ingest makes one).
	net, err := chain.NetworkByName("mainnet")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(data, net, index.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	dir := filepath.Join(t.TempDir(), "evil\x1b]0;pwned\x07\ndir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../labels/testdata/case.csv")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "case.csv")
	if err := os.WriteFile(p, append([]byte("\xef\xbb\xbf"), src...), 0o644); err != nil { // with a BOM
		t.Fatal(err)
	}
	for _, args := range [][]string{{"labels", "import"}, {"labels", "digest"}, {"labels", "list"}} {
		var out, errOut bytes.Buffer
		a := append(args, "--data", data, "--network", "mainnet")
		if args[1] == "import" {
			a = append(a, p)
		}
		if code := Main(a, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		if r, bad := unsafeOutput(out.String()); bad {
			t.Errorf("%v prints U+%04X:\n%q", args, r, out.String())
		}
		if args[1] != "list" && !strings.Contains(out.String(), labels.Escape(p)) {
			t.Errorf("%v does not name %q:\n%s", args, labels.Escape(p), out.String())
		}
		if args[1] == "list" && strings.Count(out.String(), "\n") != 4 {
			t.Errorf("labels list: want a header and 3 labels:\n%s", out.String())
		}
	}
}
