package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

func serialize(t *testing.T, s interface{ Serialize(io.Writer) error }) []byte {
	var buf bytes.Buffer
	if err := s.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func FuzzDecode(f *testing.F) {
	blocks := earlyBlocks(f)
	var tx bytes.Buffer
	var b170 wire.MsgBlock
	if err := b170.Deserialize(bytes.NewReader(blocks[170])); err != nil {
		f.Fatal(err)
	}
	if err := b170.Transactions[1].Serialize(&tx); err != nil {
		f.Fatal(err)
	}
	f.Add(blocks[0])
	f.Add(blocks[170])
	f.Add(tx.Bytes())
	f.Add(frames(tMainnet, blocks[:3]))
	f.Add(cat(frame(tMainnet, blocks[0]), make([]byte, 9)))
	f.Add(frame(tTestnet, blocks[1]))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(data, tMainnet)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongNetwork) {
				t.Fatalf("error of no class: %v", err)
			}
			return
		}
		if (d.Tx == nil) == (len(d.Blocks) == 0) {
			t.Fatalf("want either blocks or a tx, got %d blocks, tx %v", len(d.Blocks), d.Tx != nil)
		}
		magic := tMainnet.MagicBytes()
		framed := len(data) >= 4 && bytes.Equal(data[:4], magic[:])
		switch {
		case d.Tx != nil:
			if got := serialize(t, d.Tx); !bytes.Equal(got, data) {
				t.Fatalf("tx re-serializes to %x, input %x", got, data)
			}
		case framed:
			off := 0
			for i, b := range d.Blocks {
				n := int(binary.LittleEndian.Uint32(data[off+4:]))
				if got := serialize(t, b); !bytes.Equal(got, data[off+8:off+8+n]) {
					t.Fatalf("framed block %d re-serializes differently", i)
				}
				off += 8 + n
			}
		default:
			if len(d.Blocks) != 1 {
				t.Fatalf("raw input gave %d blocks", len(d.Blocks))
			}
			if got := serialize(t, d.Blocks[0]); !bytes.Equal(got, data) {
				t.Fatalf("block re-serializes to %x, input %x", got, data)
			}
		}
		for _, b := range d.Blocks {
			if err := Check(b, tMainnet).Merkle; err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
		}
		if err := WriteCSV(io.Discard, d.Rows(tMainnet)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzBlkDir(f *testing.F) {
	blocks := earlyBlocks(f)[:6]
	plain := frames(tMainnet, blocks)
	const key = 0x0102030405060708
	var kb [8]byte
	binary.LittleEndian.PutUint64(kb[:], key)
	obf := bytes.Clone(plain)
	xorAt(obf, 0, &kb)
	f.Add(plain, uint64(0))
	f.Add(obf, uint64(key))
	f.Add(cat(plain, make([]byte, 50)), uint64(0))
	f.Add(plain[:len(plain)-7], uint64(0))
	f.Add(cat(frames(tMainnet, blocks[:1]), frames(tMainnet, blocks[3:]), frames(tMainnet, blocks[1:3])), uint64(0))
	f.Add(frame(tTestnet, blocks[0]), uint64(0))
	// Validation seeds: a forged header claiming target 1, a gap, a
	// partial block followed by zero padding.
	forged := bytes.Clone(blocks[1])
	binary.LittleEndian.PutUint32(forged[72:76], 0x01010000)
	f.Add(cat(plain, frame(tMainnet, forged)), uint64(0))
	f.Add(cat(frames(tMainnet, blocks[:2]), frames(tMainnet, blocks[3:])), uint64(0))
	f.Add(cat(frames(tMainnet, blocks[:5]), frame(tMainnet, blocks[5])[:50], make([]byte, 300)), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, key uint64) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if key != 0 {
			var kb [8]byte
			binary.LittleEndian.PutUint64(kb[:], key)
			if err := os.WriteFile(filepath.Join(dir, "xor.dat"), kb[:], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d, err := OpenBlkDir(dir, tMainnet, quietLog())
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongNetwork) {
				t.Fatalf("error of no class: %v", err)
			}
			return
		}
		defer d.Close()
		best, err := d.BestChain()
		if err != nil && !errors.Is(err, ErrPartial) {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongNetwork) {
				t.Fatalf("error of no class: %v", err)
			}
			return
		}
		if best[0].Hash != *tMainnet.Params.GenesisHash {
			t.Fatalf("chain starts at %s", best[0].Hash)
		}
		// Validation is on: every header of the chain meets its own bits
		// and the bits the rules require of it, whatever the input.
		s := GenesisState(tMainnet)
		for i, loc := range best {
			if i > 0 && loc.Prev != best[i-1].Hash {
				t.Fatalf("height %d does not link", i)
			}
			raw, err := d.ReadBlock(loc)
			if err != nil {
				t.Fatalf("ReadBlock(%s): %v", loc, err)
			}
			if err := CheckProofOfWork(chainhash.DoubleHashH(raw[:80]), loc.Bits); err != nil {
				t.Fatalf("height %d on the best chain: %v", i, err)
			}
			if i > 0 {
				if err := CheckContext(tMainnet, s, loc.Hash, loc.Bits, loc.Time); err != nil {
					t.Fatalf("height %d on the best chain: %v", i, err)
				}
				s = s.Advance(tMainnet.Params, loc.Hash, loc.Bits, loc.Time)
			}
			if b, _, err := decodeBlock(raw); err == nil {
				if c := Check(b, tMainnet); c.PoW != nil {
					t.Fatalf("height %d: %v", i, c.PoW)
				} else if c.Merkle != nil && !errors.Is(c.Merkle, ErrCorrupt) {
					t.Fatalf("height %d: error of no class: %v", i, c.Merkle)
				}
			}
		}
	})
}
