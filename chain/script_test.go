package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

const (
	// The secp256k1 generator: the public key of private key 1.
	gCompressed   = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	gUncompressed = "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
	// HASH160 of gCompressed, the program of BIP-173's first example.
	gHash160 = "751e76e8199196d454941c45d1b3a323f1433bd6"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// regtestP2SH renders a script hash with btcutil, to check our encoder.
func regtestP2SH(t testing.TB, h string) string {
	a, err := btcutil.NewAddressScriptHashFromHash(unhex(t, h), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

func sha20(t testing.TB, scriptHex string) string {
	h := sha256.Sum256(unhex(t, scriptHex))
	return hex.EncodeToString(h[:20])
}

func TestClassifyEncodeParse(t *testing.T) {
	multisig := "51" + "21" + gCompressed + "41" + gUncompressed + "52ae"
	tests := []struct {
		name   string
		net    Network
		script string
		typ    ScriptType
		addr   string // "" = computed below for synthetic ids
	}{
		// Genesis coinbase output: Satoshi's well-known address.
		{"p2pk uncompressed genesis", tMainnet,
			"4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac",
			ScriptP2PK, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
		{"p2pk uncompressed G", tMainnet, "41" + gUncompressed + "ac", ScriptP2PK, "1EHNa6Q4Jz2uvNExL497mE43ikXhwF6kZm"},
		{"p2pk compressed G", tMainnet, "21" + gCompressed + "ac", ScriptP2PK, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},
		{"p2pkh", tMainnet, "76a914" + gHash160 + "88ac", ScriptP2PKH, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},
		{"p2pkh regtest", tRegtest, "76a914" + gHash160 + "88ac", ScriptP2PKH, "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"},
		{"p2pk regtest", tRegtest, "21" + gCompressed + "ac", ScriptP2PK, "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"},
		{"p2sh", tMainnet, "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87", ScriptP2SH, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"},
		{"p2sh regtest", tRegtest, "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87", ScriptP2SH, regtestP2SH(t, "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb")},
		// BIP-173 and BIP-350 test vectors.
		{"p2wpkh", tMainnet, "0014" + gHash160, ScriptP2WPKH, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
		{"p2wpkh regtest", tRegtest, "0014" + gHash160, ScriptP2WPKH, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"},
		{"p2wsh", tMainnet, "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", ScriptP2WSH,
			"bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"},
		{"p2wsh testnet", tTestnet, "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", ScriptP2WSH,
			"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"},
		{"p2tr", tMainnet, "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", ScriptP2TR,
			"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"},
		{"p2tr testnet", tTestnet, "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", ScriptP2TR,
			"tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"},
		{"witness v1 40-byte program", tMainnet, "5128" + gHash160 + gHash160, ScriptWitnessUnknown,
			"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"},
		{"witness v2", tMainnet, "5210751e76e8199196d454941c45d1b3a323", ScriptWitnessUnknown, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"},
		{"witness v16", tMainnet, "6002751e", ScriptWitnessUnknown, "bc1sw50qgdz25j"},
		{"bare multisig 1-of-2", tMainnet, multisig, ScriptMultisig, MultisigPrefix + sha20(t, multisig)},
		{"op_return", tMainnet, "6a0b68656c6c6f20776f726c64", ScriptOpReturn, ""},
		{"bare op_return", tMainnet, "6a", ScriptOpReturn, ""},
		{"op_true", tMainnet, "51", ScriptNonStandard, NonStandardPrefix + sha20(t, "51")},
		{"empty script", tMainnet, "", ScriptNonStandard, NonStandardPrefix + sha20(t, "")},
		{"witness v0 of 21 bytes", tMainnet, "0015" + gHash160 + "00", ScriptNonStandard, NonStandardPrefix + sha20(t, "0015"+gHash160+"00")},
		{"multisig m > n", tMainnet, "5221" + gCompressed + "51ae", ScriptNonStandard, NonStandardPrefix + sha20(t, "5221"+gCompressed+"51ae")},
		{"multisig key count != n", tMainnet, "5121" + gCompressed + "52ae", ScriptNonStandard, NonStandardPrefix + sha20(t, "5121"+gCompressed+"52ae")},
		{"p2pk with a bad key prefix", tMainnet, "2105" + gCompressed[2:] + "ac", ScriptNonStandard, NonStandardPrefix + sha20(t, "2105"+gCompressed[2:]+"ac")},
		{"p2pkh missing checksig", tMainnet, "76a914" + gHash160 + "88", ScriptNonStandard, NonStandardPrefix + sha20(t, "76a914"+gHash160+"88")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := unhex(t, tc.script)
			typ, key := Classify(script)
			if typ != tc.typ {
				t.Fatalf("Classify type %s, want %s", typ, tc.typ)
			}
			addr := key.Encode(tc.net)
			if addr != tc.addr {
				t.Fatalf("Encode = %q, want %q", addr, tc.addr)
			}
			// Cross-check single-address kinds with btcd's own extractor
			// (btcd's multisig rules are looser than Core's).
			cls, addrs, _, err := txscript.ExtractPkScriptAddrs(script, tc.net.Params)
			switch cls {
			case txscript.PubKeyTy, txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy,
				txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
				if err != nil || len(addrs) != 1 {
					t.Fatalf("btcd: %s, %v, %v", cls, addrs, err)
				}
				if got := addrs[0].EncodeAddress(); got != addr {
					t.Fatalf("btcd renders %s as %s, we as %s", cls, got, addr)
				}
			}
			if typ == ScriptOpReturn {
				if key != "" {
					t.Fatalf("op_return key %x, want none", key)
				}
				return
			}
			back, err := ParseAddress(tc.net, addr)
			if err != nil || back != key {
				t.Fatalf("ParseAddress(%q) = %x, %v; want %x", addr, back, err, key)
			}
			if tc.typ != ScriptMultisig && tc.typ != ScriptNonStandard {
				pk, err := key.PkScript()
				if err != nil {
					t.Fatal(err)
				}
				if typ2, key2 := Classify(pk); key2 != key || (typ != ScriptP2PK && typ2 != typ) {
					t.Fatalf("PkScript %x classifies as %s %x", pk, typ2, key2)
				}
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	gKey := mkKey(keyPKH, unhex(t, gHash160))
	tests := []struct {
		net     Network
		in      string
		want    AddrKey
		wantErr string
		errIs   error
	}{
		{net: tMainnet, in: "BC1SW50QGDZ25J", want: AddrKey("w\x10\x75\x1e")},
		{net: tMainnet, in: "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", want: AddrKey("w\x00") + AddrKey(unhex(t, gHash160))},
		{net: tMainnet, in: gCompressed, want: gKey},
		{net: tMainnet, in: "multisig-" + gHash160, want: mkKey(keyMultisig, unhex(t, gHash160))},
		{net: tRegtest, in: "nonstandard-" + gHash160, want: mkKey(keyNonStandard, unhex(t, gHash160))},
		{net: tMainnet, in: "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r",
			wantErr: `chain: wrong network: address "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r" is a testnet address, the index is mainnet`, errIs: ErrWrongNetwork},
		{net: tMainnet, in: "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
			wantErr: `chain: wrong network: address "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7" is a testnet address, the index is mainnet`, errIs: ErrWrongNetwork},
		{net: tMainnet, in: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
			wantErr: `chain: wrong network: address "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080" is a regtest address, the index is mainnet`, errIs: ErrWrongNetwork},
		{net: tRegtest, in: "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
			wantErr: `chain: wrong network: address "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH" is a mainnet address, the index is regtest`, errIs: ErrWrongNetwork},
		{net: tSignet, in: "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
			wantErr: `chain: wrong network: address "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0" is a mainnet address, the index is signet`, errIs: ErrWrongNetwork},
		// Bad checksum; BIP-350: bech32 where bech32m is due and the reverse;
		// mixed case; a version-0 program of 16 bytes.
		{net: tMainnet, in: "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMX",
			wantErr: `chain: bad input: "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMX" is not a mainnet address`, errIs: ErrBadInput},
		{net: tMainnet, in: "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
			wantErr: `chain: bad input: "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd" is not a mainnet address`, errIs: ErrBadInput},
		{net: tMainnet, in: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
			wantErr: `chain: bad input: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh" is not a mainnet address`, errIs: ErrBadInput},
		{net: tMainnet, in: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4",
			wantErr: `chain: bad input: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4" is not a mainnet address`, errIs: ErrBadInput},
		{net: tMainnet, in: "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
			wantErr: `chain: bad input: "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P" is not a mainnet address`, errIs: ErrBadInput},
		{net: tMainnet, in: "",
			wantErr: `chain: bad input: "" is not a mainnet address`, errIs: ErrBadInput},
		{net: tMainnet, in: "multisig-xyz",
			wantErr: `chain: bad input: address "multisig-xyz": want multisig- and 40 hex digits`, errIs: ErrBadInput},
		{net: tMainnet, in: "nonstandard-" + gHash160 + "00",
			wantErr: `chain: bad input: address "nonstandard-` + gHash160 + `00": want nonstandard- and 40 hex digits`, errIs: ErrBadInput},
	}
	for _, tc := range tests {
		got, err := ParseAddress(tc.net, tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.errIs) {
				t.Errorf("ParseAddress(%s, %q) = %x, %v\nwant error %s", tc.net.Name, tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAddress(%s, %q) = %x, %v; want %x", tc.net.Name, tc.in, got, err, tc.want)
		}
	}
}

func TestScriptTypeNames(t *testing.T) {
	var names []string
	for i := range numScriptTypes {
		if !ScriptType(i).Valid() {
			t.Fatalf("%d not valid", i)
		}
		names = append(names, ScriptType(i).String())
	}
	want := "nonstandard p2pk p2pkh p2sh p2wpkh p2wsh p2tr witness_unknown multisig op_return"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names %q", got)
	}
	if ScriptType(numScriptTypes).Valid() || ScriptType(200).String() != "scripttype(200)" {
		t.Fatal("out-of-range script type")
	}
}

// TestEncodeMalformedKey: keys read from a corrupt index render as "" (or
// some string), never panic; a witness version above 16 has no bech32
// character.
func TestEncodeMalformedKey(t *testing.T) {
	prog := strings.Repeat("\x01", 20)
	for _, tc := range []struct {
		key  AddrKey
		want string
	}{
		{AddrKey("w\x11" + prog), ""},
		{AddrKey("w\xff" + prog), ""},
		{AddrKey("w\x00"), ""},
		{AddrKey("z" + prog), ""},
		{AddrKey("p"), ""},
	} {
		if got := tc.key.Encode(tMainnet); got != tc.want {
			t.Errorf("Encode(%x) = %q, want %q", string(tc.key), got, tc.want)
		}
	}
	if got := AddrKey("w\x10" + prog).Encode(tMainnet); !strings.HasPrefix(got, "bc1") {
		t.Errorf("version 16 = %q, want a bc1 address", got)
	}
}
