package labels

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// TagPack fields a tag carries or inherits from the header.
const (
	fLabel = iota
	fSource
	fCurrency
	fNetwork
	fConfidence
	fContext
	fClusterDefiner
	fLastmod
	fCategory
	fAbuse
	fActor
	fAddress
	fTxHash
	nFields
)

var fieldNames = [nFields]string{
	"label", "source", "currency", "network", "confidence", "context", "is_cluster_definer",
	"lastmod", "category", "abuse", "actor", "address", "tx_hash",
}

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

// parseTagpack reads a GraphSense TagPack: a header mapping whose tag fields
// every tag inherits unless it sets them itself, and a "tags" list. Tags of
// another currency or network are counted, not applied; other header keys
// (title, creator, description, …) and unknown tag keys are ignored.
func parseTagpack(s *sink, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return yamlError(s, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return s.errorf(0, "empty TagPack")
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return s.errorf(root.Line, "TagPack is not a mapping of header fields and tags")
	}
	var header [nFields]*yaml.Node
	var tags *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		if k.Value == "tags" {
			if v.Kind != yaml.SequenceNode {
				return s.errorf(v.Line, "tags is not a list")
			}
			tags = v
			continue
		}
		if err := setField(s, &header, k.Value, v); err != nil {
			return err
		}
	}
	if tags == nil {
		return s.errorf(root.Line, "TagPack has no tags list")
	}
	for _, t := range tags.Content {
		t = resolve(t)
		if t.Kind != yaml.MappingNode {
			return s.errorf(t.Line, "tag is not a mapping")
		}
		vals := header
		for i := 0; i+1 < len(t.Content); i += 2 {
			if err := setField(s, &vals, t.Content[i].Value, resolve(t.Content[i+1])); err != nil {
				return err
			}
		}
		if err := tagpackTag(s, t.Line, &vals); err != nil {
			return err
		}
	}
	return nil
}

func setField(s *sink, vals *[nFields]*yaml.Node, name string, v *yaml.Node) error {
	f := fieldIndex(name)
	if f < 0 {
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		return s.errorf(v.Line, "%s is not a single value", name)
	}
	if len(v.Value) > maxField {
		return s.errorf(v.Line, "%s is longer than %d bytes", name, maxField)
	}
	if msg := checkText(name, v.Value); msg != "" {
		return s.errorf(v.Line, "%s", msg)
	}
	vals[f] = v
	return nil
}

// resolve follows YAML aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// yamlError turns the parser's "yaml: line N: msg" into "file:N: msg".
// yaml.v3 (v3.0.1, frozen) prints scanner errors with 1-based lines but
// parser errors — all of them "did not find expected …" — with 0-based ones,
// omitting line 0; this corrects them.
func yamlError(s *sink, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	if strings.HasPrefix(msg, "did not find expected") {
		line++
	}
	return s.errorf(line, "%s", strings.ReplaceAll(msg, "\n", " "))
}

func tagpackTag(s *sink, line int, vals *[nFields]*yaml.Node) error {
	get := func(f int) string {
		if vals[f] == nil {
			return ""
		}
		return strings.TrimSpace(vals[f].Value)
	}
	lineOf := func(f int) int {
		if vals[f] == nil {
			return line
		}
		return vals[f].Line
	}
	addr, tx := get(fAddress), get(fTxHash)
	switch {
	case addr == "" && tx == "":
		return s.errorf(line, "tag has neither address nor tx_hash")
	case addr != "" && tx != "":
		return s.errorf(line, "tag has both address and tx_hash")
	}
	for _, f := range []int{fLabel, fSource, fCurrency} {
		if get(f) == "" {
			return s.errorf(line, "tag has no %s", fieldNames[f])
		}
	}
	conf := get(fConfidence)
	if conf == "" {
		conf = "unknown" // GraphSense requires it; some packs omit it
	}
	level, ok := ConfidenceLevel(conf)
	if !ok {
		return s.errorf(lineOf(fConfidence), "unknown confidence %q (want one of %s)", conf, confidenceNames())
	}
	definer := false
	if v := get(fClusterDefiner); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s.errorf(lineOf(fClusterDefiner), "is_cluster_definer %q is not true or false", v)
		}
		definer = b
	}
	subject := addr + tx
	if cur := get(fCurrency); !strings.EqualFold(cur, "BTC") {
		s.skip(reasonCurrency, line, "currency "+cur+": "+subject)
		return nil
	}
	// GraphSense names the chain in "network" (BTC); cointrail also accepts
	// its own network names. A tag without one is a mainnet tag.
	if n := get(fNetwork); tagNetwork(n) != s.net.Name {
		if n == "" {
			n = "none (mainnet)"
		}
		s.skip(reasonNetwork, line, "network "+n+": "+subject)
		return nil
	}
	kind, subj, reason, msg := s.subject(addr, tx)
	if reason != "" {
		s.skip(reason, line, msg)
		return nil
	}
	rec := record{
		label: get(fLabel), category: get(fCategory), source: get(fSource), confidence: conf,
		abuse: get(fAbuse), actor: get(fActor), context: get(fContext), lastmod: get(fLastmod),
		level: uint8(level), clusterDefiner: definer,
	}
	s.add(line, kind, subj, rec, subject)
	return nil
}

// tagNetwork maps a tag's network field to a cointrail network name ("" when
// it names none).
func tagNetwork(n string) string {
	switch l := strings.ToLower(n); l {
	case "", "btc", "bitcoin", "mainnet":
		return "mainnet"
	case "testnet", "testnet3":
		return "testnet"
	case "signet", "regtest":
		return l
	}
	return ""
}
