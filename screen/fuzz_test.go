package screen

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParsePolicy: ParsePolicy never panics, and a policy it accepts,
// written out as YAML, parses back to the same policy.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("rules:\n- categories: [scam]\n  direct: high\n  indirect: [{min_share: 0.1, level: medium}]\n"))
	f.Add([]byte(`{"rules":[{"categories":["sanction"],"direct":"severe"}]}`))
	f.Add([]byte("rules: [{categories: [a, A]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePolicy(out)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("%q → %+v → %q → %+v, %v", b, p, out, q, err)
		}
	})
}
