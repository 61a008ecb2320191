package labels

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/internal/shareddata"
)

// Expected per-file outcome of importing every GraphSense TagPack of
// ../shared/data on mainnet. Derived independently in Python (PyYAML
// BaseLoader; header fields merged under each tag; currency compared
// case-insensitively with BTC; addresses checked with a separate base58check
// and bech32/bech32m implementation): no tag has a network field, no BTC tag
// repeats another, and the one bad BTC address is the TRON address
// TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq in ofac.yaml.
var wantTagpacks = map[string]Counts{
	"binance_hack.yaml":                 {Applied: 44},
	"exchange-wallets-binance.yaml":     {Applied: 4, SkippedOtherCurrency: 82},
	"exchange-wallets-bitfinexcom.yaml": {Applied: 3, SkippedOtherCurrency: 132},
	"exchange-wallets-huobi.yaml":       {Applied: 3, SkippedOtherCurrency: 55},
	"exchange-wallets-kucoin.yaml":      {Applied: 4, SkippedOtherCurrency: 55},
	"exchange-wallets-okx.yaml":         {Applied: 23, SkippedOtherCurrency: 13},
	"hacks.yaml":                        {Applied: 608},
	"lazarus.yaml":                      {Applied: 20, SkippedOtherCurrency: 1},
	"lazarus2.yaml":                     {Applied: 6},
	"miners.yaml":                       {Applied: 37439},
	"mixing_fc2021.yaml":                {Applied: 66},
	"ofac.yaml":                         {Applied: 384, SkippedOtherCurrency: 187, SkippedBadAddress: 1},
	"ransomware.yaml":                   {Applied: 7178},
	"ransomwhere.yaml":                  {Applied: 7457},
	"ronin_bridge.yaml":                 {SkippedOtherCurrency: 6},
	"samourai.yaml":                     {Applied: 36548},
	"sinbad_io.yaml":                    {Applied: 2},
	"tornado_cash.yaml":                 {SkippedOtherCurrency: 39},
	"twitter_hack_scam.yaml":            {Applied: 3},
	"walletexplorer.yaml":               {Applied: 386},
	"wasabi_collector.yaml":             {Applied: 2},
}

// The 6 Bitcoin addresses of the FBI's Aug 2023 DPRK notice (lazarus2.yaml).
var fbiLazarus = []string{
	"3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG", "39idqitN9tYNmq3wYanwg3MitFB5TZCjWu",
	"3AAUBbKJorvNhEUFhKnep9YTwmZECxE4Nk", "3PjNaSeP8GzLjGeu51JR19Q2Lu8W2Te9oc",
	"3NbdrezMzAVVfXv5MTQJn4hWqKhYCTCJoB", "34VXKa5upLWVYMXmgid6bFM4BaQXHxSUoL",
}

func tagpackFiles(t testing.TB) []string {
	files, err := filepath.Glob(shareddata.Path(t, "labels", "graphsense-tagpacks", "*.yaml"))
	if err != nil || len(files) != len(wantTagpacks) {
		t.Fatalf("want %d TagPacks, found %d (%v)", len(wantTagpacks), len(files), err)
	}
	return files
}

