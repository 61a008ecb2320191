package screen

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/testchain"
	"github.com/cointrail/cointrail/labels"
)

func TestScreenCSV(t *testing.T) {
	ix, truth := simIndex(t, true)
	ctx := context.Background()
	unknown := strings.Repeat("ab", 32)
	targets := []string{truth.AttackerAddress, truth.TaintedOutputs[1].Address, truth.TheftTxid, "nonsense", unknown,
		"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", truth.VictimAddress}
	in := "address,note\n" + strings.Join(targets, ",x\n") + "\n# a comment\n"
	var out bytes.Buffer
	done, failed, err := ScreenCSV(ctx, ix, strings.NewReader(in), &out, Options{Hops: 2}, testchain.Log(t))
	if err != nil || done != len(targets) || failed != 3 {
		t.Fatalf("screened %d, failed %d: %v", done, failed, err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(targets)+1 || !slices.Equal(rows[0], CSVHeader) {
		t.Fatalf("rows %q", rows)
	}
	s, err := New(ix, Options{Hops: 2}, testchain.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, target := range targets {
		row := rows[i+1]
		rep, err := s.Screen(ctx, target)
		var want []string
		if err != nil {
			want = []string{target, "", "", "", "", "", "", "", "", "", err.Error()}
		} else {
			want = []string{target, rep.Kind, rep.Risk.String(), fmt.Sprint(rep.Direct.Sat), fmt.Sprintf("%.6f", rep.Direct.Share),
				fmt.Sprint(rep.Indirect.Sat), fmt.Sprintf("%.6f", rep.Indirect.Share), fmt.Sprint(rep.ValueSat), rep.TopCategory, rep.TopLabel, ""}
		}
		if !slices.Equal(row, want) {
			t.Errorf("row %d:\n got %q\nwant %q", i+1, row, want)
		}
	}
	wantErrs := map[int]string{
		4: `screen: bad input: chain: bad input: "nonsense" is not a regtest address`,
		5: fmt.Sprintf("screen: not found: transaction %s is not in the index (tip %d)", unknown, ix.Tip().Height),
		6: `screen: bad input: chain: wrong network: address "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2" is a mainnet address, the index is regtest`,
	}
	for i, msg := range wantErrs {
		if got := rows[i][len(rows[i])-1]; got != msg {
			t.Errorf("row %d error %q, want %q", i, got, msg)
		}
	}
	if rows[1][2] != "high" || rows[2][2] != "high" || rows[3][1] != "tx" {
		t.Errorf("attacker, thief hop and theft rows: %q %q %q", rows[1], rows[2], rows[3])
	}

	// Without a header every row is a target; a malformed file stops.
	out.Reset()
	if done, _, err := ScreenCSV(ctx, ix, strings.NewReader(truth.AttackerAddress+"\n"), &out, Options{}, testchain.Log(t)); err != nil || done != 1 {
		t.Fatalf("headerless: %d, %v", done, err)
	}
	_, _, err = ScreenCSV(ctx, ix, strings.NewReader(truth.AttackerAddress+"\n\"bad\n"), &out, Options{}, testchain.Log(t))
	if !errors.Is(err, ErrBadInput) || err.Error() != `screen: bad input: CSV line 2: extraneous or missing " in quoted-field` {
		t.Fatalf("malformed CSV: %v", err)
	}
}

// Text cells of the CSV are escaped: a target read from the input (and
// quoted back in its error) with a newline, terminal escapes and a bidi
// override comes out as one row of visible escapes.
func TestScreenCSVEscapesText(t *testing.T) {
	ix, _ := simIndex(t, false)
	raw := "evil\x1b[2J\nforged,row\u202e\x07x"
	in := "target\n\"" + raw + "\"\n"
	var out bytes.Buffer
	done, failed, err := ScreenCSV(context.Background(), ix, strings.NewReader(in), &out, Options{Hops: 1}, testchain.Log(t))
	if err != nil || done != 1 || failed != 1 {
		t.Fatalf("screened %d, failed %d: %v", done, failed, err)
	}
	for _, r := range out.String() {
		if r < 0x20 && r != '\n' || r >= 0x202a && r <= 0x202e {
			t.Fatalf("CSV holds U+%04X:\n%q", r, out.String())
		}
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][0] != labels.Escape(raw) || !strings.Contains(rows[1][len(rows[1])-1], "is not a regtest address") {
		t.Fatalf("rows %q", rows)
	}
}
