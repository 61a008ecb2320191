package chain

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// coinbaseHeight reads the BIP-34 height a coinbase script starts with.
func coinbaseHeight(t *testing.T, b *wire.MsgBlock) int {
	t.Helper()
	s := b.Transactions[0].TxIn[0].SignatureScript
	if len(s) < 1 || s[0] < 1 || s[0] > 4 || len(s) < 1+int(s[0]) {
		t.Fatalf("coinbase script %x has no height push", s)
	}
	h := 0
	for i := int(s[0]); i >= 1; i-- {
		h = h<<8 | int(s[i])
	}
	return h
}

func TestDecodeRealFiles(t *testing.T) {
	genesis := tMainnet.Params.GenesisHash.String()
	tests := []struct {
		file    string
		blocks  int
		heights []int // BIP-34 heights of the blocks, when they carry one
		txid    string
	}{
		{file: "blk00000-heights-0-4312.dat", blocks: 4313},
		{file: "blk-heights-0-589.dat", blocks: 590},
		{file: "framed-176149.dat", blocks: 1}, // before BIP-34
		{file: "framed-277647.dat", blocks: 1, heights: []int{277647}},
		{file: "framed-332208.dat", blocks: 1, heights: []int{332208}},
		{file: "framed-370505.dat", blocks: 1, heights: []int{370505}},
		{file: "framed-403617.dat", blocks: 1, heights: []int{403617}},
		// The second block is not 482,254 as the file name says, but 482,202.
		{file: "framed-482253-and-next.dat", blocks: 2, heights: []int{482253, 482202}},
		{file: "framed-482300.dat", blocks: 1, heights: []int{482300}},
		{file: "framed-556977.dat", blocks: 1, heights: []int{556977}},
		{file: "raw-300025.bin", blocks: 1, heights: []int{300025}},
		{file: "raw-413567.bin", blocks: 1, heights: []int{413567}},
		{file: "raw-426884.bin", blocks: 1, heights: []int{426884}},
		{file: "raw-482683.bin", blocks: 1, heights: []int{482683}},
		{file: "raw-540107.bin", blocks: 1, heights: []int{540107}},
		{file: "raw-574200.bin", blocks: 1, heights: []int{574200}},
		{file: "raw-tx-megatx.bin", txid: "bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			d, err := DecodeArg(mainnetFile(t, tc.file), tMainnet)
			if err != nil {
				t.Fatal(err)
			}
			if tc.txid != "" {
				if d.Tx == nil || len(d.Blocks) != 0 || d.Tx.TxHash().String() != tc.txid {
					t.Fatalf("want the single tx %s, got %+v", tc.txid, d)
				}
				return
			}
			if d.Tx != nil || len(d.Blocks) != tc.blocks {
				t.Fatalf("%d blocks (tx %v), want %d", len(d.Blocks), d.Tx != nil, tc.blocks)
			}
			for i, b := range d.Blocks {
				if err := Check(b, tMainnet).Merkle; err != nil {
					t.Fatalf("block %d: %v", i, err)
				}
			}
			if strings.HasPrefix(tc.file, "blk") {
				if got := d.Blocks[0].BlockHash().String(); got != genesis {
					t.Fatalf("first block %s, want genesis", got)
				}
				for i := 1; i < len(d.Blocks); i++ {
					if d.Blocks[i].Header.PrevBlock != d.Blocks[i-1].BlockHash() {
						t.Fatalf("block %d does not follow block %d", i, i-1)
					}
				}
			}
			for i, h := range tc.heights {
				if got := coinbaseHeight(t, d.Blocks[i]); got != h {
					t.Fatalf("block %d: coinbase height %d, want %d", i, got, h)
				}
			}
		})
	}
}

