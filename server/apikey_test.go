package server

import (
	"errors"
	"testing"
	"time"

	"github.com/cointrail/cointrail/kv"
)

// A key name is shown in `apikey list` and logs: one line, no control
// characters or bidi overrides.
func TestCreateAPIKeyName(t *testing.T) {
	st, err := kv.OpenPebble(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{"ops\nforged", "ops\x1b[2J", "ops\u202e", "ops\x00", "bad\xff"} {
		_, _, err := CreateAPIKey(st, RoleRead, name, time.Now())
		if want := "server: bad input: key name: at most 200 characters of one line, no control characters"; err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, rec, err := CreateAPIKey(st, RoleRead, "Опс team ✓", time.Now()); err != nil || rec.Name != "Опс team ✓" {
		t.Errorf("a plain name: %+v %v", rec, err)
	}
}
