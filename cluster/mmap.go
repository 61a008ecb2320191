package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// scratch is a growable array of fixed-size records in a memory-mapped file
// under the index directory (DATA/<network>/cluster-scratch/). The file is
// unlinked as soon as it is created, so a killed process leaves nothing
// behind, and its pages are file-backed: under memory pressure (a memory
// cgroup, a small machine) the kernel writes them back and drops them
// instead of the process running out of memory. That is what keeps the
// union-find of mainnet's ~1.4 billion addresses (8 B each) off the Go heap.
// Nothing in a scratch file is ever read after the process ends: the
// Pebble rows are the clustering.
type scratch struct {
	f    *os.File
	data []byte
	rec  int // bytes per record
}

// scratchDir is where scratch files are made; tests may point it elsewhere.
func scratchDir(ixDir string) string { return filepath.Join(ixDir, "cluster-scratch") }

func newScratch(ixDir string, rec int) (*scratch, error) {
	dir := scratchDir(ixDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: scratch directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "forest-*")
	if err != nil {
		return nil, fmt.Errorf("cluster: scratch file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster: scratch file: %w", err)
	}
	return &scratch{f: f, rec: rec}, nil
}

// ensure makes room for records 0..n-1, keeping their contents; new records
// are zero. The mapping grows by at least half so growth costs amortised O(1).
func (s *scratch) ensure(n int) error {
	need := n * s.rec
	if need <= len(s.data) {
		return nil
	}
	size := max(need, len(s.data)+len(s.data)/2, 1<<16)
	size = (size + 4095) &^ 4095
	if err := s.f.Truncate(int64(size)); err != nil {
		return fmt.Errorf("cluster: growing scratch file to %d bytes: %w", size, err)
	}
	if s.data != nil {
		if err := syscall.Munmap(s.data); err != nil {
			return fmt.Errorf("cluster: unmapping scratch file: %w", err)
		}
		s.data = nil
	}
	d, err := syscall.Mmap(int(s.f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("cluster: mapping scratch file of %d bytes: %w", size, err)
	}
	s.data = d
	return nil
}

// bytes is the mapped size.
func (s *scratch) bytes() int { return len(s.data) }

func (s *scratch) close() error {
	if s == nil {
		return nil
	}
	var err error
	if s.data != nil {
		err = syscall.Munmap(s.data)
		s.data = nil
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// u32s views the mapping as uint32s (the records must be 4 bytes).
func (s *scratch) u32s() []uint32 {
	if len(s.data) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&s.data[0])), len(s.data)/4)
}

// buildAggs views the mapping as buildAgg records.
func (s *scratch) buildAggs() []buildAgg {
	if len(s.data) == 0 {
		return nil
	}
	return unsafe.Slice((*buildAgg)(unsafe.Pointer(&s.data[0])), len(s.data)/int(unsafe.Sizeof(buildAgg{})))
}
