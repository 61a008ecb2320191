package labels

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/shareddata"
)

// TestImportSDN imports the real SDN list (bzip2) together with lazarus.yaml
// in one batch and cross-checks it against the address lists extracted from
// the SDN list by a third party.
//
// Expected numbers, derived independently with Python's ElementTree over the
// decompressed XML: 519 features of type "Digital Currency Address - XBT"
// (FeatureType ID 344). One value is the TRON address
// TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq (bad address); Blender.io lists
// 3F6bbvS1krsc1qR8FsbTDfYQyvkMm3QvmR twice (duplicate); 1H939dom7i4WDLC…
// belongs to two parties (two labels). So 517 labels on 516 addresses.
func TestImportSDN(t *testing.T) {
	store := openStore(t)
	sdn := shareddata.Path(t, "labels", "ofac", "sdn_advanced-2025-11-19.xml.bz2")
	lz := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus.yaml")
	st, err := Import(store, mainnet, []string{sdn, lz}, testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	f := st.Files[0]
	wantStats := FileStats{
		Path: sdn, SHA256: fileSHA(t, sdn), Format: "ofac-sdn",
		Counts: Counts{Applied: 517, SkippedBadAddress: 1, SkippedDuplicate: 1},
		Examples: []Skip{
			{1505128, reasonDuplicate, "3F6bbvS1krsc1qR8FsbTDfYQyvkMm3QvmR"},
			{1784428, reasonAddress, `"TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq" is not a mainnet address`},
		},
	}
	if !reflect.DeepEqual(f, wantStats) {
		t.Errorf("got  %+v\nwant %+v", f, wantStats)
	}

	byAddr := map[string][]string{} // address → SDN names
	parties := map[string]int{}
	if err := All(store, mainnet, func(l Label) error {
		if l.Source != sdnSource {
			return nil
		}
		if l.Category != "sanction" || l.Abuse != "sanction" || l.Confidence != "authority_data" ||
			l.ConfidenceLevel != 60 || l.Lastmod != "2025-11-19" || l.File != sdn || !strings.HasPrefix(l.Context, `{"sdn_fixed_ref":"`) {
			t.Errorf("bad SDN label %+v", l)
		}
		byAddr[l.Address] = append(byAddr[l.Address], l.Label)
		parties[l.Label]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(byAddr) != 516 {
		t.Errorf("%d addresses, want 516", len(byAddr))
	}
	// The 2020 Lazarus laundering action: lazarus.yaml's 20 BTC addresses are
	// exactly the SDN addresses of Tian Yinyin (8) and Li Jiadong (12).
	for name, n := range map[string]int{"Hydra Market": 117, "Blender.io": 45, "Tian Yinyin": 8, "Li Jiadong": 12} {
		if parties[name] != n {
			t.Errorf("%s: %d labels, want %d", name, parties[name], n)
		}
	}
	// On 2025-11-19 the SDN entry "Lazarus Group" (FixedRef 27307) lists
	// only ETH addresses, so no Bitcoin label carries its name.
	if n := parties["Lazarus Group"]; n != 0 {
		t.Errorf("Lazarus Group has %d XBT labels, want 0", n)
	}
	for _, a := range []string{"134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak", "3N6WeZ6i34taX8Ditser6LKWBcXmt2XXL4"} {
		ls, err := List(store, mainnet, Query{Address: a})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range ls {
			got = append(got, l.Source+": "+l.Label)
		}
		wantName := map[bool]string{true: "Tian Yinyin", false: "Li Jiadong"}[a[0] == '1']
		want := []string{"OFAC SDN: " + wantName,
			"https://www.treasury.gov/resource-center/sanctions/OFAC-Enforcement/Pages/20200302.aspx: Lazarus group"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", a, got, want)
		}
	}

	// Cross-check: the address list of 2025-12-04 (517 lines) is our 516
	// addresses plus the TRON address we skip; no address was added or
	// removed between 2025-11-19 and 2025-12-04.
	txt := readLines(t, shareddata.Path(t, "labels", "ofac", "sanctioned_addresses_XBT-2025-12-04.txt"))
	if len(txt) != 517 {
		t.Fatalf("%d lines in the XBT list", len(txt))
	}
	for _, a := range txt {
		if _, ok := byAddr[a]; !ok && a != "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq" {
			t.Errorf("%s is in the XBT list but not imported", a)
		}
	}
	// The names list of 2025-11-27 names one party per address (all its
	// aliases joined by ';', the first being the primary name in all
	// scripts): it must start with one of our labels for that address.
	var named []struct{ Address, Name string }
	b, err := os.ReadFile(shareddata.Path(t, "labels", "ofac", "sanctioned_addresses_XBT_with_names-2025-11-27.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &named); err != nil || len(named) != 517 {
		t.Fatalf("names list: %d entries, %v", len(named), err)
	}
	for _, e := range named {
		if e.Address == "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq" {
			continue
		}
		if !slices.ContainsFunc(byAddr[e.Address], func(n string) bool { return strings.HasPrefix(e.Name, n) }) {
			t.Errorf("%s: names list says %q, we have %q", e.Address, e.Name, byAddr[e.Address])
		}
	}
}

func readLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

const sdnHead = `<?xml version="1.0" encoding="utf-8"?>
<Sanctions xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML">
  <DateOfIssue CalendarTypeID="1"><Year>2024</Year><Month>3</Month><Day>7</Day></DateOfIssue>
  <ReferenceValueSets><FeatureTypeValues>
    <FeatureType ID="345">Digital Currency Address - ETH</FeatureType>
    <FeatureType ID="344">Digital Currency Address - XBT</FeatureType>
  </FeatureTypeValues></ReferenceValueSets>
  <DistinctParties>
`

const sdnSmall = sdnHead + `    <DistinctParty FixedRef="100"><Profile ID="100">
      <Identity ID="1" Primary="true">
        <Alias AliasTypeID="1400" Primary="false"><DocumentedName DocNameStatusID="1"><DocumentedNamePart><NamePartValue>AKA NAME</NamePartValue></DocumentedNamePart></DocumentedName></Alias>
        <Alias AliasTypeID="1403" Primary="true">
          <DocumentedName DocNameStatusID="1"><DocumentedNamePart><NamePartValue>DOE</NamePartValue></DocumentedNamePart><DocumentedNamePart><NamePartValue> John </NamePartValue></DocumentedNamePart></DocumentedName>
          <DocumentedName DocNameStatusID="2"><DocumentedNamePart><NamePartValue>ДОУ</NamePartValue></DocumentedNamePart></DocumentedName>
        </Alias>
      </Identity>
      <Feature ID="1" FeatureTypeID="344"><FeatureVersion><VersionDetail DetailTypeID="1432">3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG</VersionDetail></FeatureVersion></Feature>
      <Feature ID="2" FeatureTypeID="345"><FeatureVersion><VersionDetail DetailTypeID="1432">0x098B716B8Aaf21512996dC57EB0615e2383E2f96</VersionDetail></FeatureVersion></Feature>
    </Profile></DistinctParty>
    <DistinctParty FixedRef="200"><Profile ID="200">
      <Identity ID="2" Primary="true"><Alias Primary="true"><DocumentedName DocNameStatusID="1"><DocumentedNamePart><NamePartValue>EXAMPLE GROUP</NamePartValue></DocumentedNamePart></DocumentedName></Alias></Identity>
      <Feature ID="3" FeatureTypeID="344"><FeatureVersion><VersionDetail>bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew</VersionDetail></FeatureVersion></Feature>
      <Feature ID="4" FeatureTypeID="344"><FeatureVersion><VersionDetail>3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG</VersionDetail></FeatureVersion></Feature>
    </Profile></DistinctParty>
  </DistinctParties>
</Sanctions>
`

func TestSDNSmall(t *testing.T) {
	store := openStore(t)
	p := writeFile(t, t.TempDir(), "sdn.xml", sdnSmall)
	st, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts != (Counts{Applied: 3}) {
		t.Errorf("counts %+v", st.Counts)
	}
	sdn := func(addr, name, ref string) lite {
		return lite{Address: addr, Label: name, Category: "sanction", Source: "OFAC SDN", Confidence: "authority_data", Level: 60,
			Abuse: "sanction", Context: `{"sdn_fixed_ref":"` + ref + `"}`, Lastmod: "2024-03-07"}
	}
	want := []lite{
		sdn("3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", "DOE John", "100"),
		sdn("3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", "EXAMPLE GROUP", "200"),
		sdn("bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew", "EXAMPLE GROUP", "200"),
	}
	if got := lites(listAll(t, store, mainnet)); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestSDNErrors(t *testing.T) {
	party := `<DistinctParty FixedRef="7"><Profile ID="7"><Feature ID="1" FeatureTypeID="344"><FeatureVersion><VersionDetail>1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3</VersionDetail></FeatureVersion></Feature></Profile></DistinctParty>`
	tests := []struct{ name, xml, want string }{
		{"other root", "<?xml version=\"1.0\"?>\n<html>\n</html>\n", ":2: XML root is <html>, want the <Sanctions> of OFAC's sdn_advanced.xml"},
		{"syntax", sdnHead + "<DistinctParty FixedRef=\"1>\n</DistinctParty>", ":10: XML: unescaped < inside quoted string"},
		{"truncated", sdnHead + "<DistinctParty FixedRef=\"1\">\n", ":10: XML: unexpected end of file"},
		{"no XBT type", "<Sanctions>\n</Sanctions>\n", `: no feature type "Digital Currency Address - XBT": not OFAC's sdn_advanced.xml`},
		{"no name", sdnHead + party + "</DistinctParties></Sanctions>", ":9: SDN party 7 has a digital currency address but no primary name"},
		{"bad date", strings.Replace(sdnHead, "<Month>3</Month>", "<Month>13</Month>", 1), `:3: bad DateOfIssue Month "13"`},
		{"no date", strings.Replace(sdnHead, "DateOfIssue", "Other", 2) + strings.Replace(party, "<Profile ID=\"7\">",
			`<Profile ID="7"><Identity Primary="true"><Alias Primary="true"><DocumentedName DocNameStatusID="1"><DocumentedNamePart><NamePartValue>X</NamePartValue></DocumentedNamePart></DocumentedName></Alias></Identity>`, 1) +
			"</DistinctParties></Sanctions>", ":9: no DateOfIssue before the first party"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			p := writeFile(t, t.TempDir(), "sdn.xml", tt.xml)
			_, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
			want := "labels: bad input: " + p + tt.want
			if err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
}

// A truncated download of the real list fails cleanly.
func TestSDNTruncatedBzip2(t *testing.T) {
	b, err := os.ReadFile(shareddata.Path(t, "labels", "ofac", "sdn_advanced-2025-11-19.xml.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sdn.xml.bz2")
	if err := os.WriteFile(p, b[:200_000], 0o644); err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	_, err = Import(store, mainnet, []string{p}, testNow, testLog(t))
	want := "labels: bad input: " + p + ": bzip2: unexpected EOF"
	if err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func FuzzSDN(f *testing.F) {
	f.Add([]byte(sdnSmall))
	f.Add([]byte(sdnHead))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSink(mainnet, "f.xml")
		err := parseSDN(s, strings.NewReader(string(data)))
		if err != nil && !errors.Is(err, ErrBadInput) {
			t.Fatalf("error %v does not wrap ErrBadInput", err)
		}
		if err == nil && s.stats.Applied != len(s.entries) {
			t.Fatalf("applied %d, entries %d", s.stats.Applied, len(s.entries))
		}
	})
}
