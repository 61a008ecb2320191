package screen

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPolicyLevels(t *testing.T) {
	p := DefaultPolicy()
	for _, tc := range []struct {
		cat   string
		share float64
		sat   int64
		want  Level
	}{
		{"sanction", 0, 0, None},
		{"sanction", 0.000001, 1, High},
		{"sanction", 0.0999, 1000, High},
		{"sanction", 0.10, 1000, Severe},
		{"SANCTION", 1, 1000, Severe},
		{"terrorism_financing", 0.5, 1, Severe},
		{"service_hack", 0.005, 10, Low},
		{"service_hack", 0.01, 10, Medium},
		{"service_hack", 0.0999999, 10, Medium},
		{"service_hack", 0.10, 10, High},
		{"perpetrator", 1, 10, High},
		{"ransomware", 0.02, 10, Medium},
		{"mixing_service", 0.049, 10, None},
		{"mixing_service", 0.05, 10, Low},
		{"mixing_service", 0.25, 10, Medium},
		{"coinjoin", 1, 10, Medium},
		{"gambling", 0.49, 10, None},
		{"gambling", 0.5, 10, Low},
		{"exchange", 1, 10, None},
		{"", 1, 10, None},
	} {
		if got := p.IndirectLevel(tc.cat, tc.share, tc.sat); got != tc.want {
			t.Errorf("indirect %q %.7f %d: %s, want %s", tc.cat, tc.share, tc.sat, got, tc.want)
		}
	}
	for cat, want := range map[string]Level{"sanction": Severe, " Service_Hack ": High, "mixing_service": Medium, "gambling": Low, "exchange": None, "": None} {
		if got := p.DirectLevel(cat); got != want {
			t.Errorf("direct %q: %s, want %s", cat, got, want)
		}
	}
	custom, err := ParsePolicy([]byte(`{"rules": [{"categories": ["scam"], "direct": "medium",
		"indirect": [{"min_share": 0, "min_sat": 1000, "level": "medium"}, {"min_share": 0.5, "min_sat": 1000, "level": "severe"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		share float64
		sat   int64
		want  Level
	}{{0.9, 999, None}, {0.1, 1000, Medium}, {0.5, 1000, Severe}, {0.5, 999, None}} {
		if got := custom.IndirectLevel("scam", tc.share, tc.sat); got != tc.want {
			t.Errorf("custom %.2f %d: %s, want %s", tc.share, tc.sat, got, tc.want)
		}
	}
	if custom.DirectLevel("scam") != Medium || custom.DirectLevel("sanction") != None {
		t.Errorf("custom direct levels %s %s", custom.DirectLevel("scam"), custom.DirectLevel("sanction"))
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown field", "rulez: []\n", "screen: bad input: policy: yaml: unmarshal errors:\n  line 1: field rulez not found in type screen.Policy"},
		{"unknown level", "rules:\n- categories: [scam]\n  direct: extreme\n", `screen: bad input: policy: unknown risk level "extreme" (valid: none, low, medium, high, severe)`},
		{"no category", "rules:\n- direct: high\n", "screen: bad input: policy rule 1 names no category"},
		{"empty category", "rules:\n- categories: [' ']\n", "screen: bad input: policy rule 1 has an empty category"},
		{"category twice", "rules:\n- categories: [scam]\n- categories: [phishing, SCAM]\n", `screen: bad input: category "scam" is in policy rules 1 and 2`},
		{"share above 1", "rules:\n- categories: [scam]\n  indirect: [{min_share: 1.5, level: high}]\n",
			"screen: bad input: policy rule 1: threshold {MinShare:1.5 MinSat:0 Level:high} (want min_share in 0..1, min_sat ≥ 0)"},
		{"negative sats", "rules:\n- categories: [scam]\n  indirect: [{min_sat: -1, level: high}]\n",
			"screen: bad input: policy rule 1: threshold {MinShare:0 MinSat:-1 Level:high} (want min_share in 0..1, min_sat ≥ 0)"},
	} {
		_, err := ParsePolicy([]byte(tc.in))
		if !errors.Is(err, ErrBadInput) || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "none.yaml")
	if _, err := LoadPolicy(missing); err == nil || err.Error() != "screen: bad input: policy: open "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

// TestDocumentedPolicy: the default policy printed in docs/screening.md is
// DefaultPolicy.
func TestDocumentedPolicy(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "screening.md"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- default policy -->\n```yaml\n"
	i := strings.Index(string(doc), marker)
	if i < 0 {
		t.Fatal("docs/screening.md has no default policy block")
	}
	block := string(doc[i+len(marker):])
	block = block[:strings.Index(block, "```")]
	p, err := ParsePolicy([]byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, DefaultPolicy()) {
		t.Errorf("docs/screening.md policy %+v\nDefaultPolicy %+v", p, DefaultPolicy())
	}
}
