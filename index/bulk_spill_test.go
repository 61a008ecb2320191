package index

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

// TestSpillRedone: a spill started again in the same directory (its phase
// killed and redone from the start) holds the new run's records only, even
// when the killed run left a bucket with a torn last record.
func TestSpillRedone(t *testing.T) {
	dir := t.TempDir()
	fill := func() {
		s, err := newSpill(dir, "atab", 3, 128)
		if err != nil {
			t.Fatal(err)
		}
		var rec [12]byte
		for i := range 100 {
			binary.LittleEndian.PutUint64(rec[:], uint64(i))
			if err := s.add(i%3, rec[:]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.finish(); err != nil {
			t.Fatal(err)
		}
	}
	fill()
	want, err := readBucket(dir + "/atab.00001")
	if err != nil || len(want) != 33*12 {
		t.Fatalf("bucket 1: %d bytes, %v", len(want), err)
	}
	// The kill tore a write: 5 bytes of a record.
	f, err := os.OpenFile(dir+"/atab.00001", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2, 3, 4, 5})
	f.Close()
	fill()
	if got, _ := readBucket(dir + "/atab.00001"); !bytes.Equal(got, want) {
		t.Fatalf("redone bucket holds %d bytes, want %d", len(got), len(want))
	}
}