func TestImportTagpacksMainnet(t *testing.T) {
	store := openStore(t)
	st, err := Import(store, mainnet, tagpackFiles(t), testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	var total Counts
	for _, f := range st.Files {
		name := filepath.Base(f.Path)
		if f.Counts != wantTagpacks[name] {
			t.Errorf("%s: got %+v, want %+v", name, f.Counts, wantTagpacks[name])
		}
		if f.Format != "tagpack" {
			t.Errorf("%s: format %q", name, f.Format)
		}
		total.add(wantTagpacks[name])
	}
	if st.Counts != total || total.Applied != 90180 {
		t.Errorf("totals %+v, want %+v (90180 applied)", st.Counts, total)
	}
	if got := count(t, store); got != 90180 {
		t.Errorf("Count = %d, want 90180", got)
	}
	for _, f := range st.Files {
		if filepath.Base(f.Path) != "ofac.yaml" {
			continue
		}
		want := Skip{Line: 1069, Reason: reasonAddress, Value: `"TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq" is not a mainnet address`}
		if !reflect.DeepEqual(f.Examples[len(f.Examples)-1], want) {
			t.Errorf("ofac.yaml examples %+v, want last %+v", f.Examples, want)
		}
	}

	lz := shareddata.Path(t, "labels", "graphsense-tagpacks", "lazarus2.yaml")
	sha := fileSHA(t, lz)
	for _, a := range fbiLazarus {
		ls, err := List(store, mainnet, Query{Address: a, Source: "fbi.gov"})
		if err != nil {
			t.Fatal(err)
		}
		want := Label{
			Key: ls[0].Key, Address: a, Label: "Lazarus group", Category: "user",
			Source:     "https://www.fbi.gov/news/press-releases/fbi-identifies-cryptocurrency-funds-stolen-by-dprk",
			Confidence: "authority_data", ConfidenceLevel: 60, Abuse: "sanction", Actor: "lazarusgroup",
			Lastmod: "2023-08-28", File: lz, FileSHA256: sha, ImportedAt: testNow,
		}
		if len(ls) != 1 || !reflect.DeepEqual(ls[0], want) {
			t.Errorf("%s: got %+v, want %+v", a, ls, want)
		}
		if ls[0].Key.Encode(mainnet) != a {
			t.Errorf("%s: key encodes as %s", a, ls[0].Key.Encode(mainnet))
		}
	}
}

// On regtest every BTC tag of a pack without network fields is a mainnet tag.
func TestImportTagpacksRegtest(t *testing.T) {
	store := openStore(t)
	dir := shareddata.Path(t, "labels", "graphsense-tagpacks")
	var files []string
	for _, n := range []string{"lazarus.yaml", "lazarus2.yaml", "ofac.yaml"} {
		files = append(files, filepath.Join(dir, n))
	}
	st, err := Import(store, regtest, files, testNow, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{SkippedOtherCurrency: 1 + 187, SkippedOtherNetwork: 20 + 6 + 385}
	if st.Counts != want {
		t.Errorf("got %+v, want %+v", st.Counts, want)
	}
	if got := count(t, store); got != 0 {
		t.Errorf("Count = %d", got)
	}
}

func TestTagpackFields(t *testing.T) {
	const (
		a1 = "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"
		a2 = "39idqitN9tYNmq3wYanwg3MitFB5TZCjWu"
		a3 = "bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew"
		tx = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
	)
	a1test := encodeOn(t, a1, testnet)
	a3reg := encodeOn(t, a3, regtest)
	header := "title: t\ncreator: c\nlabel: Header label\nsource: https://example.org/h\ncurrency: BTC\n"
	tests := []struct {
		name     string
		yaml     string
		net      string
		want     []lite
		counts   Counts
		examples []Skip
	}{{
		name: "header inherited and overridden",
		yaml: `title: t
creator: c
label: Header label
source: https://example.org/h
currency: BTC
confidence: authority_data
category: exchange
abuse: sanction
actor: someactor
lastmod: 2023-01-02
is_cluster_definer: true
context: '{"k": 1}'
tags:
- address: ` + a1 + `
- address: ` + a2 + `
  label: Tag label
  source: https://example.org/t
  confidence: ownership
  category: miner
  abuse: scam
  actor: other
  lastmod: 2024-05-06
  is_cluster_definer: false
  context: tag context
`,
		want: []lite{
			{Address: a2, Label: "Tag label", Category: "miner", Source: "https://example.org/t", Confidence: "ownership", Level: 100,
				Abuse: "scam", Actor: "other", Context: "tag context", Lastmod: "2024-05-06"},
			{Address: a1, Label: "Header label", Category: "exchange", Source: "https://example.org/h", Confidence: "authority_data", Level: 60,
				Abuse: "sanction", Actor: "someactor", Context: `{"k": 1}`, Lastmod: "2023-01-02", Definer: true},
		},
		counts: Counts{Applied: 2},
	}, {
		name: "currency, network, bad and duplicate tags",
		yaml: `title: t
creator: c
label: L
source: S
currency: ETH
confidence: heuristic
tags:
- address: '0x098B716B8Aaf21512996dC57EB0615e2383E2f96'
- address: ` + a1 + `
  currency: BTC
- address: ` + a2 + `
  currency: btc
  network: BTC
- address: ` + a3 + `
  currency: BTC
  network: regtest
- address: ` + a1test + `
  currency: BTC
- address: notanaddress
  currency: BTC
- address: ` + a1 + `
  currency: BTC
- tx_hash: ` + tx + `
  currency: BTC
  label: first payment
`,
		want: []lite{
			{TxHash: tx, Label: "first payment", Source: "S", Confidence: "heuristic", Level: 10},
			{Address: a2, Label: "L", Source: "S", Confidence: "heuristic", Level: 10},
			{Address: a1, Label: "L", Source: "S", Confidence: "heuristic", Level: 10},
		},
		counts: Counts{Applied: 3, SkippedOtherCurrency: 1, SkippedOtherNetwork: 2, SkippedBadAddress: 1, SkippedDuplicate: 1},
		examples: []Skip{
			{8, reasonCurrency, "currency ETH: 0x098B716B8Aaf21512996dC57EB0615e2383E2f96"},
			{14, reasonNetwork, "network regtest: " + a3},
			{17, reasonNetwork, `address "` + a1test + `" is a testnet address, the index is mainnet`},
			{19, reasonAddress, `"notanaddress" is not a mainnet address`},
			{21, reasonDuplicate, a1},
		},
	}, {
		name:     "regtest tags apply on regtest only",
		net:      "regtest",
		yaml:     header + "tags:\n- address: " + a3reg + "\n  network: regtest\n- address: " + a3 + "\n",
		want:     []lite{{Address: a3reg, Label: "Header label", Source: "https://example.org/h", Confidence: "unknown", Level: 5}},
		counts:   Counts{Applied: 1, SkippedOtherNetwork: 1},
		examples: []Skip{{9, reasonNetwork, "network none (mainnet): " + a3}},
	}, {
		name:     "regtest tags on mainnet",
		yaml:     header + "network: regtest\ntags:\n- address: " + a3reg + "\n",
		counts:   Counts{SkippedOtherNetwork: 1},
		examples: []Skip{{8, reasonNetwork, "network regtest: " + a3reg}},
	}, {
		name: "anchors and empty tag list",
		yaml: "title: t\ncreator: c\nlabel: &l Anchored\nsource: s\ncurrency: BTC\ntags: []\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := mainnet
			if tt.net != "" {
				net = mustNetwork(tt.net)
			}
			store := openStore(t)
			p := writeFile(t, t.TempDir(), "pack.yaml", tt.yaml)
			st, err := Import(store, net, []string{p}, testNow, testLog(t))
			if err != nil {
				t.Fatal(err)
			}
			if st.Counts != tt.counts || !reflect.DeepEqual(st.Files[0].Examples, tt.examples) {
				t.Errorf("stats %+v %+v, want %+v %+v", st.Counts, st.Files[0].Examples, tt.counts, tt.examples)
			}
			if got := lites(listAll(t, store, net)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("labels\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTagpackErrors(t *testing.T) {
	const a = "3LU8wRu4ZnXP4UM8Yo6kkTiGHM9BubgyiG"
	head := "title: t\ncreator: c\nsource: s\ncurrency: BTC\n" // 4 lines
	tests := []struct{ name, yaml, want string }{
		{"no label", head + "tags:\n- address: " + a + "\n", "6: tag has no label"},
		{"no source", "title: t\nlabel: l\ncurrency: BTC\ntags:\n- address: " + a + "\n", "5: tag has no source"},
		{"no currency", "label: l\nsource: s\ntags:\n- address: " + a + "\n", "4: tag has no currency"},
		{"no subject", head + "label: l\ntags:\n- actor: x\n", "7: tag has neither address nor tx_hash"},
		{"two subjects", head + "label: l\ntags:\n- address: " + a + "\n  tx_hash: ab\n", "7: tag has both address and tx_hash"},
		{"unknown confidence", head + "label: l\nconfidence: sure\ntags:\n- address: " + a + "\n",
			`6: unknown confidence "sure" (want one of override, ownership, ledger_immanent, manual_transaction, service_api, ` +
				`forensic_investigation, authority_data, trusted_provider, service_data, forensic, untrusted_transaction, web_crawl, heuristic, unknown)`},
		{"bad boolean", head + "label: l\ntags:\n- address: " + a + "\n  is_cluster_definer: maybe\n", `8: is_cluster_definer "maybe" is not true or false`},
		{"list value", head + "label: [a, b]\ntags:\n- address: " + a + "\n", "5: label is not a single value"},
		{"tags not a list", head + "label: l\ntags: 5\n", "6: tags is not a list"},
		{"tag not a mapping", head + "label: l\ntags:\n- " + a + "\n", "7: tag is not a mapping"},
		{"no tags", head + "label: l\n", "1: TagPack has no tags list"},
		{"not a mapping", "---\n- a\n", "2: TagPack is not a mapping of header fields and tags"},
		{"syntax", head + "label: l\ntags:\n- address: " + a + "\n  label: [x\n", "8: did not find expected ',' or ']'"},
		{"dedent", head + "label: l\ntags:\n- address: " + a + "\n  label: x\n currency: BTC\n", "9: did not find expected key"},
		{"first line", "title: [x\n", "2: did not find expected ',' or ']'"},
		{"tab indent", head + "label: l\ntags:\n- address: x\n\tlabel: y\n", "7: found a tab character that violates indentation"},
		{"bad token", head + "label: @l\ntags: []\n", "5: found character that cannot start any token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t)
			p := writeFile(t, t.TempDir(), "x.yaml", tt.yaml)
			_, err := Import(store, mainnet, []string{p}, testNow, testLog(t))
			want := "labels: bad input: " + p + ":" + tt.want
			if err == nil || err.Error() != want || !errors.Is(err, ErrBadInput) {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if n := count(t, store); n != 0 {
				t.Errorf("%d labels stored after a failed import", n)
			}
		})
	}
}

func FuzzTagpack(f *testing.F) {
	for _, n := range []string{"lazarus2.yaml", "wasabi_collector.yaml", "ronin_bridge.yaml"} {
		b, err := os.ReadFile(shareddata.Path(f, "labels", "graphsense-tagpacks", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("label: &a x\nsource: *a\ncurrency: BTC\ntags:\n- {address: 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3, tx_hash: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSink(mainnet, "f.yaml")
		err := parseTagpack(s, data)
		if err != nil && !errors.Is(err, ErrBadInput) {
			t.Fatalf("error %v does not wrap ErrBadInput", err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		if err == nil && s.stats.Applied != len(s.entries) {
			t.Fatalf("applied %d, entries %d", s.stats.Applied, len(s.entries))
		}
		checkRecords(t, s)
	})
}
