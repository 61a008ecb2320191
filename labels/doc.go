// Package labels is cointrail's attribution store: who is behind an address
// (or a transaction), according to whom, and how sure they are. Every label
// keeps its provenance — source, confidence, the file it came from (path and
// SHA-256) and when it was imported — so an investigator can always say why
// an address is flagged.
//
// Labels come from three file formats, detected from content (each may be
// bzip2-compressed): GraphSense TagPacks (YAML), the OFAC SDN list in its
// advanced XML form, and a plain CSV for an investigator's own case labels.
// They live in the same Pebble store as the index, under keys that begin with
// 'L' (schema in docs/labels.md), and can be imported before or without any
// chain data. Trace and screening read them through ForAddress and All.
package labels
