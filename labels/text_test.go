package labels

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/shareddata"
)

// A byte order mark before a CSV (Excel's "CSV UTF-8") or a TagPack gives
// the same labels as the file without it.
func TestImportBOM(t *testing.T) {
	csvBytes, err := os.ReadFile("testdata/case.csv")
	if err != nil {
		t.Fatal(err)
	}
	// Without the leading comment the header is the first line, where a
	// BOM would glue itself to "address".
	noComment := csvBytes[strings.IndexByte(string(csvBytes), '\n')+1:]
	pack := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	packBytes, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{{"case.csv", noComment}, {"case.csv", csvBytes}, {"lazarus2.yaml", packBytes}} {
		dir := t.TempDir()
		plain := writeFile(t, filepath.Join(dir), tc.name, string(tc.body))
		if err := os.Mkdir(filepath.Join(dir, "bom"), 0o755); err != nil {
			t.Fatal(err)
		}
		bom := writeFile(t, filepath.Join(dir, "bom"), tc.name, utf8BOM+string(tc.body))
		want := importLites(t, plain)
		if len(want) == 0 {
			t.Fatalf("%s: no labels without a BOM: the test proves nothing", tc.name)
		}
		if got := importLites(t, bom); !reflect.DeepEqual(got, want) {
			t.Errorf("%s with a BOM:\n got  %+v\nwant %+v", tc.name, got, want)
		}
	}
}

func importLites(t *testing.T, path string) []lite {
	t.Helper()
	store := openStore(t)
	if _, err := Import(store, mainnet, []string{path}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	return lites(listAll(t, store, mainnet))
}

// Hostile label files: every control character, bidi override or invalid
// UTF-8 in a text field is refused with one line naming file:line and the
// field, and nothing is stored.
func TestImportRefusesControlCharacters(t *testing.T) {
	const a = "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"
	head := "title: t\ncreator: c\nsource: s\ncurrency: BTC\n" // 4 lines
	tests := []struct{ name, file, body, want string }{
		{"csv newline", "x.csv", "address,label,category\n" + a + ",\"Thief\nfake line\",perpetrator\n",
			"2: label contains the control character U+000A at byte 6"},
		{"csv NUL", "x.csv", a + ",Thi\x00ef,perpetrator\n", "1: label contains the control character U+0000 at byte 4"},
		{"csv escape sequence", "x.csv", a + ",\x1b]0;pwned\x07Thief,perpetrator\n", "1: label contains the control character U+001B at byte 1"},
		{"csv tab", "x.csv", a + ",Thief\tdeposit,perpetrator\n", "1: label contains the control character U+0009 at byte 6"},
		{"csv C1 control", "x.csv", a + ",Thief\u0085x,perpetrator\n", "1: label contains the control character U+0085 at byte 6"},
		{"csv bidi override", "x.csv", a + ",Thief \u202egnp.exe,perpetrator\n", "1: label contains the control character U+202E at byte 7"},
		{"csv bidi isolate in source", "x.csv", a + ",Thief,perpetrator,\u2066src\n", "1: source contains the control character U+2066 at byte 1"},
		{"csv invalid UTF-8", "x.csv", a + ",Thief\xff,perpetrator\n", "1: label is not valid UTF-8 (byte 6)"},
		{"csv control in address", "x.csv", a + "\x1b,Thief,perpetrator\n", "1: address contains the control character U+001B at byte 35"},
		{"csv BOM inside", "x.csv", a + ",Th\ufeffief,perpetrator\n", "1: label contains the control character U+FEFF at byte 3"},
		{"tagpack escaped ESC", "x.yaml", head + "label: \"Lazarus\\e[2J\"\ntags:\n- address: " + a + "\n",
			"5: label contains the control character U+001B at byte 8"},
		{"tagpack block scalar newline", "x.yaml", head + "label: |\n  two\n  lines\ntags:\n- address: " + a + "\n",
			"5: label contains the control character U+000A at byte 4"},
		{"tagpack bidi in tag actor", "x.yaml", head + "label: l\ntags:\n- address: " + a + "\n  actor: \"\\u202Eroda\"\n",
			"8: actor contains the control character U+202E at byte 1"},
		{"tagpack NUL in context", "x.yaml", head + "label: l\ncontext: \"a\\0b\"\ntags:\n- address: " + a + "\n",
			"6: context contains the control character U+0000 at byte 2"},
		{"tagpack line separator", "x.yaml", head + "label: \"a\\Lb\"\ntags:\n- address: " + a + "\n",
			"5: label contains the control character U+2028 at byte 2"},
		{"tagpack control in address", "x.yaml", head + "label: l\ntags:\n- address: \"" + a + "\\r\"\n",
			"7: address contains the control character U+000D at byte 35"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			p := writeFile(t, t.TempDir(), tt.file, tt.body)
			_, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
			want := "labels: bad input: " + p + ":" + tt.want
			if err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if n := count(t, store); n != 0 {
				t.Errorf("%d labels stored after a refused import", n)
			}
		})
	}
}

// A CSV's name is its labels' default source: a control character in it
// is refused like one in the file, and the error line shows it escaped.
func TestImportRefusesControlCharacterInFileName(t *testing.T) {
	store := openStore(t)
	p := writeFile(t, t.TempDir(), "case\x1b[2J.csv", "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG,Thief,perpetrator\n")
	_, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
	want := "labels: bad input: " + Escape(p) + ": the file name (the default source) contains the control character U+001B at byte 5"
	if err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "\x1b") {
		t.Error("the error holds a raw ESC")
	}
	if n := count(t, store); n != 0 {
		t.Errorf("%d labels stored", n)
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Lazarus Group", "Lazarus Group"},
		{"Гарантекс Europe OÜ", "Гарантекс Europe OÜ"}, // letters stay
		{"a\nb\tc\rd", `a\nb\tc\rd`},
		{"\x1b]0;title\x07x", `\x1b]0;title\x07x`},
		{"\x00\x7f", `\x00\x7f`},
		{"x\u0085y\u009b31m", `x\u0085y\u009b31m`},
		{"Thief \u202egnp.exe", `Thief \u202egnp.exe`},
		{"\u2066a\u2069\u2028", `\u2066a\u2069\u2028`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"real \ufffd stays", "real \ufffd stays"},
	} {
		got := Escape(c.in)
		if got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
		if checkText("x", got) != "" {
			t.Errorf("Escape(%q) = %q still holds an unsafe character", c.in, got)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("a\x1b[31mb\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if msg := checkText("x", e); msg != "" {
			t.Fatalf("Escape(%q) = %q: %s", s, e, msg)
		}
		if checkText("x", s) == "" && e != s {
			t.Fatalf("Escape changed safe text %q to %q", s, e)
		}
	})
}

// checkRecords fails when a parser let an unsafe character into a record.
func checkRecords(t *testing.T, s *sink) {
	for _, e := range s.entries {
		for _, f := range e.rec.strings() {
			if msg := checkText("field", *f); msg != "" {
				t.Fatalf("stored %q: %s", *f, msg)
			}
		}
	}
}
