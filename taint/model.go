package taint

import (
	"fmt"
	"strings"
)

// Model is a taint model: the rule that says how much of a transaction's
// tainted input value each output (and the fee) carries.
type Model uint8

// The models. The zero Model is "unset" and rejected by Trace.
const (
	Poison  Model = iota + 1 // any tainted input taints every output and the fee in full
	Haircut                  // taint in proportion to value
	FIFO                     // first in, first out: value is a stream cut in order
	LIFO                     // last in, first out: the stream cut from its end
	TIHO                     // taint in, highest out
)

var modelNames = [...]string{Poison: "poison", Haircut: "haircut", FIFO: "fifo", LIFO: "lifo", TIHO: "tiho"}

// AllModels lists the models in a fixed order.
var AllModels = []Model{Poison, Haircut, FIFO, LIFO, TIHO}

const validModels = "poison, haircut, fifo, lifo, tiho"

func (m Model) String() string {
	if m >= Poison && m <= TIHO {
		return modelNames[m]
	}
	return fmt.Sprintf("model(%d)", uint8(m))
}

// Valid reports whether m is one of the five models.
func (m Model) Valid() bool { return m >= Poison && m <= TIHO }

// MarshalText makes a Model a JSON string.
func (m Model) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// segmented reports whether the model tracks where inside an output the taint
// sits (FIFO, LIFO) rather than only how much.
func (m Model) segmented() bool { return m == FIFO || m == LIFO }

// ParseModel parses one model name, case-insensitively.
func ParseModel(s string) (Model, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for m := Poison; m <= TIHO; m++ {
		if modelNames[m] == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown model %q (valid: %s)", ErrBadParams, s, validModels)
}

// ParseModels parses a comma-separated list such as "haircut,fifo"; "all"
// means every model. Names may not repeat.
func ParseModels(s string) ([]Model, error) {
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return append([]Model(nil), AllModels...), nil
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: no model given (valid: %s, or all)", ErrBadParams, validModels)
	}
	parts := strings.Split(s, ",")
	if len(parts) > len(AllModels) {
		return nil, fmt.Errorf("%w: %d models given, there are only %d", ErrBadParams, len(parts), len(AllModels))
	}
	out := make([]Model, 0, len(parts))
	var seen [TIHO + 1]bool
	for _, p := range parts {
		m, err := ParseModel(p)
		if err != nil {
			return nil, err
		}
		if seen[m] {
			return nil, fmt.Errorf("%w: model %s given twice", ErrBadParams, m)
		}
		seen[m] = true
		out = append(out, m)
	}
	return out, nil
}

// Direction says which way a trace walks.
type Direction uint8

const (
	// Forward follows value to the transactions that spend it.
	Forward Direction = iota
	// Backward follows value to the transactions it came from.
	Backward
)

func (d Direction) String() string {
	switch d {
	case Forward:
		return "forward"
	case Backward:
		return "backward"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// MarshalText makes a Direction a JSON string.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText wrote (a result's params, re-run).
func (d *Direction) UnmarshalText(b []byte) error {
	v, err := ParseDirection(string(b))
	if err == nil {
		*d = v
	}
	return err
}

// ParseDirection parses "forward" or "backward".
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "forward":
		return Forward, nil
	case "backward":
		return Backward, nil
	}
	return 0, fmt.Errorf("%w: unknown direction %q (valid: forward, backward)", ErrBadParams, s)
}
