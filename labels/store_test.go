package labels

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
	"github.com/cointrail/cointrail/kv"
)

func TestReimportIdempotent(t *testing.T) {
	store := openStore(t)
	files := []string{
		shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus.yaml"),
		shareddata.Path(t, "labels", "graphsense-tagpacks", "hacks.yaml"),
		"testdata/case.csv",
	}
	st1, err := Import(store, mainnet, files, testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	n1, list1 := count(t, store), listAll(t, store, mainnet)
	if n1 != 20+608+3 || len(list1) != n1 {
		t.Fatalf("Count %d, List %d, want %d", n1, len(list1), 20+608+3)
	}
	// Again, one file named twice and by a relative path the second time.
	st2, err := Import(store, mainnet, append(files, files[2], "./testdata/../testdata/case.csv"), testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if n2 := count(t, store); n2 != n1 {
		t.Errorf("Count after re-import %d, want %d", n2, n1)
	}
	if list2 := listAll(t, store, mainnet); !reflect.DeepEqual(list1, list2) {
		t.Errorf("List differs after re-import")
	}
	if st2.Applied != st1.Applied || st2.Replaced != n1 || len(st2.Files) != 3 {
		t.Errorf("second import %+v, first %+v", st2.Counts, st1.Counts)
	}
	// A changed file replaces its old labels.
	dir := t.TempDir()
	p := writeFile(t, dir, "c.csv", "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG,old,victim\n")
	if _, err := Import(store, mainnet, []string{p}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "c.csv", "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG,new,victim\n")
	later := testNow.Add(time.Hour)
	if _, err := Import(store, mainnet, []string{p}, later, testLog(t)); err != nil {
		t.Fatal(err)
	}
	ls, err := List(store, mainnet, Query{Source: "c.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Label != "new" || !ls[0].ImportedAt.Equal(later) || ls[0].FileSHA256 != fileSHA(t, p) {
		t.Errorf("after changing the file: %+v", ls)
	}
	if got := count(t, store); got != n1+1 {
		t.Errorf("Count %d, want %d", got, n1+1)
	}
}

func TestImportAtomic(t *testing.T) {
	store := openStore(t)
	lz2 := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	if _, err := Import(store, mainnet, []string{lz2}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	before := listAll(t, store, mainnet)
	bad := writeFile(t, t.TempDir(), "bad.csv", "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG,x,victim\nnot-an-address,y,victim\n")
	good := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus.yaml")
	_, err := Import(store, mainnet, []string{good, lz2, bad}, testNow.Add(time.Hour), testLog(t))
	want := "labels: bad input: " + bad + `:2: "not-an-address" is not a mainnet address`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if after := listAll(t, store, mainnet); !reflect.DeepEqual(before, after) {
		t.Errorf("store changed by a failed import: %d labels before, %d after", len(before), len(after))
	}
	if n := count(t, store); n != 6 {
		t.Errorf("Count %d, want 6", n)
	}
	_, err = Import(store, mainnet, []string{good, filepath.Join(t.TempDir(), "missing.yaml")}, testNow, testLog(t))
	if !errors.Is(err, ErrBadInput) || !strings.HasSuffix(err.Error(), "missing.yaml: no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRemove(t *testing.T) {
	store := openStore(t)
	lz2 := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	hacks := shareddata.Path(t, "labels", "graphsense-tagpacks", "hacks.yaml")
	csv, _ := filepath.Abs("testdata/case.csv")
	if _, err := Import(store, mainnet, []string{lz2, hacks, csv}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	// Some labels of regtest in the same store must survive removals by
	// source of another file... and be removed by their own source.
	reg := writeFile(t, t.TempDir(), "reg.csv", encodeOn(t, "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", regtest)+",x,victim,case-2025-017\n")
	if _, err := Import(store, regtest, []string{reg}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	// hacks.yaml has per-tag sources; count one of them independently.
	raw, err := os.ReadFile(hacks)
	if err != nil {
		t.Fatal(err)
	}
	const src = "https://bitcointalk.org/index.php?topic=918981.0"
	nSrc := strings.Count(string(raw), "source: "+src+"\n")
	if nSrc < 2 {
		t.Fatalf("only %d tags of %s", nSrc, src)
	}
	total := 6 + 608 + 3 + 1
	steps := []struct {
		source string
		n      int
	}{
		{"https://www.fbi.gov/news/press-releases/fbi-identifies-cryptocurrency-funds-stolen-by-dprk", 6},
		{src, nSrc},
		{"case-2025-017", 2}, // one mainnet label of case.csv, one regtest
		{csv, 2},             // the rest of case.csv, by file path
		{"no such source", 0},
	}
	for _, s := range steps {
		n, err := Remove(store, s.source)
		if err != nil || n != s.n {
			t.Fatalf("Remove(%q) = %d, %v; want %d", s.source, n, err, s.n)
		}
		total -= s.n
		if got := count(t, store); got != total {
			t.Errorf("after Remove(%q): Count %d, want %d", s.source, got, total)
		}
		if ls, _ := List(store, mainnet, Query{Source: s.source}); len(ls) != 0 && s.source != csv {
			t.Errorf("after Remove(%q): %d labels of that source", s.source, len(ls))
		}
	}
	if got := len(listAll(t, store, mainnet)); got != total {
		t.Errorf("List has %d, want %d", got, total)
	}
	// The emptied file is forgotten; re-importing it starts afresh.
	st, err := Import(store, mainnet, []string{lz2}, testNow, testLog(t))
	if err != nil || st.Replaced != 0 || st.Applied != 6 {
		t.Errorf("re-import after Remove: %+v %v", st.Counts, err)
	}
	if _, err := Remove(store, " "); err == nil || err.Error() != "labels: bad input: empty source" {
		t.Errorf("empty source: %v", err)
	}
}

func TestList(t *testing.T) {
	store := openStore(t)
	files := []string{
		shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus.yaml"),
		shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml"),
		shareddata.Path(t, "labels", "graphsense-tagpacks", "sinbad_io.yaml"),
		"testdata/case.csv",
	}
	if _, err := Import(store, mainnet, files, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	all := listAll(t, store, mainnet)
	if len(all) != 20+6+2+3 {
		t.Fatalf("%d labels", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Address > b.Address || a.Address == b.Address && a.TxHash == b.TxHash && (a.Source > b.Source || a.Source == b.Source && a.Label > b.Label) {
			t.Errorf("not sorted at %d: %s/%s/%s then %s/%s/%s", i, a.Address, a.Source, a.Label, b.Address, b.Source, b.Label)
		}
	}
	var viaAll int
	if err := All(store, mainnet, func(Label) error { viaAll++; return nil }); err != nil || viaAll != len(all) {
		t.Errorf("All visited %d, %v", viaAll, err)
	}
	stop := errors.New("stop")
	if err := All(store, mainnet, func(Label) error { return stop }); err != stop {
		t.Errorf("All did not return fn's error: %v", err)
	}
	tests := []struct {
		name string
		q    Query
		want int
	}{
		{"label substring", Query{Label: "LAZARUS"}, 26},
		{"source substring", Query{Source: "treasury.gov"}, 22},
		{"category", Query{Category: "mixing_service"}, 2},
		{"address with two labels", Query{Address: "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"}, 2},
		{"address and category", Query{Address: "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", Category: "perpetrator"}, 1},
		{"txid", Query{Address: "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"}, 1},
		{"unlabeled address", Query{Address: "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"}, 0},
		{"page", Query{Offset: 5, Limit: 10}, 10},
		{"past the end", Query{Offset: 100}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, err := List(store, mainnet, tt.q)
			if err != nil || len(ls) != tt.want {
				t.Fatalf("%d labels, %v; want %d", len(ls), err, tt.want)
			}
			if tt.name == "page" && !reflect.DeepEqual(ls, all[5:15]) {
				t.Errorf("page differs from all[5:15]")
			}
		})
	}
	if _, err := List(store, mainnet, Query{Address: "nope"}); !errors.Is(err, ErrBadInput) {
		t.Errorf("bad address: %v", err)
	}
	if _, err := List(store, mainnet, Query{Limit: -1}); !errors.Is(err, ErrBadInput) {
		t.Errorf("negative limit: %v", err)
	}
	// ForAddress agrees with List and finds nothing for another network.
	k, _ := chain.ParseAddress(mainnet, "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG")
	fa, err := ForAddress(store, mainnet, k)
	if err != nil || len(fa) != 2 || fa[0].Key != k {
		t.Errorf("ForAddress: %+v %v", fa, err)
	}
	if fr, err := ForAddress(store, regtest, k); err != nil || len(fr) != 0 {
		t.Errorf("ForAddress on regtest: %+v %v", fr, err)
	}
	// A key that is a prefix of another key's bytes matches nothing.
	if fp, err := ForAddress(store, mainnet, k[:10]); err != nil || len(fp) != 0 {
		t.Errorf("ForAddress of a key prefix: %+v %v", fp, err)
	}

	j, err := json.Marshal(fa[0])
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/case.csv")
	wantJSON := `{"address":"3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG","label":"Thief deposit","category":"perpetrator",` +
		`"source":"case-2025-017","confidence":"ownership","confidence_level":100,"abuse":"","actor":"","context":"",` +
		`"is_cluster_definer":false,"lastmod":"","file":` + jsonString(abs) + `,"file_sha256":"` + fileSHA(t, abs) + `",` +
		`"imported_at":"2025-12-01T10:30:00Z"}`
	if string(j) != wantJSON {
		t.Errorf("JSON\n got %s\nwant %s", j, wantJSON)
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestCorrupt(t *testing.T) {
	k, _ := chain.ParseAddress(mainnet, "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG")
	nid, _ := netID(mainnet)
	tests := []struct {
		name string
		set  func(b kv.Batch)
		want string
	}{
		{"version", func(b kv.Batch) { b.Set(key(kVersion), []byte{9}) }, "labels: corrupt data: label schema version 09, this cointrail reads 1"},
		{"record", func(b kv.Batch) { b.Set(labelKey(kAddr, nid, string(k), 1, 7), []byte{200}) }, "labels: corrupt data: label record: bad length of field 0"},
		{"key", func(b kv.Batch) { b.Set([]byte{prefix, kAddr, nid, 30, 1, 2}, nil) }, "labels: corrupt data: label key 4c6101" + "1e0102"},
		{"no manifest", func(b kv.Batch) {
			b.Set(labelKey(kAddr, nid, string(k), 99, 0), record{label: "x"}.encode())
		}, "labels: corrupt data: label of file 99 has no manifest"},
		{"manifest", func(b kv.Batch) { b.Set(key(kFile, u32(1)), []byte{1, 2}) }, "labels: corrupt data: manifest of file 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			if _, err := Import(store, mainnet, []string{"testdata/case.csv"}, testNow, testLog(t)); err != nil {
				t.Fatal(err)
			}
			b := store.NewBatch()
			tt.set(b)
			if err := b.Commit(false); err != nil {
				t.Fatal(err)
			}
			b.Close()
			_, err := List(store, mainnet, Query{})
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrCorrupt) {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct{ head, want string }{
		{"<?xml version=\"1.0\"?>\n<Sanctions>", "ofac-sdn"},
		{"\xef\xbb\xbf  <Sanctions>", "ofac-sdn"},
		{"title: x\ncreator: y\n", "tagpack"},
		{"# a comment\n\n---\ntitle: x\n", "tagpack"},
		{"is_cluster_definer:\n", "tagpack"},
		{"address,label,category\n", "csv"},
		{"# note: a comment\n1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3,Case 7: thief,perpetrator\n", "csv"},
		{"http://x.org,a,b\n", "csv"},
		{"", "csv"},
	}
	for _, tt := range tests {
		if got := sniff([]byte(tt.head)); got != tt.want {
			t.Errorf("sniff(%q) = %s, want %s", tt.head, got, tt.want)
		}
	}
}

func FuzzRecord(f *testing.F) {
	f.Add(record{label: "Lazarus group", source: "s", confidence: "ownership", level: 100, clusterDefiner: true}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		r2, err := decodeRecord(r.encode())
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v → %+v, %v", r, r2, err)
		}
	})
}

// BenchmarkImportTagpacks imports every GraphSense TagPack of
// ../shared/data into a fresh store.
func BenchmarkImportTagpacks(b *testing.B) {
	files := tagpackFiles(b)
	tags := 0
	for b.Loop() {
		b.StopTimer()
		store, err := kv.OpenPebble(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := Import(store, mainnet, files, testNow, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		tags += st.Applied + st.SkippedOtherCurrency + st.SkippedOtherNetwork + st.SkippedBadAddress + st.SkippedDuplicate
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(tags)/b.Elapsed().Seconds(), "tags/s")
}
