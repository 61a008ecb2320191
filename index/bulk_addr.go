package index

import (
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cointrail/cointrail/internal/failpoint"
)

// addresses is phase 2: each address partition (every occurrence of the
// addresses whose hash falls in it, in output order) is loaded on its own
// and turned into the partition's distinct addresses in first-appearance
// order and, per occurrence, the partition-local address and the previous
// output paying the same address (prev_same).
func (b *bulkBuilder) addresses(ctx context.Context) error {
	st := &b.st
	if len(st.PartAddrs) != st.Parts {
		st.PartAddrs, st.PartsDone = make([]uint32, st.Parts), 0
	}
	// Partitions are independent: one per core at a time (each sized for a
	// quarter of the budget). The state records the finished prefix.
	workers := min(runtime.NumCPU(), 4)
	next := st.PartsDone
	finished := make([]bool, st.Parts)
	type res struct {
		p   int
		n   uint32
		err error
	}
	results := make(chan res)
	running := 0
	var firstErr error
	for running > 0 || (next < st.Parts && firstErr == nil) {
		for running < workers && next < st.Parts && firstErr == nil {
			if err := ctx.Err(); err != nil {
				firstErr = err
				break
			}
			go func(p int) {
				n, err := b.addressPart(p)
				results <- res{p, n, err}
			}(next)
			next++
			running++
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		st.PartAddrs[r.p], finished[r.p] = r.n, true
		advanced := false
		for st.PartsDone < st.Parts && finished[st.PartsDone] {
			st.PartsDone++
			advanced = true
		}
		if advanced && firstErr == nil {
			if err := b.save(); err != nil {
				firstErr = err
				continue
			}
			failpoint.Hit("bulk-part")
		}
		b.phase(phaseAddrs, int64(st.PartsDone), int64(st.Parts))
	}
	return firstErr
}

type partAddr struct {
	first, last uint64
	key         string
}

func (b *bulkBuilder) addressPart(p int) (uint32, error) {
	name := fmt.Sprintf("addr.%05d", p)
	data, err := readBucket(b.path(name))
	if err != nil {
		return 0, err
	}
	seq, err := createAppend(b.path(fmt.Sprintf("aseq.%05d", p)))
	if err != nil {
		return 0, err
	}
	list, err := createAppend(b.path(fmt.Sprintf("alist.%05d", p)))
	if err != nil {
		return 0, err
	}
	m := make(map[string]uint32, len(data)/40)
	var addrs []partAddr
	var rec [20]byte
	for off := 0; off < len(data); {
		if off+9 > len(data) || off+9+int(data[off+8]) > len(data) {
			return 0, fmt.Errorf("%w: %s truncated at offset %d", ErrBuild, name, off)
		}
		o := binary.LittleEndian.Uint64(data[off:])
		kl := int(data[off+8])
		kb := data[off+9 : off+9+kl]
		off += 9 + kl
		key := unsafe.String(unsafe.SliceData(kb), len(kb)) // data outlives the map
		prev := NoOut
		local, ok := m[key]
		if ok {
			prev = addrs[local].last
			addrs[local].last = o
		} else {
			local = uint32(len(addrs))
			m[key] = local
			addrs = append(addrs, partAddr{o, o, key})
		}
		binary.LittleEndian.PutUint64(rec[:], o)
		binary.LittleEndian.PutUint32(rec[8:], local)
		binary.LittleEndian.PutUint64(rec[12:], prev)
		if _, err := seq.Write(rec[:]); err != nil {
			return 0, err
		}
	}
	var hdr [17]byte
	for _, a := range addrs {
		binary.LittleEndian.PutUint64(hdr[:], a.first)
		binary.LittleEndian.PutUint64(hdr[8:], a.last)
		hdr[16] = byte(len(a.key))
		if _, err := list.Write(hdr[:]); err != nil {
			return 0, err
		}
		if _, err := list.Write([]byte(a.key)); err != nil {
			return 0, err
		}
	}
	if err := seq.close(); err != nil {
		return 0, err
	}
	if err := list.close(); err != nil {
		return 0, err
	}
	return uint32(len(addrs)), nil
}

// listReader reads a partition's address list.
type listReader struct {
	r     *recReader
	part  int
	first uint64
	last  uint64
	key   []byte
}

func (l *listReader) next() (bool, error) {
	h, err := l.r.next()
	if err != nil || h == nil {
		return false, err
	}
	l.first = binary.LittleEndian.Uint64(h)
	l.last = binary.LittleEndian.Uint64(h[8:])
	kl := int(h[16])
	l.key = l.key[:kl]
	if _, err := readFull(l.r, l.key); err != nil {
		return false, err
	}
	return true, nil
}

type listHeap []*listReader

func (h listHeap) Len() int           { return len(h) }
func (h listHeap) Less(i, j int) bool { return h[i].first < h[j].first }
func (h listHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *listHeap) Push(x any)        { *h = append(*h, x.(*listReader)) }
func (h *listHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// addressIDs is phase 3: the partitions' address lists merged by first
// appearance give the dense address ids, the key heap, the address column
// (key offset, head = last output) and, per partition, the local → global id
// map; the block records get their address counters; the address table's
// entries are spilled by slot range.
func (b *bulkBuilder) addressIDs(ctx context.Context) error {
	st := &b.st
	var total uint64
	for _, n := range st.PartAddrs {
		total += uint64(n)
	}
	if total >= 1<<32-1 {
		return fmt.Errorf("%w: %d addresses exceed the u32 address id", ErrInternal, total)
	}
	heapF, err := createAppend(b.path("addrkeys.heap"))
	if err != nil {
		return err
	}
	addrsF, err := createAppend(b.path("addrs.col"))
	if err != nil {
		return err
	}
	blocksIn, err := openRecReader(b.path("blocks.rec"), blockRecSize)
	if err != nil {
		return err
	}
	defer blocksIn.close()
	blockAddr, err := createAppend(b.path("blockaddr.rec"))
	if err != nil {
		return err
	}
	slots := tableSlots(total)
	tb := tableBuckets(total, b.opt.MemoryBytes)
	tspill, err := newSpill(b.dir, "atab", tb, 64<<10)
	if err != nil {
		return err
	}
	gFiles := make([]*appendFile, st.Parts)
	var h listHeap
	for p := 0; p < st.Parts; p++ {
		if gFiles[p], err = createAppend(b.path(fmt.Sprintf("gid.%05d", p))); err != nil {
			return err
		}
		r, err := openRecReader(b.path(fmt.Sprintf("alist.%05d", p)), 17)
		if err != nil {
			return err
		}
		defer r.close()
		l := &listReader{r: r, part: p, key: make([]byte, 0, 255)}
		ok, err := l.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, l)
		}
	}
	heap.Init(&h)
	var id uint32
	var heapLen uint64
	var rec [16]byte
	var g [4]byte
	var te [12]byte
	shift := log2(slots) - log2(uint64(tb))
	// assign gives the next address its id.
	assign := func() error {
		l := h[0]
		id++
		binary.LittleEndian.PutUint64(rec[:], heapLen)
		binary.LittleEndian.PutUint64(rec[8:], l.last)
		if _, err := addrsF.Write(rec[:]); err != nil {
			return err
		}
		if _, err := heapF.Write([]byte{byte(len(l.key))}); err != nil {
			return err
		}
		if _, err := heapF.Write(l.key); err != nil {
			return err
		}
		heapLen += 1 + uint64(len(l.key))
		binary.LittleEndian.PutUint32(g[:], id)
		if _, err := gFiles[l.part].Write(g[:]); err != nil {
			return err
		}
		ah := addrHash(l.key)
		binary.LittleEndian.PutUint64(te[:], ah)
		binary.LittleEndian.PutUint32(te[8:], id)
		if err := tspill.add(int((ah&(slots-1))>>shift), te[:]); err != nil {
			return err
		}
		ok, err := l.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
		return nil
	}
	var ba [12]byte
	for blk := uint32(0); ; blk++ {
		br, err := blocksIn.next()
		if err != nil {
			return err
		}
		if br == nil {
			break
		}
		if blk&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.phase(phaseAddrIDs, int64(blk), int64(st.Blocks))
		}
		end := binary.LittleEndian.Uint64(br[80:])
		for len(h) > 0 && h[0].first < end {
			if err := assign(); err != nil {
				return err
			}
		}
		binary.LittleEndian.PutUint32(ba[:], id)
		binary.LittleEndian.PutUint64(ba[4:], heapLen)
		if _, err := blockAddr.Write(ba[:]); err != nil {
			return err
		}
	}
	if len(h) > 0 || uint64(id) != total {
		return fmt.Errorf("%w: %d of %d addresses assigned", ErrInternal, id, total)
	}
	for _, f := range append(gFiles, heapF, addrsF, blockAddr) {
		if err := f.close(); err != nil {
			return err
		}
	}
	if err := tspill.finish(); err != nil {
		return err
	}
	st.NAddr, st.HeapLen = id, heapLen
	return nil
}

// tableBuckets is how many slot ranges a table of n entries is built in: a
// range's entries (12 B each, 24 B sorted) must fit a sixteenth of the budget.
func tableBuckets(n uint64, budget int64) int {
	tb := 1
	for int64(n)*36/int64(tb) > budget/16 && tb < 1<<16 {
		tb *= 2
	}
	if s := tableSlots(n); uint64(tb) > s {
		tb = int(s)
	}
	return tb
}

func readFull(r *recReader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.r.Read(p[n:])
		n += k
		if err != nil {
			return n, fmt.Errorf("%w: read %s: %v", ErrBuild, r.f.Name(), err)
		}
	}
	return n, nil
}
