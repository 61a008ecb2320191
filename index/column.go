package index

import (
	"fmt"
	"os"
	"syscall"
)

// column is an append-only file of fixed-size records, memory-mapped
// read-write so that ingest appends and updates (spent-by) are plain memory
// stores and the tracer's graph walk is pointer arithmetic. The file is
// grown in chunks ahead of the logical length; the logical length lives in
// the store's tip record, and Open truncates anything beyond it (the tail of
// a block whose batch never committed).
type column struct {
	f       *os.File
	name    string
	recSize int
	n       uint64 // logical records
	data    []byte // mapping; len(data) is the file size
	ro      bool
	seq     bool // read front to back now (advise)
}

// columnChunk is the least a column grows by (a variable: the power-loss
// simulation grows files in small steps, to cut during growth often).
var columnChunk int64 = 64 << 20

func openColumn(path string, recSize int, n uint64, readOnly bool) (*column, error) {
	flag := os.O_RDWR | os.O_CREATE
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: open column: %v", ErrCorrupt, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: stat %s: %v", ErrCorrupt, path, err)
	}
	need := int64(n) * int64(recSize)
	if fi.Size() < need {
		f.Close()
		return nil, fmt.Errorf("%w: %s holds %d bytes, the tip needs %d (file lost data; rebuild the index)", ErrCorrupt, path, fi.Size(), need)
	}
	c := &column{f: f, name: path, recSize: recSize, n: n, ro: readOnly}
	if err := c.mapSize(fi.Size()); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func (c *column) mapSize(size int64) error {
	if c.data != nil {
		if err := syscall.Munmap(c.data); err != nil {
			return fmt.Errorf("%w: munmap %s: %v", ErrInternal, c.name, err)
		}
		c.data = nil
	}
	if size == 0 {
		return nil
	}
	prot := syscall.PROT_READ
	if !c.ro {
		prot |= syscall.PROT_WRITE
	}
	d, err := syscall.Mmap(int(c.f.Fd()), 0, int(size), prot, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("%w: mmap %s (%d bytes): %v", ErrCorrupt, c.name, size, err)
	}
	c.data = d
	c.advise(c.seq)
	return nil
}

// advise sets the kernel's read-ahead for the mapping: random by default —
// a lookup or a trace uses a few records of each page it faults in, and the
// device's read-ahead (8 MiB on the benchmark machine) would read megabytes
// for each under a memory cap, evicting as much — or sequential for a scan
// of the whole column.
func (c *column) advise(seq bool) {
	c.seq = seq
	if len(c.data) == 0 {
		return
	}
	a := syscall.MADV_RANDOM
	if seq {
		a = syscall.MADV_SEQUENTIAL
	}
	_ = syscall.Madvise(c.data, a) // a hint: failing changes only the speed
}

// reserve makes room for k more records after the first cur (the length
// an uncommitted batch has reached).
func (c *column) reserve(cur uint64, k int) error {
	need := (int64(cur) + int64(k)) * int64(c.recSize)
	if need <= int64(len(c.data)) {
		return nil
	}
	size := int64(len(c.data)) * 2
	if size < need+columnChunk {
		size = need + columnChunk
	}
	if size > int64(len(c.data))+1<<30 {
		size = need + 1<<30
	}
	if err := c.f.Truncate(size); err != nil {
		return fmt.Errorf("%w: grow %s: %v", ErrCorrupt, c.name, err)
	}
	return c.mapSize(size)
}

// rec returns record i (i may be beyond n only during ingest, after reserve).
func (c *column) rec(i uint64) []byte {
	o := i * uint64(c.recSize)
	return c.data[o : o+uint64(c.recSize) : o+uint64(c.recSize)]
}

// truncate drops records beyond n from the file.
func (c *column) truncate(n uint64) error {
	if err := c.mapSize(0); err != nil {
		return err
	}
	size := int64(n) * int64(c.recSize)
	if err := c.f.Truncate(size); err != nil {
		return fmt.Errorf("%w: truncate %s: %v", ErrCorrupt, c.name, err)
	}
	c.n = n
	return c.mapSize(size)
}

func (c *column) sync() error {
	if len(c.data) > 0 {
		if _, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafePointer(c.data)), uintptr(len(c.data)), syscall.MS_SYNC); e != 0 {
			return fmt.Errorf("%w: msync %s: %v", ErrCorrupt, c.name, e)
		}
	}
	if syncedHook != nil {
		syncedHook(c)
	}
	return nil
}

// syncedHook, set only by the power-loss simulation (powersim_test.go),
// sees each file's contents just after they were made durable.
var syncedHook func(c *column)

func (c *column) close() error {
	err := c.mapSize(0)
	if !c.ro {
		// Give back the growth reserve so the file size is the logical size.
		if e := c.f.Truncate(int64(c.n) * int64(c.recSize)); e != nil && err == nil {
			err = fmt.Errorf("%w: truncate %s: %v", ErrCorrupt, c.name, e)
		}
	}
	if e := c.f.Close(); e != nil && err == nil {
		err = e
	}
	return err
}
