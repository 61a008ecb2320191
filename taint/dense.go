package taint

import (
	"fmt"
	"math/bits"
	"os"
	"syscall"
	"unsafe"
)

// A whole-chain trace taints most outputs of the chain, so its state is kept
// in arrays indexed by the graph's dense ids (output id, tx number) rather
// than in maps and per-output records: a fixed number of bytes per output
// and per transaction, found by one array read. Arrays beyond smallArray
// bytes live in memory-mapped, already unlinked temp files: their pages are
// page cache that the kernel can write back and drop under memory pressure
// (a memory cgroup smaller than the trace, or mainnet's billions of
// outputs), and pages never touched (the outputs a small trace never
// reaches) cost nothing because the file is sparse.

// smallArray is the size below which an array is an ordinary Go slice.
var smallArray uint64 = 1 << 20 // a variable so tests can force the mapped files

// arena owns the mapped arrays of one trace.
type arena struct {
	dir  string
	maps [][]byte
}

// alloc returns n zeroed bytes.
func (a *arena) alloc(n uint64) ([]byte, error) {
	if n < smallArray {
		return make([]byte, n), nil
	}
	if n > 1<<46 {
		return nil, fmt.Errorf("%w: a trace array of %d bytes", ErrBadParams, n)
	}
	f, err := os.CreateTemp(a.dir, "cointrail-trace-*.state")
	if err != nil {
		return nil, fmt.Errorf("taint: trace state file: %w", err)
	}
	defer f.Close()
	defer os.Remove(f.Name())
	if err := f.Truncate(int64(n)); err != nil {
		return nil, fmt.Errorf("taint: trace state file: %w", err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("taint: map trace state file: %w", err)
	}
	a.maps = append(a.maps, b)
	return b, nil
}

// release unmaps every array; slices from alloc must not be used after it.
func (a *arena) release() {
	for _, b := range a.maps {
		_ = syscall.Munmap(b)
	}
	a.maps = nil
}

// outState is the per-output state of a trace, 16 bytes. Everything else a
// result line needs (value, address, spender, creating tx) is read from the
// graph again when the result is written.
type outState struct {
	taint int64
	hops  uint32
	stop  Stop
	flags uint8
	_     [2]byte
}

const (
	fPresent uint8 = 1 << iota // the output carried taint
	fViaCJ                     // made by visiting a CoinJoin
	fEdge                      // backward: received taint from its (visited) spender
)

func allocOutStates(a *arena, n uint64) ([]outState, error) {
	if n == 0 {
		return nil, nil
	}
	b, err := a.alloc(n * uint64(unsafe.Sizeof(outState{})))
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*outState)(unsafe.Pointer(&b[0])), n), nil
}

// segRef locates an output's FIFO/LIFO segments in tracer.segs.
type segRef struct{ off, n uint32 }

func allocSegRefs(a *arena, n uint64) ([]segRef, error) {
	if n == 0 {
		return nil, nil
	}
	b, err := a.alloc(n * uint64(unsafe.Sizeof(segRef{})))
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*segRef)(unsafe.Pointer(&b[0])), n), nil
}

// bitset is a set of ids with a summary word per 64 words, so that finding
// the next (or previous) member skips empty stretches 4096 ids at a time:
// a small trace on a large chain does not scan the whole set.
type bitset struct {
	w   []uint64
	sum []uint64 // bit i set if w[i] may be non-zero
}

func newBitset(a *arena, n uint64) (bitset, error) {
	nw := (n + 63) / 64
	ns := (nw + 63) / 64
	w, err := a.alloc(nw * 8)
	if err != nil {
		return bitset{}, err
	}
	s, err := a.alloc(ns * 8)
	if err != nil {
		return bitset{}, err
	}
	var b bitset
	if nw > 0 {
		b.w = unsafe.Slice((*uint64)(unsafe.Pointer(&w[0])), nw)
		b.sum = unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), ns)
	}
	return b, nil
}

func (b *bitset) set(i uint64) {
	b.w[i/64] |= 1 << (i % 64)
	b.sum[i/4096] |= 1 << (i / 64 % 64)
}

func (b *bitset) has(i uint64) bool { return b.w[i/64]&(1<<(i%64)) != 0 }

func (b *bitset) clear(i uint64) { b.w[i/64] &^= 1 << (i % 64) }

// next returns the smallest member ≥ i.
func (b *bitset) next(i uint64) (uint64, bool) {
	wi := i / 64
	if wi >= uint64(len(b.w)) {
		return 0, false
	}
	if x := b.w[wi] >> (i % 64); x != 0 {
		return i + uint64(bits.TrailingZeros64(x)), true
	}
	for wi++; wi < uint64(len(b.w)); {
		si := wi / 64
		s := b.sum[si] >> (wi % 64)
		if s == 0 {
			wi = (si + 1) * 64
			continue
		}
		wi += uint64(bits.TrailingZeros64(s))
		if x := b.w[wi]; x != 0 {
			return wi*64 + uint64(bits.TrailingZeros64(x)), true
		}
		b.sum[si] &^= 1 << (wi % 64) // emptied since: forget it
		wi++
	}
	return 0, false
}

// prev returns the largest member ≤ i.
func (b *bitset) prev(i uint64) (uint64, bool) {
	if len(b.w) == 0 {
		return 0, false
	}
	if i/64 >= uint64(len(b.w)) {
		i = uint64(len(b.w))*64 - 1
	}
	wi := int64(i / 64)
	if x := b.w[wi] << (63 - i%64); x != 0 {
		return i - uint64(bits.LeadingZeros64(x)), true
	}
	for wi--; wi >= 0; {
		si := wi / 64
		s := b.sum[si] << (63 - wi%64)
		if s == 0 {
			wi = si*64 - 1
			continue
		}
		wi -= int64(bits.LeadingZeros64(s))
		if x := b.w[wi]; x != 0 {
			return uint64(wi)*64 + 63 - uint64(bits.LeadingZeros64(x)), true
		}
		b.sum[si] &^= 1 << (wi % 64)
		wi--
	}
	return 0, false
}
