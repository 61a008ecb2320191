package labels

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCSV(t *testing.T) {
	const (
		a1 = "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"
		a3 = "bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew"
		tx = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
	)
	// testdata/case.csv.bz2 is testdata/case.csv compressed with bzip2 -9.
	want := []lite{
		{TxHash: tx, Label: "Theft tx, first hop", Category: "perpetrator", Source: "case.csv", Level: 35},
		{Address: a1, Label: "Thief deposit", Category: "perpetrator", Source: "case-2025-017", Confidence: "ownership", Level: 100},
		{Address: a3, Label: "Victim hot wallet", Category: "victim", Source: "case.csv", Confidence: "forensic_investigation", Level: 70},
	}
	for _, name := range []string{"testdata/case.csv", "testdata/case.csv.bz2"} {
		t.Run(name, func(t *testing.T) {
			store := openStore(t)
			st, err := Import(store, mainnet, []string{name}, testNow, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			if st.Counts != (Counts{Applied: 3}) || st.Files[0].Format != "csv" || st.Files[0].SHA256 != fileSHA(t, name) {
				t.Errorf("stats %+v", st)
			}
			w := want
			if strings.HasSuffix(name, ".bz2") {
				w = slices.Clone(want)
				w[0].Source = "case.csv.bz2"
				w[2].Source = "case.csv.bz2"
			}
			if got := lites(listAll(t, store, mainnet)); !reflect.DeepEqual(got, w) {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
		})
	}

	// Without header, with comments, blank lines and a duplicate line.
	store := openStore(t)
	p := writeFile(t, t.TempDir(), "mine.csv", "# mine\n\n"+a1+",Thief,PERPETRATOR\n"+a1+",Thief,perpetrator\n")
	st, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts != (Counts{Applied: 1, SkippedDuplicate: 1}) {
		t.Errorf("counts %+v", st.Counts)
	}
	wantOne := []lite{{Address: a1, Label: "Thief", Category: "perpetrator", Source: "mine.csv", Confidence: "forensic_investigation", Level: 70}}
	if got := lites(listAll(t, store, mainnet)); !reflect.DeepEqual(got, wantOne) {
		t.Errorf("got %+v", got)
	}
}

func TestCSVErrors(t *testing.T) {
	const a = "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"
	testAddr := encodeOn(t, a, testnet)
	tests := []struct{ name, csv, want string }{
		{"too few fields", "# c\n" + a + ",label\n", "2: 2 fields, want address,label,category[,source[,confidence]]"},
		{"too many fields", a + ",l,victim,s,ownership,x\n", "1: 6 fields, want address,label,category[,source[,confidence]]"},
		{"bad address", "xyz,l,victim\n", `1: "xyz" is not a mainnet address`},
		{"testnet address", a + ",l,victim\n" + testAddr + ",l,victim\n", `2: address "` + testAddr + `" is a testnet address, the index is mainnet`},
		{"unknown category", a + ",l,thief\n", `1: unknown category "thief" (want one of ` + strings.Join(categories, ", ") + ")"},
		{"empty label", a + ", ,victim\n", "1: empty label"},
		{"bad confidence", a + ",l,victim,s,101\n", `1: confidence "101" is neither a GraphSense confidence id nor a level 0-100`},
		{"bad header", "address,name,category\n", `1: header "address,name,category": want address,label,category[,source[,confidence]]`},
		{"quote", a + ",\"l,victim\n", `1: CSV: extraneous or missing " in quoted-field`},
		{"bare quote", a + ",l\"x,victim\n", `1: CSV: bare " in non-quoted-field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			p := writeFile(t, t.TempDir(), "case.csv", tt.csv)
			_, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
			want := "labels: bad input: " + p + ":" + tt.want
			if err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
}

func FuzzCSV(f *testing.F) {
	b, err := os.ReadFile("testdata/case.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3,x,victim,,5\n\"a\"\"b\",c,d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSink(mainnet, "f.csv")
		err := parseCSV(s, strings.NewReader(string(data)), "f.csv")
		if err != nil && !errors.Is(err, ErrBadInput) {
			t.Fatalf("error %v does not wrap ErrBadInput", err)
		}
		if err == nil && s.stats.Applied != len(s.entries) {
			t.Fatalf("applied %d, entries %d", s.stats.Applied, len(s.entries))
		}
		checkRecords(t, s)
	})
}
