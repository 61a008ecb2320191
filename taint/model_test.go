package taint

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseModels(t *testing.T) {
	tests := []struct {
		in   string
		want []Model
		err  string
	}{
		{"haircut,fifo", []Model{Haircut, FIFO}, ""},
		{" LIFO , tiho,poison ", []Model{LIFO, TIHO, Poison}, ""},
		{"all", AllModels, ""},
		{"ALL", AllModels, ""},
		{"fifo", []Model{FIFO}, ""},
		{"", nil, "taint: bad parameters: no model given (valid: poison, haircut, fifo, lifo, tiho, or all)"},
		{"  ", nil, "taint: bad parameters: no model given (valid: poison, haircut, fifo, lifo, tiho, or all)"},
		{"fifo,", nil, `taint: bad parameters: unknown model "" (valid: poison, haircut, fifo, lifo, tiho)`},
		{"haircut,fofo", nil, `taint: bad parameters: unknown model "fofo" (valid: poison, haircut, fifo, lifo, tiho)`},
		{"fifo,FIFO", nil, "taint: bad parameters: model fifo given twice"},
		{"a,b,c,d,e,f", nil, "taint: bad parameters: 6 models given, there are only 5"},
		{"all,fifo", nil, `taint: bad parameters: unknown model "all" (valid: poison, haircut, fifo, lifo, tiho)`},
	}
	for _, tc := range tests {
		got, err := ParseModels(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrBadParams) {
				t.Errorf("ParseModels(%q) err %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseModels(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDirection(t *testing.T) {
	for _, d := range []Direction{Forward, Backward} {
		got, err := ParseDirection(strings.ToUpper(d.String()))
		if err != nil || got != d {
			t.Errorf("ParseDirection(%s) = %v, %v", d, got, err)
		}
	}
	if _, err := ParseDirection("sideways"); err == nil || err.Error() != `taint: bad parameters: unknown direction "sideways" (valid: forward, backward)` {
		t.Errorf("err %v", err)
	}
}

func FuzzParseModels(f *testing.F) {
	for _, s := range []string{"haircut,fifo", "all", "", "poison, lifo ,TIHO", "fifo,fifo", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseModels(s)
		if err != nil {
			if !errors.Is(err, ErrBadParams) || ms != nil {
				t.Fatalf("ParseModels(%q) = %v, %v", s, ms, err)
			}
			return
		}
		if len(ms) == 0 || len(ms) > len(AllModels) {
			t.Fatalf("ParseModels(%q) = %v", s, ms)
		}
		names := make([]string, len(ms))
		for i, m := range ms {
			if !m.Valid() || slices.Contains(ms[:i], m) {
				t.Fatalf("ParseModels(%q) = %v", s, ms)
			}
			names[i] = m.String()
		}
		again, err := ParseModels(strings.Join(names, ","))
		if err != nil || !slices.Equal(again, ms) {
			t.Fatalf("round trip of %v: %v, %v", ms, again, err)
		}
	})
}
