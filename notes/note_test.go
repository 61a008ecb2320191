package notes

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/kv"
)

func openBook(t *testing.T) (*Book, kv.Store) {
	t.Helper()
	s, err := kv.OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return NewBook(s), s
}

func regtest(t *testing.T) chain.Network {
	n, err := chain.NetworkByName("regtest")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseSubject(t *testing.T) {
	net := regtest(t)
	for _, tc := range []struct{ in, want, err string }{
		{"case:7", "case:7", ""},
		{" case:7 ", "case:7", ""},
		{"case:x", "", `notes: bad input: "case:x": a case subject is case:ID`},
		{strings.Repeat("AB", 32), strings.Repeat("ab", 32), ""},
		{"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", ""},
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "", "notes: bad input"},
	} {
		s, err := ParseSubject(net, tc.in)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) || !errors.Is(err, ErrBadInput) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || s.String() != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, s, err, tc.want)
		}
	}
}

func TestAddForDelete(t *testing.T) {
	b, _ := openBook(t)
	a, _ := ParseSubject(regtest(t), "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
	c := CaseSubject(3)
	now := time.Date(2024, 5, 31, 7, 26, 0, 123, time.FixedZone("JST", 9*3600))
	n1, err := b.Add(a, "  looks like the thief's change\nsee tx 12  ", "kim", now)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := b.Add(c, "freeze request sent to Meridian", "", now)
	if err != nil {
		t.Fatal(err)
	}
	n3, err := b.Add(a, "second", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if n1.ID != 1 || n2.ID != 2 || n3.ID != 3 || n1.Text != "looks like the thief's change\nsee tx 12" || n1.Time.Location() != time.UTC || n1.Time.Nanosecond() != 0 {
		t.Fatalf("notes %+v %+v %+v", n1, n2, n3)
	}
	got, err := b.For(a)
	if err != nil || len(got) != 2 || got[0].ID != 1 || got[1].ID != 3 || got[0].Author != "kim" {
		t.Fatalf("For(address) = %+v, %v", got, err)
	}
	if got, _ := b.For(CaseSubject(4)); len(got) != 0 || got == nil {
		t.Fatalf("For(case 4) = %#v, want empty non-nil", got)
	}
	if err := b.Delete(1); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	all, err := b.All()
	if err != nil || len(all) != 2 || all[0].ID != 3 || all[1].ID != 2 {
		t.Fatalf("All = %+v, %v (want by subject: address notes before case notes)", all, err)
	}
	if n, _ := b.Add(c, "later", "", now); n.ID != 4 {
		t.Fatalf("id after delete %d, want 4", n.ID)
	}
}

func TestAddRefuses(t *testing.T) {
	b, _ := openBook(t)
	c := CaseSubject(1)
	for _, text := range []string{"", "   ", strings.Repeat("x", MaxText+1), "a\x1b]0;pwned\x07", "abc\u202edef", "\xff"} {
		if _, err := b.Add(c, text, "", time.Now()); !errors.Is(err, ErrBadInput) {
			t.Errorf("Add(%q) = %v, want bad input", text, err)
		}
	}
	if all, _ := b.All(); len(all) != 0 {
		t.Fatalf("refused notes were stored: %+v", all)
	}
}

// A note's keys go in one batch: if it never commits (a crash before
// Commit), nothing of it is visible and the next id is unchanged.
func TestAddIsAtomic(t *testing.T) {
	b, s := openBook(t)
	bt := s.NewBatch()
	bt.Set(idKey(1), CaseSubject(1).prefix()[2:])
	bt.Close() // not committed
	if n, err := b.Add(CaseSubject(1), "x", "", time.Now()); err != nil || n.ID != 1 {
		t.Fatalf("after an uncommitted batch: %+v %v", n, err)
	}
}

func TestCorruptNote(t *testing.T) {
	b, s := openBook(t)
	bt := s.NewBatch()
	bt.Set(append(CaseSubject(1).prefix(), 0, 0, 0, 0, 0, 0, 0, 9), []byte("{not json"))
	if err := bt.Commit(true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.For(CaseSubject(1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("For over a corrupt value: %v", err)
	}
}
