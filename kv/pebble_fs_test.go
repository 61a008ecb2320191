package kv

import (
	"errors"
	"testing"

	"github.com/cointrail/cointrail/internal/pebblecrash"
)

// A power cut keeps what was committed with sync and drops what was not.
func TestPebbleFSPowerLoss(t *testing.T) {
	fs := pebblecrash.New()
	st, err := OpenPebbleFS(pebblecrash.Dir, fs)
	if err != nil {
		t.Fatal(err)
	}
	put := func(k string, sync bool) {
		b := st.NewBatch()
		defer b.Close()
		b.Set([]byte(k), []byte("v"))
		if err := b.Commit(sync); err != nil {
			t.Fatal(err)
		}
	}
	put("synced", true)
	put("unsynced", false)
	fs.Crash()
	put("after the cut", true)
	if _, err := st.Get([]byte("after the cut")); err != nil {
		t.Fatalf("before the restart the program sees its writes: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	fs.Restore()
	st, err = OpenPebbleFS(pebblecrash.Dir, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Get([]byte("synced")); err != nil {
		t.Errorf("synced commit lost: %v", err)
	}
	for _, k := range []string{"unsynced", "after the cut"} {
		if _, err := st.Get([]byte(k)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s survived the power cut: %v", k, err)
		}
	}
}
