package labels

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cointrail/cointrail/internal/shareddata"
)

// digestOf maps a file's SHA-256 to its labels digest.
func digestOf(d LabelsDigest) map[string]string {
	m := map[string]string{}
	for _, f := range d.Files {
		m[f.FileSHA256] = f.SHA256
	}
	return m
}

func TestDigest(t *testing.T) {
	lz2 := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	hacks := shareddata.Path(t, "labels", "graphsense-tagpacks", "hacks.yaml")
	csvPath, _ := filepath.Abs("testdata/case.csv")

	a := openStore(t)
	if _, err := Import(a, mainnet, []string{lz2, hacks, csvPath}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	da, err := Digest(a, mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if len(da.Files) != 3 || da.Labels != count(t, a) || da.Labels < 600 {
		t.Fatalf("digest %+v over %d labels", da, count(t, a))
	}
	for _, f := range da.Files {
		if f.FileSHA256 != fileSHA(t, f.Path) {
			t.Errorf("%s: file sha %s", f.Path, f.FileSHA256)
		}
	}
	// Deterministic: asked again, the same.
	if again, _ := Digest(a, mainnet); again.SHA256 != da.SHA256 {
		t.Fatal("two digests of one store differ")
	}

	// The same files copied elsewhere, imported in another order, one at a
	// time, later, and one of them twice: the same digests.
	dir := t.TempDir()
	b := openStore(t)
	for _, p := range []string{csvPath, hacks, lz2, csvPath} {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cp := writeFile(t, dir, filepath.Base(p), string(raw))
		if _, err := Import(b, mainnet, []string{cp}, testNow.Add(time.Hour), testLog(t)); err != nil {
			t.Fatal(err)
		}
	}
	// Labels of another network do not enter the mainnet digest.
	reg := writeFile(t, t.TempDir(), "reg.csv", encodeOn(t, "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", regtest)+",x,victim\n")
	if _, err := Import(b, regtest, []string{reg}, testNow, testLog(t)); err != nil {
		t.Fatal(err)
	}
	db, err := Digest(b, mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if db.SHA256 != da.SHA256 || db.Labels != da.Labels {
		t.Fatalf("the same labels imported elsewhere: %s (%d labels), want %s (%d)", db.SHA256, db.Labels, da.SHA256, da.Labels)
	}
	pa, pb := digestOf(da), digestOf(db)
	for k, v := range pa {
		if pb[k] != v {
			t.Errorf("file %s: digest %s elsewhere, %s here", k, pb[k], v)
		}
	}
	dr, err := Digest(b, regtest)
	if err != nil || len(dr.Files) != 1 || dr.Labels != 1 || dr.SHA256 == db.SHA256 {
		t.Fatalf("regtest digest %+v, %v", dr, err)
	}
	empty, err := Digest(openStore(t), mainnet)
	if err != nil || empty.Labels != 0 || len(empty.Files) != 0 || empty.SHA256 == da.SHA256 {
		t.Fatalf("empty store: %+v, %v", empty, err)
	}

	// A partial removal changes the digest of that file, and only that one.
	if n, err := Remove(b, "case-2025-017"); err != nil || n != 1 {
		t.Fatalf("Remove: %d, %v", n, err)
	}
	dc, _ := Digest(b, mainnet)
	if dc.SHA256 == da.SHA256 {
		t.Fatal("removing a label left the digest unchanged")
	}
	changed := 0
	for k, v := range digestOf(dc) {
		if pa[k] != v {
			changed++
			if k != fileSHA(t, csvPath) {
				t.Errorf("file %s changed", k)
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d file digests changed, want 1", changed)
	}

	// Tampering with one stored byte of a label changes the digest.
	it, err := a.NewIter([]byte{prefix, kAddr}, []byte{prefix, kAddr + 1})
	if err != nil {
		t.Fatal(err)
	}
	if !it.First() {
		t.Fatal("no label")
	}
	k, v := append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)
	it.Close()
	rec, err := decodeRecord(v)
	if err != nil {
		t.Fatal(err)
	}
	rec.label += "x"
	wb := a.NewBatch()
	wb.Set(k, rec.encode())
	if err := wb.Commit(true); err != nil {
		t.Fatal(err)
	}
	wb.Close()
	if dt, err := Digest(a, mainnet); err != nil || dt.SHA256 == da.SHA256 {
		t.Fatalf("tampered label: digest %s, %v", dt.SHA256, err)
	}
}