func TestDecodeBlock170(t *testing.T) {
	d, err := DecodeArg(mainnetFile(t, "blk00000-heights-0-4312.dat"), tMainnet)
	if err != nil {
		t.Fatal(err)
	}
	b170 := &Decoded{Blocks: d.Blocks[170:171]}
	rows := b170.Rows(tMainnet)
	want := []OutputRow{
		{"00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", 0, 1000000000, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", ScriptP2PK},
		{"00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", 1, 4000000000, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", ScriptP2PK},
	}
	if len(rows) != 3 || rows[1] != want[0] || rows[2] != want[1] {
		t.Fatalf("block 170 rows:\n%v\nwant coinbase then\n%v", rows, want)
	}
	// The coinbase: 50 BTC to a P2PK output.
	if r := rows[0]; r.ValueSat != 5000000000 || r.ScriptType != ScriptP2PK || r.Vout != 0 {
		t.Fatalf("coinbase row %+v", r)
	}

	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "block170.csv", buf.Bytes())

	// The same transaction alone: no block hash.
	var raw bytes.Buffer
	if err := d.Blocks[170].Transactions[1].Serialize(&raw); err != nil {
		t.Fatal(err)
	}
	lone, err := DecodeArg(" 0x"+hex.EncodeToString(raw.Bytes())+"\n", tMainnet)
	if err != nil {
		t.Fatal(err)
	}
	got := lone.Rows(tMainnet)
	for i := range want {
		want[i].BlockHash = ""
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("lone tx rows %v, want %v", got, want)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs:\n got %s\nwant %s", path, got, want)
	}
}

func TestDecodeTestnet(t *testing.T) {
	dir := filepath.Join(sharedData(t), "btc", "testnet")
	framed := filepath.Join(dir, "framed-testnet3-685415.dat")
	_, err := DecodeArg(framed, tMainnet)
	want := "chain: wrong network: " + framed + ":0: testnet block (magic 0b110907), want mainnet (magic f9beb4d9)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrWrongNetwork) {
		t.Fatalf("testnet file as mainnet: %v\nwant %s", err, want)
	}
	for _, f := range []string{"framed-testnet3-685415.dat", "raw-testnet3-928848.bin"} {
		d, err := DecodeArg(filepath.Join(dir, f), tTestnet)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Blocks) != 1 || Check(d.Blocks[0], tMainnet).Merkle != nil {
			t.Fatalf("%s: %d blocks", f, len(d.Blocks))
		}
		// A raw block carries no magic; its network shows only in how its
		// addresses are written.
		n := 0
		for _, r := range d.Rows(tTestnet) {
			switch r.ScriptType {
			case ScriptP2PKH, ScriptP2PK:
				n++
				if r.Address[0] != 'm' && r.Address[0] != 'n' {
					t.Fatalf("%s: %s address %s", f, r.ScriptType, r.Address)
				}
			case ScriptP2SH:
				n++
				if r.Address[0] != '2' {
					t.Fatalf("%s: p2sh address %s", f, r.Address)
				}
			case ScriptP2WPKH, ScriptP2WSH, ScriptP2TR:
				n++
				if !strings.HasPrefix(r.Address, "tb1") {
					t.Fatalf("%s: %s address %s", f, r.ScriptType, r.Address)
				}
			}
		}
		if n == 0 {
			t.Fatalf("%s: no addresses", f)
		}
	}
	d, err := DecodeArg(filepath.Join(dir, "raw-testnet3-928848.bin"), tTestnet)
	if err != nil {
		t.Fatal(err)
	}
	if h := coinbaseHeight(t, d.Blocks[0]); h != 928848 {
		t.Fatalf("coinbase height %d", h)
	}
}

