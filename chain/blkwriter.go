package chain

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultMaxBlkFileSize is Bitcoin Core's MAX_BLOCKFILE_SIZE.
const DefaultMaxBlkFileSize = 128 << 20

// BlkWriterOptions tune a BlkWriter. The zero value writes Core-sized files
// without obfuscation or padding.
type BlkWriterOptions struct {
	// MaxFileSize starts a new file when the next frame would make the
	// current one larger (0 = DefaultMaxBlkFileSize). A frame larger than
	// MaxFileSize gets a file of its own.
	MaxFileSize int64
	// XORKey obfuscates every file byte at offset p with XORKey[p%8], as
	// Bitcoin Core >= 28 does; a non-zero key is also written to xor.dat.
	XORKey [8]byte
	// PadTo zero-pads every file, when finished, to a multiple of PadTo
	// bytes. The padding is not obfuscated: like Core's preallocation it is
	// plain zeros on disk.
	PadTo int64
}

// BlkWriter writes blocks into dir in Bitcoin Core's blk file framing:
// blk00000.dat, blk00001.dat, ..., each a sequence of frames of 4-byte
// network magic, 4-byte little-endian length, block bytes. It is not safe
// for concurrent use.
type BlkWriter struct {
	dir   string
	magic [4]byte
	opts  BlkWriterOptions
	xor   bool

	n       int // number of the current file
	f       *os.File
	buf     *bufio.Writer
	size    int64 // bytes written to the current file
	scratch []byte
}

// NewBlkWriter creates dir if needed and returns a writer that fills it
// from blk00000.dat on. It refuses a dir that already holds blk00000.dat so
// that existing block files are never overwritten.
func NewBlkWriter(dir string, net Network, opts BlkWriterOptions) (*BlkWriter, error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxBlkFileSize
	}
	if opts.PadTo < 0 {
		return nil, fmt.Errorf("%w: blk writer: negative PadTo %d", ErrBadInput, opts.PadTo)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blk writer: %w", err)
	}
	w := &BlkWriter{dir: dir, magic: net.MagicBytes(), opts: opts, xor: opts.XORKey != [8]byte{}}
	if w.xor {
		if err := os.WriteFile(filepath.Join(dir, "xor.dat"), opts.XORKey[:], 0o644); err != nil {
			return nil, fmt.Errorf("blk writer: %w", err)
		}
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func blkFileName(n int) string { return fmt.Sprintf("blk%05d.dat", n) }

func (w *BlkWriter) open() error {
	f, err := os.OpenFile(filepath.Join(w.dir, blkFileName(w.n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("blk writer: %w", err)
	}
	w.f, w.size = f, 0
	if w.buf == nil {
		w.buf = bufio.NewWriterSize(f, 1<<20)
	} else {
		w.buf.Reset(f)
	}
	return nil
}

// finish flushes, pads and closes the current file.
func (w *BlkWriter) finish() error {
	if err := w.buf.Flush(); err != nil {
		w.f.Close()
		return fmt.Errorf("blk writer: %w", err)
	}
	if p := w.opts.PadTo; p > 0 && w.size%p != 0 {
		if err := w.f.Truncate(w.size + p - w.size%p); err != nil {
			w.f.Close()
			return fmt.Errorf("blk writer: %w", err)
		}
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("blk writer: %w", err)
	}
	w.f = nil
	return nil
}

// WriteBlock appends one frame holding raw. Output is buffered; the files
// are complete only after Flush or Close.
func (w *BlkWriter) WriteBlock(raw []byte) error {
	if w.f == nil {
		return fmt.Errorf("%w: blk writer is closed", ErrBadInput)
	}
	if uint64(len(raw)) > maxFrameLen {
		return fmt.Errorf("%w: blk writer: block of %d bytes exceeds %d", ErrBadInput, len(raw), maxFrameLen)
	}
	frame := int64(8 + len(raw))
	if w.size > 0 && w.size+frame > w.opts.MaxFileSize {
		if err := w.finish(); err != nil {
			return err
		}
		w.n++
		if err := w.open(); err != nil {
			return err
		}
	}
	var hdr [8]byte
	copy(hdr[:4], w.magic[:])
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(raw)))
	if err := w.write(hdr[:]); err != nil {
		return err
	}
	return w.write(raw)
}

func (w *BlkWriter) write(b []byte) error {
	if w.xor {
		w.scratch = append(w.scratch[:0], b...)
		xorAt(w.scratch, w.size, &w.opts.XORKey)
		b = w.scratch
	}
	if _, err := w.buf.Write(b); err != nil {
		return fmt.Errorf("blk writer: %w", err)
	}
	w.size += int64(len(b))
	return nil
}

// Flush writes buffered frames to the current file (without padding it), so
// that a reader sees them while the writer stays open, as with a running node.
func (w *BlkWriter) Flush() error {
	if w.f == nil {
		return nil
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("blk writer: %w", err)
	}
	return nil
}

// Close flushes, pads and closes the current file. Closing twice is a no-op.
func (w *BlkWriter) Close() error {
	if w.f == nil {
		return nil
	}
	return w.finish()
}

// xorAt de/obfuscates b, which sits at file offset off, eight bytes at a
// time: whole blocks pass through it on every read.
func xorAt(b []byte, off int64, key *[8]byte) {
	var rk [8]byte
	for i := range rk {
		rk[i] = key[(off+int64(i))&7]
	}
	kw := binary.LittleEndian.Uint64(rk[:])
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^kw)
	}
	for ; i < len(b); i++ {
		b[i] ^= rk[i&7]
	}
}
