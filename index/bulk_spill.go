package index

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// spill distributes records into numbered bucket files, each appended
// through its own buffer: the radix step of the bulk build's external sorts.
// A bucket file is only appended to, so the I/O is sequential however the
// records are scattered.
type spill struct {
	dir, name string
	bufSize   int
	bufs      [][]byte
	written   []int64
	bytes     int64
}

// newSpill starts the spill name in dir. Bucket files of an earlier run of
// the same phase (killed, to be redone from its start) are removed first:
// appended to, they would hold every record twice, and a write torn by the
// kill would shift every record after it.
func newSpill(dir, name string, buckets, bufSize int) (*spill, error) {
	old, err := filepath.Glob(filepath.Join(dir, name+".*"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBuild, err)
		}
	}
	return &spill{dir: dir, name: name, bufSize: bufSize, bufs: make([][]byte, buckets), written: make([]int64, buckets)}, nil
}

func (s *spill) path(b int) string { return filepath.Join(s.dir, fmt.Sprintf("%s.%05d", s.name, b)) }

// grow adds buckets (a bucketing by range that learns its range as it goes).
func (s *spill) grow(buckets int) {
	for len(s.bufs) < buckets {
		s.bufs = append(s.bufs, nil)
		s.written = append(s.written, 0)
	}
}

// add appends rec to bucket b.
func (s *spill) add(b int, rec []byte) error {
	buf := s.bufs[b]
	if buf == nil {
		buf = make([]byte, 0, s.bufSize)
	}
	buf = append(buf, rec...)
	s.bufs[b] = buf
	if len(buf) >= s.bufSize-64 {
		return s.flush(b)
	}
	return nil
}

func (s *spill) flush(b int) error {
	buf := s.bufs[b]
	if len(buf) == 0 {
		return nil
	}
	f, err := os.OpenFile(s.path(b), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	_, err = f.Write(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: write %s: %v", ErrBuild, s.path(b), err)
	}
	s.written[b] += int64(len(buf))
	s.bytes += int64(len(buf))
	s.bufs[b] = buf[:0]
	return nil
}

// finish flushes every bucket and releases the buffers.
func (s *spill) finish() error {
	for b := range s.bufs {
		if err := s.flush(b); err != nil {
			return err
		}
		s.bufs[b] = nil
	}
	return nil
}

// readBucket returns the whole content of bucket b of a finished spill.
func readBucket(path string) ([]byte, error) {
	d, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return d, nil
}

// appendFile is a buffered sequential writer of one new file.
type appendFile struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func createAppend(path string) (*appendFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return &appendFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (a *appendFile) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.n += int64(n)
	if err != nil {
		err = fmt.Errorf("%w: write %s: %v", ErrBuild, a.f.Name(), err)
	}
	return n, err
}

// close flushes and fsyncs the file.
func (a *appendFile) close() error {
	err := a.w.Flush()
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBuild, a.f.Name(), err)
	}
	return nil
}

// recReader reads fixed-size records of a file sequentially.
type recReader struct {
	f   *os.File
	r   *bufio.Reader
	buf []byte
}

func openRecReader(path string, recSize int) (*recReader, error) {
	return openRecReaderSize(path, recSize, 256<<10)
}

func openRecReaderSize(path string, recSize, bufSize int) (*recReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return &recReader{f: f, r: bufio.NewReaderSize(f, bufSize), buf: make([]byte, recSize)}, nil
}

// next returns the next record (valid until the next call) or nil at the end.
func (r *recReader) next() ([]byte, error) {
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: read %s: %v", ErrBuild, r.f.Name(), err)
	}
	return r.buf, nil
}

func (r *recReader) close() { r.f.Close() }
