package kv

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/rodir"
)

// fill writes n keys, the last batch without sync so that it lives only in
// the WAL a read-only open must replay.
func fill(t *testing.T, dir string, n int) {
	t.Helper()
	st, err := OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b := st.NewBatch()
		b.Set(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i))
		if err := b.Commit(i < n-1); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store on a read-only mount opens read-only, reads everything committed
// (the WAL's tail too), refuses writes, and leaves every file as it was.
func TestPebbleReadOnly(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 50)
	if _, err := OpenPebble(rodir.Mount(t, dir)); err == nil {
		t.Fatal("a writable open of a read-only mount succeeded") // the premise of the test
	}
	view := rodir.Mount(t, dir)
	before := rodir.Record(t, view)
	st, err := OpenPebbleReadOnly(view)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 25, 49} {
		if v, err := st.Get(fmt.Appendf(nil, "k%03d", i)); err != nil || string(v) != fmt.Sprint("v", i) {
			t.Fatalf("key %d: %q, %v", i, v, err)
		}
	}
	b := st.NewBatch()
	b.Set([]byte("new"), []byte("x"))
	if err := b.Commit(true); !errors.Is(err, ErrStore) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("a write to a read-only store: %v, want %v … read-only", err, ErrStore)
	}
	b.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if d := before.Diff(rodir.Record(t, view)); len(d) > 0 {
		t.Fatalf("the read-only open changed the store:\n%s", strings.Join(d, "\n"))
	}
}

// A reader and a writer of one directory exclude each other, whichever
// opened first, within one process too.
func TestPebbleReadOnlyLock(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 3)
	w, err := OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := OpenPebbleReadOnly(dir); err == nil {
		r.Close()
		t.Fatal("a reader opened a store a writer holds")
	}
	w.Close()
	r, err := OpenPebbleReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := OpenPebbleReadOnly(dir)
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	if w, err := OpenPebble(dir); err == nil {
		w.Close()
		t.Fatal("a writer opened a store readers hold")
	}
	r.Close()
	if w, err := OpenPebble(dir); err == nil {
		w.Close()
		t.Fatal("a writer opened a store a reader still holds")
	}
	r2.Close()
	w, err = OpenPebble(dir)
	if err != nil {
		t.Fatalf("a writer after the readers closed: %v", err)
	}
	w.Close()
}
