package labels

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cointrail/cointrail/chain"
)

// Label is one attribution of an address (or, for a TagPack tag with a
// tx_hash, of a transaction) with its provenance.
type Label struct {
	// Key is the address's binary identity; empty for a transaction label.
	Key              chain.AddrKey `json:"-"`
	Address          string        `json:"address"`
	TxHash           string        `json:"tx_hash,omitempty"`
	Label            string        `json:"label"`
	Category         string        `json:"category"`
	Source           string        `json:"source"`
	Confidence       string        `json:"confidence"`
	ConfidenceLevel  int           `json:"confidence_level"`
	Abuse            string        `json:"abuse"`
	Actor            string        `json:"actor"`
	Context          string        `json:"context"`
	IsClusterDefiner bool          `json:"is_cluster_definer"`
	Lastmod          string        `json:"lastmod"`
	File             string        `json:"file"`
	FileSHA256       string        `json:"file_sha256"`
	ImportedAt       time.Time     `json:"imported_at"`
}

// Query selects labels for List. Empty fields match everything. Address is
// an address of the store's network or a 64-hex-digit txid; Label and
// Source match case-insensitive substrings; Category matches exactly
// (case-insensitive). Offset and Limit page the sorted result; Limit 0
// means no limit.
type Query struct {
	Address  string
	Label    string
	Source   string
	Category string
	Limit    int
	Offset   int
}

// GraphSense's confidence taxonomy (graphsense-tagpack-tool
// src/tagpack/db/confidence.csv): an id and a level from 0 to 100.
var confidences = []struct {
	name  string
	level uint8
}{
	{"override", 100},
	{"ownership", 100},
	{"ledger_immanent", 100},
	{"manual_transaction", 90},
	{"service_api", 70},
	{"forensic_investigation", 70},
	{"authority_data", 60},
	{"trusted_provider", 50},
	{"service_data", 50},
	{"forensic", 50},
	{"untrusted_transaction", 40},
	{"web_crawl", 20},
	{"heuristic", 10},
	{"unknown", 5},
}

// ConfidenceLevel returns the numeric level (0–100) of a GraphSense
// confidence id such as "authority_data".
func ConfidenceLevel(name string) (int, bool) {
	for _, c := range confidences {
		if c.name == name {
			return int(c.level), true
		}
	}
	return 0, false
}

func confidenceNames() string {
	n := make([]string, len(confidences))
	for i, c := range confidences {
		n[i] = c.name
	}
	return strings.Join(n, ", ")
}

// categories are the ids a CSV label may use: the GraphSense concepts that
// matter when tracing Bitcoin (entities, then abuses). TagPack categories are
// kept as the pack says.
var categories = []string{
	"user", "victim", "perpetrator", "donation", "organization", "service",
	"exchange", "wallet_service", "escrow_wallet", "hot_wallet", "cold_wallet",
	"mixing_service", "coinjoin", "miner", "mining_service", "gambling", "market",
	"shop", "payment_processor", "atm", "faucet", "defi_bridge",
	"sanction", "scam", "ransomware", "service_hack", "hacking", "phishing",
	"extortion", "sextortion", "money_laundering", "malware", "drugs",
	"dark_web", "terrorism_financing", "unknown",
}

// Categories lists the category ids a CSV file may use, in a fixed order.
func Categories() []string { return slices.Clone(categories) }

// record is what the store keeps per label besides its subject and file.
// It is comparable, so a file's duplicate tags can be dropped via a map.
type record struct {
	label, category, source, confidence, abuse, actor, context, lastmod string
	level                                                               uint8
	clusterDefiner                                                      bool
}

// maxField bounds every text field of a label, in the file and in the store.
const maxField = 64 << 10

func (r *record) strings() [8]*string {
	return [8]*string{&r.label, &r.category, &r.source, &r.confidence, &r.abuse, &r.actor, &r.context, &r.lastmod}
}

// encode: 8 uvarint-length-prefixed strings (label, category, source,
// confidence, abuse, actor, context, lastmod), then level u8, flags u8
// (bit 0: is_cluster_definer).
func (r record) encode() []byte {
	n := 2
	for _, s := range r.strings() {
		n += binary.MaxVarintLen32 + len(*s)
	}
	b := make([]byte, 0, n)
	for _, s := range r.strings() {
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	var flags byte
	if r.clusterDefiner {
		flags = 1
	}
	return append(b, r.level, flags)
}

func decodeRecord(b []byte) (record, error) {
	var r record
	for i, s := range r.strings() {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) || n > maxField {
			return record{}, fmt.Errorf("%w: label record: bad length of field %d", ErrCorrupt, i)
		}
		*s = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if len(b) != 2 || b[0] > 100 || b[1] > 1 {
		return record{}, fmt.Errorf("%w: label record: bad trailer", ErrCorrupt)
	}
	r.level, r.clusterDefiner = b[0], b[1] == 1
	return r, nil
}