func TestDecodeErrors(t *testing.T) {
	blocks := earlyBlocks(t)[:3]
	megatx, err := os.ReadFile(mainnetFile(t, "raw-tx-megatx.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f0 := frame(tMainnet, blocks[0])
	tests := []struct {
		name    string
		in      []byte
		wantErr string
		errIs   error
	}{
		{"empty", nil,
			"chain: corrupt data: offset 0: not a block (offset 0: EOF), not a transaction (offset 0: EOF), not framed (no network magic)", ErrCorrupt},
		{"text", []byte("hello"),
			"chain: corrupt data: offset 0: not a block (offset 5: unexpected EOF), not a transaction (offset 5: EOF), not framed (no network magic)", ErrCorrupt},
		{"block with a trailing byte", cat(blocks[0], []byte{0}),
			"chain: corrupt data: offset 0: not a block (offset 285: 1 trailing bytes after the block), not a transaction (offset 6: MsgTx.BtcDecode: witness tx but flag byte is 00), not framed (no network magic)", ErrCorrupt},
		{"tx with a trailing byte", cat(megatx, []byte{1}),
			"chain: corrupt data: offset 0: not a block (offset 5015: readScript: transaction input signature script is larger than the max allowed size [count 3278516597946028895, max 4000000]), not a transaction (offset 999657: 1 trailing bytes after the transaction), not framed (no network magic)", ErrCorrupt},
		{"truncated tx", megatx[:1000],
			"chain: corrupt data: offset 0: not a block (offset 1000: unexpected EOF), not a transaction (offset 1000: unexpected EOF), not framed (no network magic)", ErrCorrupt},
		{"garbage after a frame", cat(f0, []byte("garbage!")),
			"chain: corrupt data: offset 293: no network magic (found 67617262, want mainnet magic f9beb4d9)", ErrCorrupt},
		{"truncated frame", f0[:100],
			"chain: corrupt data: offset 0: truncated frame: block of 285 bytes, 92 bytes left", ErrCorrupt},
		{"truncated frame header", cat(f0, f0[:6]),
			"chain: corrupt data: offset 293: truncated frame header (6 bytes left)", ErrCorrupt},
		{"testnet frame after a mainnet one", cat(f0, frame(tTestnet, blocks[1])),
			"chain: wrong network: offset 293: testnet block (magic 0b110907), want mainnet (magic f9beb4d9)", ErrWrongNetwork},
		{"regtest frame first", frame(tRegtest, blocks[0]),
			"chain: wrong network: offset 0: regtest block (magic fabfb5da), want mainnet (magic f9beb4d9)", ErrWrongNetwork},
		{"huge frame length", []byte{0xf9, 0xbe, 0xb4, 0xd9, 0xff, 0xff, 0xff, 0x7f, 0},
			"chain: corrupt data: offset 0: frame length 2147483647 exceeds 33554432", ErrCorrupt},
		{"frame longer than its block", cat(frame(tMainnet, cat(blocks[1], []byte{0, 0})), f0),
			fmt.Sprintf("chain: corrupt data: offset %d: frame at 0: %d trailing bytes after the block", 8+len(blocks[1]), 2), ErrCorrupt},
		{"frame with a broken block", cat(f0, frame(tMainnet, blocks[1][:100])),
			"chain: corrupt data: offset 401: frame at 293: unexpected EOF", ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Decode(tc.in, tMainnet)
			if err == nil {
				t.Fatalf("decoded %+v, want error %q", d, tc.wantErr)
			}
			if err.Error() != tc.wantErr || !errors.Is(err, tc.errIs) {
				t.Fatalf("error\n got %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

func TestDecodeFramedPadding(t *testing.T) {
	blocks := earlyBlocks(t)[:3]
	for _, pad := range []int{1, 3, 4, 4096} {
		in := cat(frames(tMainnet, blocks), make([]byte, pad))
		d, err := Decode(in, tMainnet)
		if err != nil {
			t.Fatalf("padding %d: %v", pad, err)
		}
		if len(d.Blocks) != 3 || d.Blocks[2].BlockHash() != hashOf(t, blocks[2]) {
			t.Fatalf("padding %d: %d blocks", pad, len(d.Blocks))
		}
	}
}

func TestDecodeArgErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 100)
	tests := []struct {
		arg     string
		wantErr string
		errIs   error
	}{
		{"zz", `chain: bad input: "zz" is neither an existing file nor hex`, ErrBadInput},
		{"", `chain: bad input: "" is neither an existing file nor hex`, ErrBadInput},
		{"abc", `chain: bad input: "abc" is neither an existing file nor hex`, ErrBadInput},
		{filepath.Join(dir, "missing.dat"), fmt.Sprintf("chain: bad input: %q is neither an existing file nor hex", filepath.Join(dir, "missing.dat")), ErrBadInput},
		{dir, fmt.Sprintf("chain: bad input: %q is neither an existing file nor hex", dir), ErrBadInput},
		{long, fmt.Sprintf("chain: bad input: %q is neither an existing file nor hex", long[:77]+"..."), ErrBadInput},
		{bad, "chain: corrupt data: " + bad + ":0: not a block (" + bad + ":5: unexpected EOF), not a transaction (" + bad + ":5: EOF), not framed (no network magic)", ErrCorrupt},
		{"68656c6c6f", "chain: corrupt data: offset 0: not a block (offset 5: unexpected EOF), not a transaction (offset 5: EOF), not framed (no network magic)", ErrCorrupt},
	}
	for _, tc := range tests {
		_, err := DecodeArg(tc.arg, tMainnet)
		if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.errIs) {
			t.Errorf("DecodeArg(%.20q) error\n got %v\nwant %s", tc.arg, err, tc.wantErr)
		}
	}
}

func TestCheckDecoded(t *testing.T) {
	d, err := Decode(earlyBlocks(t)[170], tMainnet)
	if err != nil {
		t.Fatal(err)
	}
	b := d.Blocks[0]
	if c := Check(b, tMainnet); c.PoW != nil || c.Merkle != nil {
		t.Fatalf("block 170: %+v", c)
	}
	if c := Check(b, tTestnet); c.PoW != nil {
		t.Fatalf("block 170 on testnet rules: %v", c.PoW) // same limit
	}
	b.Transactions[1].TxOut[0].Value++ // the header no longer commits to this
	c := Check(b, tMainnet)
	if c.PoW != nil || c.Merkle == nil || !errors.Is(c.Merkle, ErrCorrupt) ||
		!strings.HasPrefix(c.Merkle.Error(), "merkle root: the transactions hash to ") ||
		!strings.HasSuffix(c.Merkle.Error(), ", the header says 7dac2c5666815c17a3b36427de37bb9d2e2c5ccec3f8633eb91a4205cb4c10ff") {
		t.Fatalf("tampered block: %+v", c)
	}
	b.Header.Nonce++
	if c := Check(b, tMainnet); c.PoW == nil || c.PoW.Error() != fmt.Sprintf("proof of work: hash %s is above the target of its bits 1d00ffff", b.BlockHash()) {
		t.Fatalf("changed nonce: %v", c.PoW)
	}
	if c := Check(b, tRegtest); c.PoW == nil {
		t.Fatal("changed nonce passes on regtest")
	}
	b.Transactions = nil
	if c := Check(b, tMainnet); c.Merkle == nil || c.Merkle.Error() != "coinbase: block has no transactions" {
		t.Fatalf("empty block: %v", c.Merkle)
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	rows := []OutputRow{
		{"", "ab", 7, 0, "", ScriptOpReturn},
		{"cd", "ef", 0, 2100000000000000, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", ScriptP2WPKH},
	}
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	want := "block_hash,txid,vout,value_sat,address,script_type\n" +
		",ab,7,0,,op_return\n" +
		"cd,ef,0,2100000000000000,bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4,p2wpkh\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
