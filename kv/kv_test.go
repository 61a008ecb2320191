package kv

import (
	"bytes"
	"errors"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
		{[]byte{'L', 1, 0xfe}, []byte{'L', 1, 0xff}},
	} {
		if got := PrefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}

func TestPebbleStore(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get([]byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	b := st.NewBatch()
	for _, k := range []string{"a1", "a2", "a3", "b1", "c1"} {
		b.Set([]byte(k), []byte("v"+k))
	}
	if b.Len() != 5 {
		t.Fatalf("batch len %d", b.Len())
	}
	// Nothing is visible before the commit.
	if _, err := st.Get([]byte("a1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted write visible: %v", err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	v, err := st.Get([]byte("a2"))
	if err != nil || string(v) != "va2" {
		t.Fatalf("Get a2 = %q, %v", v, err)
	}
	keys := func(lo, hi []byte) string {
		it, err := st.NewIter(lo, hi)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var s string
		for it.First(); it.Valid(); it.Next() {
			s += string(it.Key()) + " "
		}
		return s
	}
	if got := keys([]byte("a"), PrefixEnd([]byte("a"))); got != "a1 a2 a3 " {
		t.Fatalf("prefix a: %q", got)
	}
	b = st.NewBatch()
	b.DeleteRange([]byte("a2"), []byte("b2"))
	b.Delete([]byte("c1"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := keys(nil, nil); got != "a1 " {
		t.Fatalf("after deletes: %q", got)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if st.DiskSize() <= 0 {
		t.Fatal("DiskSize is 0")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// What was committed survives a reopen.
	st, err = OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.Get([]byte("a1")); err != nil || string(v) != "va1" {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
}
