package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/txscript"
)

// ScriptType is the kind of an output script. The numeric values are stored
// in the index; append new kinds, never renumber.
type ScriptType uint8

const (
	ScriptNonStandard    ScriptType = 0
	ScriptP2PK           ScriptType = 1
	ScriptP2PKH          ScriptType = 2
	ScriptP2SH           ScriptType = 3
	ScriptP2WPKH         ScriptType = 4
	ScriptP2WSH          ScriptType = 5
	ScriptP2TR           ScriptType = 6
	ScriptWitnessUnknown ScriptType = 7
	ScriptMultisig       ScriptType = 8
	ScriptOpReturn       ScriptType = 9
	numScriptTypes                  = 10
)

var scriptTypeNames = [numScriptTypes]string{
	"nonstandard", "p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "witness_unknown", "multisig", "op_return",
}

func (t ScriptType) String() string {
	if int(t) < len(scriptTypeNames) {
		return scriptTypeNames[t]
	}
	return fmt.Sprintf("scripttype(%d)", uint8(t))
}

// Valid reports whether t is a known script type (used when reading stored bytes).
func (t ScriptType) Valid() bool { return t < numScriptTypes }

// AddrKey is the network-independent identity of an address: one kind byte
// followed by its payload. Two outputs pay the same address exactly when
// their keys are equal; a P2PK output gets the key of the P2PKH address of
// its public key, as block explorers show it. The empty key means "no
// address" (OP_RETURN).
type AddrKey string

// Address key kinds (the first byte of an AddrKey). Stored in the index.
const (
	keyPKH         = 'p' // 20-byte HASH160, base58 P2PKH
	keySH          = 's' // 20-byte HASH160, base58 P2SH
	keyWitness     = 'w' // witness version byte, then the program
	keyMultisig    = 'm' // first 20 bytes of SHA-256 of the bare multisig script
	keyNonStandard = 'n' // first 20 bytes of SHA-256 of the script
)

// Prefixes of the synthetic address strings of scripts that have no address.
const (
	MultisigPrefix    = "multisig-"
	NonStandardPrefix = "nonstandard-"
)

// Classify returns the type of an output script and the key of the address
// it pays.
func Classify(script []byte) (ScriptType, AddrKey) {
	n := len(script)
	switch {
	case n == 25 && script[0] == txscript.OP_DUP && script[1] == txscript.OP_HASH160 &&
		script[2] == 20 && script[23] == txscript.OP_EQUALVERIFY && script[24] == txscript.OP_CHECKSIG:
		return ScriptP2PKH, mkKey(keyPKH, script[3:23])
	case n == 23 && script[0] == txscript.OP_HASH160 && script[1] == 20 && script[22] == txscript.OP_EQUAL:
		return ScriptP2SH, mkKey(keySH, script[2:22])
	case n == 67 && script[0] == 65 && script[66] == txscript.OP_CHECKSIG && isPubKey(script[1:66]),
		n == 35 && script[0] == 33 && script[34] == txscript.OP_CHECKSIG && isPubKey(script[1:34]):
		return ScriptP2PK, mkKey(keyPKH, btcutil.Hash160(script[1:n-1]))
	case n > 0 && script[0] == txscript.OP_RETURN:
		return ScriptOpReturn, ""
	}
	if n >= 4 && n <= 42 && (script[0] == txscript.OP_0 || (script[0] >= txscript.OP_1 && script[0] <= txscript.OP_16)) &&
		int(script[1]) == n-2 && script[1] >= 2 && script[1] <= 40 {
		ver := byte(0)
		if script[0] != txscript.OP_0 {
			ver = script[0] - txscript.OP_1 + 1
		}
		prog := script[2:]
		key := AddrKey(string([]byte{keyWitness, ver}) + string(prog))
		switch {
		case ver == 0 && len(prog) == 20:
			return ScriptP2WPKH, key
		case ver == 0 && len(prog) == 32:
			return ScriptP2WSH, key
		case ver == 1 && len(prog) == 32:
			return ScriptP2TR, key
		case ver != 0:
			return ScriptWitnessUnknown, key
		}
		// A version-0 program of another length is unspendable: non-standard.
	}
	if isBareMultisig(script) {
		h := sha256.Sum256(script)
		return ScriptMultisig, mkKey(keyMultisig, h[:20])
	}
	h := sha256.Sum256(script)
	return ScriptNonStandard, mkKey(keyNonStandard, h[:20])
}

func mkKey(kind byte, payload []byte) AddrKey {
	b := make([]byte, 1+len(payload))
	b[0] = kind
	copy(b[1:], payload)
	return AddrKey(b)
}

func isPubKey(b []byte) bool {
	switch len(b) {
	case 33:
		return b[0] == 2 || b[0] == 3
	case 65:
		return b[0] == 4 || b[0] == 6 || b[0] == 7
	}
	return false
}

// isBareMultisig matches OP_m <pubkey>... OP_n OP_CHECKMULTISIG with n keys.
func isBareMultisig(s []byte) bool {
	if len(s) < 3 || s[len(s)-1] != txscript.OP_CHECKMULTISIG {
		return false
	}
	m, n := s[0], s[len(s)-2]
	if m < txscript.OP_1 || m > txscript.OP_16 || n < txscript.OP_1 || n > txscript.OP_16 || m > n {
		return false
	}
	keys := 0
	for i := 1; i < len(s)-2; {
		l := int(s[i])
		if (l != 33 && l != 65) || i+1+l > len(s)-2 || !isPubKey(s[i+1:i+1+l]) {
			return false
		}
		i += 1 + l
		keys++
	}
	return keys == int(n-txscript.OP_1+1)
}

