package chain

// A bech32/bech32m encoder (BIP 173, BIP 350) for rendering SegWit and
// Taproot addresses. btcutil's encoder works through generic helpers and
// allocations; traces render an address per tainted output, so this one
// does the checksum over bytes in place. Decoding stays with btcutil.

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// bech32Mix[b] is the XOR of the BCH generator terms selected by the five
// bits shifted out of the checksum.
var bech32Mix = func() (t [32]uint32) {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	for b := range t {
		for i, g := range gen {
			if b>>i&1 == 1 {
				t[b] ^= g
			}
		}
	}
	return t
}()

func bech32Step(chk uint32, v byte) uint32 {
	return (chk&0x1ffffff)<<5 ^ uint32(v) ^ bech32Mix[chk>>25]
}

// encodeSegwit renders witness version ver and program prog with the
// human-readable part hrp: bech32 for version 0, bech32m otherwise.
func encodeSegwit(hrp string, ver byte, prog []byte) string {
	// Data: the version, then the program regrouped from 8-bit to 5-bit.
	var data [1 + (40*8+4)/5]byte
	n := 0
	data[n] = ver
	n++
	acc, bits := uint32(0), uint(0)
	for _, b := range prog {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			data[n] = byte(acc>>bits) & 31
			n++
		}
	}
	if bits > 0 {
		data[n] = byte(acc<<(5-bits)) & 31
		n++
	}
	chk := uint32(1)
	for i := 0; i < len(hrp); i++ {
		chk = bech32Step(chk, hrp[i]>>5)
	}
	chk = bech32Step(chk, 0)
	for i := 0; i < len(hrp); i++ {
		chk = bech32Step(chk, hrp[i]&31)
	}
	for _, v := range data[:n] {
		chk = bech32Step(chk, v)
	}
	for i := 0; i < 6; i++ {
		chk = bech32Step(chk, 0)
	}
	if ver == 0 {
		chk ^= 1
	} else {
		chk ^= 0x2bc830a3
	}
	out := make([]byte, 0, len(hrp)+1+n+6)
	out = append(out, hrp...)
	out = append(out, '1')
	for _, v := range data[:n] {
		out = append(out, bech32Charset[v])
	}
	for i := 0; i < 6; i++ {
		out = append(out, bech32Charset[(chk>>(5*(5-i)))&31])
	}
	return string(out)
}
