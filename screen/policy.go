package screen

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Level is a risk level. Levels are ordered: None < Low < Medium < High < Severe.
type Level uint8

// The levels.
const (
	None Level = iota
	Low
	Medium
	High
	Severe
)

var levelNames = [...]string{"none", "low", "medium", "high", "severe"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel parses a level name, case-insensitively.
func ParseLevel(s string) (Level, error) {
	l, err := parseLevel(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return l, nil
}

func parseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown risk level %q (valid: %s)", s, strings.Join(levelNames[:], ", "))
}

// MarshalText makes a Level a JSON/YAML string.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses a level name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := parseLevel(string(b))
	*l = v
	return err
}

// Policy turns exposure into a risk level. Each rule names label
// categories (a label counts under its category and under its abuse, as
// GraphSense tags carry both); a category belongs to at most one rule. The
// risk of a target is the highest level any rule gives:
//
//   - Direct: the level when the target itself (the address, its cluster
//     through a cluster-defining label, or the transaction) has a label of
//     one of the rule's categories;
//   - Indirect: for the share of the target's received value that came from
//     sources of the rule's categories within the screened hops, the
//     highest level among the thresholds that share (and sats) reach. Any
//     nonzero exposure reaches a threshold with min_share 0.
type Policy struct {
	Rules []Rule `json:"rules" yaml:"rules"`
}

// Rule is the policy for a set of categories.
type Rule struct {
	Categories []string    `json:"categories" yaml:"categories"`
	Direct     Level       `json:"direct" yaml:"direct"`
	Indirect   []Threshold `json:"indirect" yaml:"indirect"`
}

// Threshold gives Level to indirect exposure of at least MinShare (a
// fraction 0..1 of the received value) and at least MinSat satoshis.
type Threshold struct {
	MinShare float64 `json:"min_share" yaml:"min_share"`
	MinSat   int64   `json:"min_sat" yaml:"min_sat"`
	Level    Level   `json:"level" yaml:"level"`
}

// DefaultPolicy is the policy used when none is given (docs/screening.md).
func DefaultPolicy() *Policy {
	return &Policy{Rules: []Rule{
		{Categories: []string{"sanction", "terrorism_financing"}, Direct: Severe,
			Indirect: []Threshold{{MinShare: 0, Level: High}, {MinShare: 0.10, Level: Severe}}},
		{Categories: []string{"service_hack", "hacking", "theft", "ransomware", "scam", "phishing", "extortion", "sextortion",
			"malware", "money_laundering", "perpetrator", "dark_web", "darknet_market", "drugs"}, Direct: High,
			Indirect: []Threshold{{MinShare: 0, Level: Low}, {MinShare: 0.01, Level: Medium}, {MinShare: 0.10, Level: High}}},
		{Categories: []string{"mixing_service", "coinjoin"}, Direct: Medium,
			Indirect: []Threshold{{MinShare: 0.05, Level: Low}, {MinShare: 0.25, Level: Medium}}},
		{Categories: []string{"gambling"}, Direct: Low,
			Indirect: []Threshold{{MinShare: 0.50, Level: Low}}},
	}}
}

// LoadPolicy reads a policy file (YAML, or JSON, which is YAML too).
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: policy: %v", ErrBadInput, err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy parses and validates a policy; unknown fields are errors.
func ParsePolicy(b []byte) (*Policy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: policy: %v", ErrBadInput, err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Rules == nil {
		p.Rules = []Rule{}
	}
	for i := range p.Rules {
		if p.Rules[i].Indirect == nil {
			p.Rules[i].Indirect = []Threshold{}
		}
	}
	return &p, nil
}

// Validate checks a policy: every rule names categories, no category is in
// two rules, shares are within 0..1 and sats not negative.
func (p *Policy) Validate() error {
	seen := map[string]int{}
	for i, r := range p.Rules {
		if len(r.Categories) == 0 {
			return fmt.Errorf("%w: policy rule %d names no category", ErrBadInput, i+1)
		}
		for _, c := range r.Categories {
			c = norm(c)
			if c == "" {
				return fmt.Errorf("%w: policy rule %d has an empty category", ErrBadInput, i+1)
			}
			if j, ok := seen[c]; ok {
				return fmt.Errorf("%w: category %q is in policy rules %d and %d", ErrBadInput, c, j, i+1)
			}
			seen[c] = i + 1
		}
		if r.Direct > Severe {
			return fmt.Errorf("%w: policy rule %d: direct level %d", ErrBadInput, i+1, r.Direct)
		}
		for _, t := range r.Indirect {
			if !(t.MinShare >= 0 && t.MinShare <= 1) || t.MinSat < 0 || t.Level > Severe {
				return fmt.Errorf("%w: policy rule %d: threshold %+v (want min_share in 0..1, min_sat ≥ 0)", ErrBadInput, i+1, t)
			}
		}
	}
	return nil
}

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// rule returns the rule of category c, or nil.
func (p *Policy) rule(c string) *Rule {
	c = norm(c)
	for i := range p.Rules {
		if slices.ContainsFunc(p.Rules[i].Categories, func(x string) bool { return norm(x) == c }) {
			return &p.Rules[i]
		}
	}
	return nil
}

// DirectLevel is the level a label of category c on the target gives.
func (p *Policy) DirectLevel(c string) Level {
	if r := p.rule(c); r != nil {
		return r.Direct
	}
	return None
}

// IndirectLevel is the level indirect exposure of sat satoshis, share of
// the received value, to category c gives.
func (p *Policy) IndirectLevel(c string, share float64, sat int64) Level {
	r := p.rule(c)
	if r == nil || sat <= 0 {
		return None
	}
	l := None
	for _, t := range r.Indirect {
		if share >= t.MinShare && sat >= t.MinSat {
			l = max(l, t.Level)
		}
	}
	return l
}
