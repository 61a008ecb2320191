package labels

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// sdnXBT is the OFAC feature type whose values are Bitcoin addresses.
const sdnXBT = "Digital Currency Address - XBT"

// SDN labels: the sanctioned party's primary name, with this provenance.
const (
	sdnSource     = "OFAC SDN"
	sdnCategory   = "sanction"
	sdnConfidence = "authority_data"
)

type sdnFeature struct {
	typ, value string
	line       int
}

// parseSDN streams the OFAC SDN list in its advanced XML form
// (sdn_advanced.xml). The feature type "Digital Currency Address - XBT" is
// looked up by name in the reference value sets; each DistinctParty's
// Profile carries its features (one address each) and an Identity whose
// primary Alias has the "Primary Latin" documented name. DateOfIssue becomes
// every label's lastmod.
func parseSDN(s *sink, r io.Reader) error {
	d := xml.NewDecoder(r)
	var (
		depth                       int
		sawRoot                     bool
		xbtID, ftID                 string
		inFeatureType               bool
		date                        [3]int // year, month, day
		dateField                   = -1
		inDate                      bool
		fixedRef, name              string
		inProfile, nameDone         bool
		inIdentity, inAlias, inName bool
		inPart, inDetail, inFeature bool
		parts                       []string
		features                    []sdnFeature
		feat                        sdnFeature
		text                        strings.Builder
	)
	line := func() int { l, _ := d.InputPos(); return l }
	attr := func(e xml.StartElement, n string) string {
		for _, a := range e.Attr {
			if a.Name.Local == n {
				return a.Value
			}
		}
		return ""
	}
	emit := func() error {
		for _, f := range features {
			if xbtID == "" || f.typ != xbtID {
				continue
			}
			if name == "" {
				return s.errorf(f.line, "SDN party %s has a digital currency address but no primary name", fixedRef)
			}
			if date[0] == 0 {
				return s.errorf(f.line, "no DateOfIssue before the first party")
			}
			if msg := checkText("SDN party "+fixedRef+" name", name); msg != "" {
				return s.errorf(f.line, "%s", msg)
			}
			rec := record{
				label: name, category: sdnCategory, abuse: sdnCategory, source: sdnSource,
				confidence: sdnConfidence, level: 60,
				lastmod: fmt.Sprintf("%04d-%02d-%02d", date[0], date[1], date[2]),
				context: fmt.Sprintf(`{"sdn_fixed_ref":%q}`, fixedRef),
			}
			kind, subj, reason, msg := s.subject(f.value, "")
			if reason != "" {
				s.skip(reason, f.line, msg)
				continue
			}
			s.add(f.line, kind, subj, rec, f.value)
		}
		return nil
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return s.errorf(se.Line, "XML: %s", se.Msg)
			}
			return s.errorf(line(), "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if !sawRoot {
				if t.Name.Local != "Sanctions" {
					return s.errorf(line(), "XML root is <%s>, want the <Sanctions> of OFAC's sdn_advanced.xml", t.Name.Local)
				}
				sawRoot = true
				continue
			}
			text.Reset()
			switch t.Name.Local {
			case "DateOfIssue":
				inDate = true
			case "Year", "Month", "Day":
				if inDate {
					dateField = strings.Index("YearMonthDay", t.Name.Local) / 4 // 0, 1, 2
				}
			case "FeatureType":
				inFeatureType, ftID = true, attr(t, "ID")
			case "DistinctParty":
				fixedRef = attr(t, "FixedRef")
			case "Profile":
				inProfile, name, nameDone, features = true, "", false, features[:0]
			case "Identity":
				inIdentity = inProfile && attr(t, "Primary") == "true"
			case "Alias":
				inAlias = inIdentity && attr(t, "Primary") == "true"
			case "DocumentedName":
				inName, parts = inAlias && !nameDone && attr(t, "DocNameStatusID") == "1", parts[:0]
			case "NamePartValue":
				inPart = inName
			case "Feature":
				if inProfile {
					inFeature, feat = true, sdnFeature{typ: attr(t, "FeatureTypeID"), line: line()}
				}
			case "VersionDetail":
				inDetail = inFeature
			}
		case xml.CharData:
			if inPart || inDetail || inFeatureType || dateField >= 0 {
				if text.Len()+len(t) > maxField {
					return s.errorf(line(), "text longer than %d bytes", maxField)
				}
				text.Write(t)
			}
		case xml.EndElement:
			depth--
			v := strings.TrimSpace(text.String())
			switch t.Name.Local {
			case "DateOfIssue":
				inDate = false
			case "Year", "Month", "Day":
				if dateField >= 0 {
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 || n > [3]int{9999, 12, 31}[dateField] {
						return s.errorf(line(), "bad DateOfIssue %s %q", t.Name.Local, v)
					}
					date[dateField], dateField = n, -1
				}
			case "FeatureType":
				if inFeatureType && v == sdnXBT {
					xbtID = ftID
				}
				inFeatureType = false
			case "NamePartValue":
				if inPart && v != "" {
					parts = append(parts, v)
				}
				inPart = false
			case "DocumentedName":
				if inName {
					name, nameDone, inName = strings.Join(parts, " "), true, false
				}
			case "Alias":
				inAlias = false
			case "Identity":
				inIdentity = false
			case "VersionDetail":
				if inDetail {
					feat.value, inDetail = v, false
				}
			case "Feature":
				if inFeature {
					features, inFeature = append(features, feat), false
				}
			case "Profile":
				if err := emit(); err != nil {
					return err
				}
				inProfile = false
			}
			text.Reset()
		}
	}
	switch {
	case !sawRoot:
		return s.errorf(0, "no XML element found")
	case depth != 0:
		return s.errorf(line(), "XML: unexpected end of file")
	case xbtID == "":
		return s.errorf(0, "no feature type %q: not OFAC's sdn_advanced.xml", sdnXBT)
	}
	return nil
}
