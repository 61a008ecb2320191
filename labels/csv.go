package labels

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

var csvColumns = []string{"address", "label", "category", "source", "confidence"}

// CSV defaults: an investigator's own labels come from their investigation.
const (
	csvConfidence = "forensic_investigation"
	csvLevel      = 70
)

// parseCSV reads an investigator's labels: address,label,category[,source,
// confidence] per line, an optional header line, # comments. The address
// may also be a txid. Unlike a TagPack, whose foreign tags are expected,
// every line must apply: a bad address or unknown category is an error.
// source defaults to defaultSource (the file's name); confidence to
// forensic_investigation, and may be a GraphSense confidence id or a level
// 0–100.
func parseCSV(s *sink, r io.Reader, defaultSource string) error {
	if msg := checkText("the file name (the default source)", defaultSource); msg != "" {
		return s.errorf(0, "%s", msg)
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return s.errorf(pe.Line, "CSV: %v", pe.Err)
			}
			return s.errorf(0, "%v", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			if len(rec[i]) > maxField {
				return s.errorf(line, "field %d is longer than %d bytes", i+1, maxField)
			}
			name := fmt.Sprintf("field %d", i+1)
			if i < len(csvColumns) {
				name = csvColumns[i]
			}
			if msg := checkText(name, rec[i]); msg != "" {
				return s.errorf(line, "%s", msg)
			}
		}
		if first && strings.EqualFold(rec[0], "address") {
			if len(rec) < 3 || len(rec) > len(csvColumns) || !slices.EqualFunc(rec, csvColumns[:len(rec)], strings.EqualFold) {
				return s.errorf(line, "header %q: want address,label,category[,source[,confidence]]", strings.Join(rec, ","))
			}
			continue
		}
		if len(rec) < 3 || len(rec) > len(csvColumns) {
			return s.errorf(line, "%d fields, want address,label,category[,source[,confidence]]", len(rec))
		}
		addr, label, cat := rec[0], rec[1], strings.ToLower(rec[2])
		if label == "" {
			return s.errorf(line, "empty label")
		}
		if !slices.Contains(categories, cat) {
			return s.errorf(line, "unknown category %q (want one of %s)", rec[2], strings.Join(categories, ", "))
		}
		r := record{label: label, category: cat, source: defaultSource, confidence: csvConfidence, level: csvLevel}
		if len(rec) > 3 && rec[3] != "" {
			r.source = rec[3]
		}
		if len(rec) > 4 && rec[4] != "" {
			if l, ok := ConfidenceLevel(rec[4]); ok {
				r.confidence, r.level = rec[4], uint8(l)
			} else if n, err := strconv.Atoi(rec[4]); err == nil && n >= 0 && n <= 100 {
				r.confidence, r.level = "", uint8(n)
			} else {
				return s.errorf(line, "confidence %q is neither a GraphSense confidence id nor a level 0-100", rec[4])
			}
		}
		var kind byte
		var subj string
		if len(addr) == 64 {
			if id, err := parseTxid(addr); err == nil {
				kind, subj = kTx, id
			}
		}
		if kind == 0 {
			var reason, msg string
			if kind, subj, reason, msg = s.subject(addr, ""); reason != "" {
				return s.errorf(line, "%s", msg)
			}
		}
		s.add(line, kind, subj, r, addr)
	}
}