// Encode renders the key as an address string of network net. The empty key
// renders as "".
func (k AddrKey) Encode(net Network) string {
	if len(k) < 2 {
		return ""
	}
	p := []byte(k[1:])
	switch k[0] {
	case keyPKH:
		return base58.CheckEncode(p, net.Params.PubKeyHashAddrID)
	case keySH:
		return base58.CheckEncode(p, net.Params.ScriptHashAddrID)
	case keyWitness:
		// Keys come from stored bytes: a version above 16 has no bech32
		// character (and would index past the charset).
		if len(p) < 3 || len(p) > 41 || p[0] > 16 {
			return ""
		}
		return encodeSegwit(net.Params.Bech32HRPSegwit, p[0], p[1:])
	case keyMultisig:
		return MultisigPrefix + hex.EncodeToString(p)
	case keyNonStandard:
		return NonStandardPrefix + hex.EncodeToString(p)
	}
	return ""
}

// ParseAddress parses an address string of network net (including the
// synthetic multisig-/nonstandard- ids) into its key. An address that is
// valid on another network fails with ErrWrongNetwork.
func ParseAddress(net Network, s string) (AddrKey, error) {
	for _, pre := range []struct {
		p    string
		kind byte
	}{{MultisigPrefix, keyMultisig}, {NonStandardPrefix, keyNonStandard}} {
		if strings.HasPrefix(s, pre.p) {
			b, err := hex.DecodeString(s[len(pre.p):])
			if err != nil || len(b) != 20 {
				return "", fmt.Errorf("%w: address %q: want %s and 40 hex digits", ErrBadInput, s, pre.p)
			}
			return mkKey(pre.kind, b), nil
		}
	}
	key, err := parseFor(net, s)
	if err == nil {
		return key, nil
	}
	for _, other := range networks {
		if other.Name == net.Name {
			continue
		}
		if _, e := parseFor(other, s); e == nil {
			return "", fmt.Errorf("%w: address %q is a %s address, the index is %s", ErrWrongNetwork, s, other.Name, net.Name)
		}
	}
	return "", fmt.Errorf("%w: %q is not a %s address", ErrBadInput, s, net.Name)
}

func parseFor(net Network, s string) (AddrKey, error) {
	if key, ok, err := parseSegwit(net, s); ok {
		return key, err
	}
	a, err := btcutil.DecodeAddress(s, net.Params)
	if err != nil {
		return "", err
	}
	if !a.IsForNet(net.Params) {
		return "", fmt.Errorf("not for %s", net.Name)
	}
	switch a := a.(type) {
	case *btcutil.AddressPubKeyHash:
		return mkKey(keyPKH, a.ScriptAddress()), nil
	case *btcutil.AddressScriptHash:
		return mkKey(keySH, a.ScriptAddress()), nil
	case *btcutil.AddressPubKey:
		return mkKey(keyPKH, a.AddressPubKeyHash().ScriptAddress()), nil
	}
	return "", fmt.Errorf("unsupported address type %T", a)
}

// parseSegwit decodes a BIP-173/BIP-350 address of any witness version
// (btcutil knows only versions 0 and 1, but Encode writes all of them).
// ok is false when s is not bech32 at all.
func parseSegwit(net Network, s string) (key AddrKey, ok bool, err error) {
	hrp, data, enc, err := bech32.DecodeGeneric(s)
	if err != nil {
		return "", false, nil
	}
	if !strings.EqualFold(hrp, net.Params.Bech32HRPSegwit) {
		return "", true, fmt.Errorf("prefix %q is not %s's", hrp, net.Name)
	}
	if len(data) == 0 || data[0] > 16 {
		return "", true, fmt.Errorf("no witness version")
	}
	ver := data[0]
	prog, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		return "", true, err
	}
	if len(prog) < 2 || len(prog) > 40 || (ver == 0 && len(prog) != 20 && len(prog) != 32) {
		return "", true, fmt.Errorf("witness v%d program of %d bytes", ver, len(prog))
	}
	want := bech32.VersionM
	if ver == 0 {
		want = bech32.Version0
	}
	if enc != want {
		return "", true, fmt.Errorf("wrong checksum variant for witness v%d", ver)
	}
	return AddrKey(string([]byte{keyWitness, ver}) + string(prog)), true, nil
}

// PkScript returns an output script paying the key's address, for the
// kinds that have one (used by the simulator and tests).
func (k AddrKey) PkScript() ([]byte, error) {
	if len(k) < 2 {
		return nil, fmt.Errorf("%w: empty address key", ErrBadInput)
	}
	p := []byte(k[1:])
	switch k[0] {
	case keyPKH:
		return append(append([]byte{txscript.OP_DUP, txscript.OP_HASH160, 20}, p...), txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG), nil
	case keySH:
		return append(append([]byte{txscript.OP_HASH160, 20}, p...), txscript.OP_EQUAL), nil
	case keyWitness:
		op := byte(txscript.OP_0)
		if p[0] > 0 {
			op = txscript.OP_1 + p[0] - 1
		}
		return append([]byte{op, byte(len(p) - 1)}, p[1:]...), nil
	}
	return nil, fmt.Errorf("%w: address kind %q has no standard script", ErrBadInput, k[0])
}
