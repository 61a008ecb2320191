package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// readDirFiles returns the blk files of dir in name order, as on disk and
// de-obfuscated with key byte by byte (the slow obvious way).
func readDirFiles(t *testing.T, dir string, key [8]byte) (plain, raw [][]byte) {
	t.Helper()
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("blk%05d.dat", i)))
		if errors.Is(err, os.ErrNotExist) {
			return plain, raw
		}
		if err != nil {
			t.Fatal(err)
		}
		p := bytes.Clone(b)
		for i := range p {
			p[i] ^= key[i%8]
		}
		plain, raw = append(plain, p), append(raw, b)
	}
}

// framesOf splits a de-obfuscated file into its blocks, stopping at the end
// or where the file on disk holds zeros instead of a magic.
func framesOf(t *testing.T, plain, raw []byte) (blocks [][]byte, end int) {
	t.Helper()
	for end < len(plain) && !isZero(raw[end:min(end+4, len(raw))]) {
		if end+8 > len(plain) || !bytes.Equal(plain[end:end+4], []byte{0xf9, 0xbe, 0xb4, 0xd9}) {
			t.Fatalf("no mainnet frame at %d", end)
		}
		n := int(binary.LittleEndian.Uint32(plain[end+4:]))
		blocks = append(blocks, plain[end+8:end+8+n])
		end += 8 + n
	}
	return blocks, end
}

func TestBlkWriter(t *testing.T) {
	blocks := earlyBlocks(t)[:300]
	key := [8]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	tests := []struct {
		name string
		opts BlkWriterOptions
	}{
		{"default", BlkWriterOptions{}},
		{"small files", BlkWriterOptions{MaxFileSize: 5000}},
		{"one block per file", BlkWriterOptions{MaxFileSize: 1}},
		{"xor", BlkWriterOptions{MaxFileSize: 7000, XORKey: key}},
		{"xor and padding", BlkWriterOptions{MaxFileSize: 7000, XORKey: key, PadTo: 4096}},
		{"padding", BlkWriterOptions{MaxFileSize: 7000, PadTo: 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "blocks")
			w, err := NewBlkWriter(dir, tMainnet, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range blocks {
				if err := w.WriteBlock(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			xorFile, err := os.ReadFile(filepath.Join(dir, "xor.dat"))
			switch {
			case tc.opts.XORKey == [8]byte{} && !errors.Is(err, os.ErrNotExist):
				t.Fatalf("xor.dat without a key: %v", err)
			case tc.opts.XORKey != [8]byte{} && !bytes.Equal(xorFile, tc.opts.XORKey[:]):
				t.Fatalf("xor.dat = %x, %v; want %x", xorFile, err, tc.opts.XORKey)
			}

			maxSize := tc.opts.MaxFileSize
			if maxSize == 0 {
				maxSize = DefaultMaxBlkFileSize
			}
			plain, raw := readDirFiles(t, dir, tc.opts.XORKey)
			var got [][]byte
			for i := range plain {
				frames, end := framesOf(t, plain[i], raw[i])
				if len(frames) == 0 {
					t.Fatalf("file %d holds no frame", i)
				}
				if !isZero(raw[i][end:]) {
					t.Fatalf("file %d: non-zero bytes after the last frame at %d", i, end)
				}
				switch pad := int(tc.opts.PadTo); {
				case pad == 0 && end != len(raw[i]):
					t.Fatalf("file %d: %d bytes after the frames without padding", i, len(raw[i])-end)
				case pad > 0 && (len(raw[i])%pad != 0 || len(raw[i])-end >= pad):
					t.Fatalf("file %d: frames end at %d, file is %d bytes, want padding to a multiple of %d", i, end, len(raw[i]), pad)
				}
				if int64(end) > maxSize && len(frames) > 1 {
					t.Fatalf("file %d: %d bytes in %d frames exceeds %d", i, end, len(frames), maxSize)
				}
				if i+1 < len(plain) {
					next, _ := framesOf(t, plain[i+1], raw[i+1])
					if int64(end+8+len(next[0])) <= maxSize {
						t.Fatalf("file %d ended early: %d + next frame %d fits in %d", i, end, 8+len(next[0]), maxSize)
					}
				}
				got = append(got, frames...)
			}
			if len(got) != len(blocks) {
				t.Fatalf("%d blocks written, %d read back", len(blocks), len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i], blocks[i]) {
					t.Fatalf("block %d differs", i)
				}
			}
			if tc.opts.MaxFileSize == 1 && len(plain) != len(blocks) {
				t.Fatalf("one block per file: %d files for %d blocks", len(plain), len(blocks))
			}
		})
	}
}

func TestBlkWriterErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBlkWriter(dir, tMainnet, BlkWriterOptions{}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("NewBlkWriter over existing files: %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "blk00000.dat")); string(b) != "keep me" {
		t.Fatalf("existing file changed to %q", b)
	}

	if _, err := NewBlkWriter(t.TempDir(), tMainnet, BlkWriterOptions{PadTo: -1}); err == nil ||
		err.Error() != "chain: bad input: blk writer: negative PadTo -1" {
		t.Fatalf("negative PadTo: %v", err)
	}

	w, err := NewBlkWriter(t.TempDir(), tMainnet, BlkWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBlock(make([]byte, maxFrameLen+1)); err == nil ||
		err.Error() != "chain: bad input: blk writer: block of 33554433 bytes exceeds 33554432" {
		t.Fatalf("oversized block: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBlock([]byte{1}); err == nil || err.Error() != "chain: bad input: blk writer is closed" {
		t.Fatalf("write after close: %v", err)
	}
}

func TestBlkWriterFlush(t *testing.T) {
	blocks := earlyBlocks(t)[:3]
	dir := t.TempDir()
	w, err := NewBlkWriter(dir, tMainnet, BlkWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, b := range blocks {
		if err := w.WriteBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "blk00000.dat"))
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(frame(tMainnet, blocks[0]), frame(tMainnet, blocks[1])...), frame(tMainnet, blocks[2])...)
	if !bytes.Equal(got, want) {
		t.Fatalf("after Flush the file holds %d bytes, want the %d of three frames", len(got), len(want))
	}
}

func TestXORAt(t *testing.T) {
	key := [8]byte{1, 2, 4, 8, 16, 32, 64, 128}
	for off := int64(0); off < 20; off++ {
		for n := 0; n < 30; n++ {
			b := bytes.Repeat([]byte{0xa5}, n)
			xorAt(b, off, &key)
			for i := range b {
				if want := 0xa5 ^ key[(off+int64(i))%8]; b[i] != want {
					t.Fatalf("off %d len %d: byte %d = %x, want %x", off, n, i, b[i], want)
				}
			}
		}
	}
}
