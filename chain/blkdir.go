package chain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

const (
	frameHeaderLen = 8
	blockHeaderLen = 80
	// maxFrameLen bounds a frame's declared length before anything is
	// allocated for it; real blocks are at most 4 MB.
	maxFrameLen = 32 << 20
	// maxOpenFiles bounds the blk files ReadBlock keeps open; mainnet has
	// thousands and the usual descriptor limit is 1024.
	maxOpenFiles = 64
	// scanWindow is what one ReadAt fetches while scanning: early blocks are
	// a few hundred bytes, so one read covers many frame headers.
	scanWindow = 16 << 10
)

// BlockLoc is where a block sits in a blocks/ directory, with the header
// fields needed to choose the best chain.
type BlockLoc struct {
	File   string // base name of the blk file
	Offset int64  // offset of the block bytes, after the 8-byte frame header
	Size   uint32 // length of the block bytes
	Hash   chainhash.Hash
	Prev   chainhash.Hash
	Bits   uint32
	Time   uint32
}

// String names the block's frame as "blk00003.dat:123456" (file and offset
// of the frame's magic) for error messages.
func (l BlockLoc) String() string {
	return fmt.Sprintf("%s:%d", l.File, l.Offset-frameHeaderLen)
}

// blockRec is the compact form of a BlockLoc kept for every scanned block.
type blockRec struct {
	hash   chainhash.Hash
	off    int64
	size   uint32
	file   uint32
	bits   uint32
	time   uint32
	parent int32 // index into BlkDir.recs; -1 when not in the directory
}

// BlkDir is a scanned Bitcoin Core blocks/ directory. ReadBlock is safe for
// concurrent use.
type BlkDir struct {
	dir     string
	net     Network
	log     *slog.Logger
	key     [8]byte
	xor     bool
	files   []string // base names, sorted
	fileIdx map[string]int
	recs    []blockRec // in file order, first copy of each hash only
	genesis int32      // index of net's genesis block, -1 if absent
	foreign string     // name of another network whose genesis block is here
	orphans int
	powErr  map[int32]error          // blocks whose header fails proof of work (forged or partial)
	missing map[int32]chainhash.Hash // orphans (valid proof of work): the parent not in the directory

	mu     sync.Mutex
	open   map[int]*openFile
	clock  uint64
	closed bool
}

type openFile struct {
	f       *os.File
	refs    int
	used    uint64
	evicted bool
}

// OpenBlkDir scans every blk*.dat file of dir, reading only frame headers
// and block headers. Zero bytes where a magic should be mark preallocated
// padding and end that file. A partial frame at the end of the last file
// (the one a running node writes to) ends the scan quietly; anywhere else it
// is corruption. Blocks stored twice are kept once.
func OpenBlkDir(dir string, net Network, log *slog.Logger) (*BlkDir, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: blocks dir: %w", ErrBadInput, err)
	}
	d := &BlkDir{dir: dir, net: net, log: log, fileIdx: map[string]int{}, genesis: -1, open: map[int]*openFile{}, powErr: map[int32]error{}, missing: map[int32]chainhash.Hash{}}
	for _, e := range entries {
		if ok, _ := filepath.Match("blk*.dat", e.Name()); ok && !e.IsDir() {
			d.files = append(d.files, e.Name())
		}
	}
	if len(d.files) == 0 {
		return nil, fmt.Errorf("%w: no blk*.dat files in %s", ErrBadInput, dir)
	}
	sort.Strings(d.files)
	for i, name := range d.files {
		d.fileIdx[name] = i
	}
	if err := d.readXORKey(); err != nil {
		return nil, err
	}

	seen := map[chainhash.Hash]int32{}
	var prevs []chainhash.Hash
	dups := 0
	for i := range d.files {
		err := d.scanFile(i, i == len(d.files)-1, func(r blockRec, prev chainhash.Hash) {
			if _, ok := seen[r.hash]; ok {
				dups++
				return
			}
			seen[r.hash] = int32(len(d.recs))
			if err := CheckProofOfWork(r.hash, r.bits); err != nil {
				d.powErr[int32(len(d.recs))] = err
			}
			d.recs = append(d.recs, r)
			prevs = append(prevs, prev)
		})
		if err != nil {
			return nil, err
		}
	}

	if g, ok := seen[*net.Params.GenesisHash]; ok {
		d.genesis = g
	}
	for _, other := range networks {
		if _, ok := seen[*other.Params.GenesisHash]; ok && other.Name != net.Name {
			d.foreign = other.Name
		}
	}
	for i := range d.recs {
		p, ok := seen[prevs[i]]
		if !ok {
			p = -1
			if int32(i) != d.genesis && d.powErr[int32(i)] == nil {
				d.orphans++
				d.missing[int32(i)] = prevs[i]
			}
		}
		d.recs[i].parent = p
	}
	log.Debug("blkdir: scanned", "dir", dir, "files", len(d.files), "blocks", len(d.recs), "duplicates", dups)
	return d, nil
}

func (d *BlkDir) readXORKey() error {
	b, err := os.ReadFile(filepath.Join(d.dir, "xor.dat"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: blocks dir: %w", ErrBadInput, err)
	}
	if len(b) != 8 {
		return fmt.Errorf("%w: xor.dat has %d bytes, want 8", ErrCorrupt, len(b))
	}
	copy(d.key[:], b)
	d.xor = d.key != [8]byte{}
	return nil
}

// scanFile reads the frames of file fi and hands each block to add.
func (d *BlkDir) scanFile(fi int, last bool, add func(blockRec, chainhash.Hash)) error {
	name := d.files[fi]
	f, err := os.Open(filepath.Join(d.dir, name))
	if err != nil {
		return fmt.Errorf("%w: blocks dir: %w", ErrBadInput, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: blocks dir: %w", ErrBadInput, err)
	}
	size := st.Size()
	win := scanReader{f: f, size: size, buf: make([]byte, 0, scanWindow)}
	magic := d.net.MagicBytes()
	var b [frameHeaderLen + blockHeaderLen]byte

	truncated := func(off int64, what string) error {
		if last {
			d.log.Warn("blkdir: last blk file ends in a partial frame, probably still being written; stopping there",
				"at", fmt.Sprintf("%s:%d", name, off), "detail", what)
			return nil
		}
		return fmt.Errorf("%w: %s:%d: truncated frame: %s", ErrCorrupt, name, off, what)
	}

	for off := int64(0); off < size; {
		n := int(min(size-off, int64(len(b))))
		raw, err := win.at(off, n)
		if err != nil {
			return fmt.Errorf("%w: %s:%d: %w", ErrCorrupt, name, off, err)
		}
		copy(b[:], raw)
		if d.xor {
			xorAt(b[:n], off, &d.key)
		}
		if m := min(n, 4); isZero(raw[:m]) || isZero(b[:m]) {
			// Preallocated space: plain zeros on disk (or zeros after de-XOR).
			return nil
		}
		if n < 4 {
			return truncated(off, fmt.Sprintf("%d bytes left, want a frame header", n))
		}
		if [4]byte(b[:4]) != magic {
			if other, ok := NetworkByMagic([4]byte(b[:4])); ok {
				return fmt.Errorf("%w: %s:%d: %s block (magic %x), want %s (magic %x)",
					ErrWrongNetwork, name, off, other.Name, b[:4], d.net.Name, magic)
			}
			return fmt.Errorf("%w: %s:%d: no network magic (found %x, want %s magic %x)",
				ErrCorrupt, name, off, b[:4], d.net.Name, magic)
		}
		if n < frameHeaderLen {
			return truncated(off, fmt.Sprintf("%d bytes left, want a frame header", n))
		}
		length := binary.LittleEndian.Uint32(b[4:8])
		if length < blockHeaderLen || length > maxFrameLen {
			return fmt.Errorf("%w: %s:%d: frame length %d out of range [%d, %d]",
				ErrCorrupt, name, off, length, blockHeaderLen, maxFrameLen)
		}
		if left := size - off - frameHeaderLen; int64(length) > left {
			return truncated(off, fmt.Sprintf("block of %d bytes, %d bytes left in file", length, left))
		}
		hdr := b[frameHeaderLen:]
		add(blockRec{
			hash: chainhash.DoubleHashH(hdr),
			off:  off + frameHeaderLen,
			size: length,
			file: uint32(fi),
			time: binary.LittleEndian.Uint32(hdr[68:72]),
			bits: binary.LittleEndian.Uint32(hdr[72:76]),
		}, chainhash.Hash(hdr[4:36]))
		off += frameHeaderLen + int64(length)
	}
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// scanReader serves small reads from a window of the file so that runs of
// small blocks cost one system call.
type scanReader struct {
	f     *os.File
	size  int64
	buf   []byte
	start int64
}

// at returns n raw bytes at off; off+n must not exceed size.
func (r *scanReader) at(off int64, n int) ([]byte, error) {
	if off >= r.start && off+int64(n) <= r.start+int64(len(r.buf)) {
		return r.buf[off-r.start:][:n], nil
	}
	r.buf = r.buf[:min(int64(cap(r.buf)), r.size-off)]
	got, err := r.f.ReadAt(r.buf, off)
	if got < len(r.buf) {
		r.buf, r.start = r.buf[:0], 0
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank while we read it
		}
		return nil, err
	}
	r.start = off
	return r.buf[:n], nil
}

func (d *BlkDir) loc(i int32) BlockLoc {
	r := &d.recs[i]
	l := BlockLoc{File: d.files[r.file], Offset: r.off, Size: r.size, Hash: r.hash, Bits: r.bits, Time: r.time}
	if r.parent >= 0 {
		l.Prev = d.recs[r.parent].hash
	}
	return l
}

// OrphanCount is the number of blocks whose parent is not in the directory
// (the genesis block aside). They and their descendants are never part of
// the best chain.
func (d *BlkDir) OrphanCount() int { return d.orphans }

// BestChain returns the chain from the network's genesis block to the tip
// with the most cumulative work (ties go to the tip seen first in file
// order), genesis first. Stale branches and orphans are left out.
//
// Only valid headers count: a block whose hash misses the target of its
// bits, whose bits are not what the network's difficulty rules require of
// its place in the chain, or that contradicts a checkpoint is left out with
// its descendants (one WARN line each), so a forged header claiming any
// amount of work never becomes the tip.
//
// When blocks of the directory do not connect to the returned chain (a
// gap: a missing block or file, or a damaged header whose descendants then
// point at a parent that is not there), the error wraps ErrPartial, says
// where the chain stops and what is missing, and the chain up to there is
// returned with it, for callers that accept a partial chain.
func (d *BlkDir) BestChain() ([]BlockLoc, error) {
	if d.genesis < 0 {
		if d.foreign != "" {
			return nil, fmt.Errorf("%w: %s holds the %s genesis block, not the %s one",
				ErrWrongNetwork, d.dir, d.foreign, d.net.Name)
		}
		return nil, fmt.Errorf("%w: %s has no %s genesis block (%s)",
			ErrCorrupt, d.dir, d.net.Name, d.net.Params.GenesisHash)
	}
	const (
		unseen = iota
		onStack
		orphan  // no path to genesis
		invalid // breaks a rule, or descends from a block that does
		reachable
	)
	n := len(d.recs)
	state := make([]uint8, n)
	work := make([]uint256, n)   // cumulative, for reachable blocks
	hs := make([]HeaderState, n) // reachable: difficulty state; orphan: depth below its root in Height
	why := map[int32]error{}     // invalid blocks whose parent is valid: the rule they break
	perBits := map[uint32]uint256{}
	var stack []int32
	for i := range d.recs {
		// Walk up to a block already settled, then settle the walked path
		// top-down, so that every block is visited a bounded number of times.
		j := int32(i)
		for j >= 0 && state[j] == unseen {
			state[j] = onStack
			stack = append(stack, j)
			j = d.recs[j].parent
		}
		up := uint8(orphan) // parent missing, or a cycle (cannot happen with real hashes)
		if j >= 0 && state[j] != onStack {
			up = state[j]
		}
		for k := len(stack) - 1; k >= 0; k-- {
			b := stack[k]
			r := &d.recs[b]
			switch {
			case b == d.genesis:
				hs[b] = GenesisState(d.net)
				work[b], state[b] = blockWork(r.bits), reachable
			case up == reachable:
				p := r.parent
				err := d.powErr[b]
				if err == nil {
					err = CheckContext(d.net, hs[p], r.hash, r.bits, r.time)
				}
				if err != nil {
					state[b], why[b] = invalid, err
					break
				}
				w, cached := perBits[r.bits]
				if !cached {
					w = blockWork(r.bits)
					perBits[r.bits] = w
				}
				hs[b] = hs[p].Advance(d.net.Params, r.hash, r.bits, r.time)
				work[b], state[b] = work[p].add(w), reachable
			case up == invalid || d.powErr[b] != nil:
				state[b] = invalid
			default:
				state[b] = orphan
				if r.parent >= 0 {
					hs[b].Height = hs[r.parent].Height + 1
				} else {
					hs[b].Height = 1
				}
			}
			up = state[b]
		}
		stack = stack[:0]
	}
	best := d.genesis
	for i := range d.recs {
		if state[i] == reachable && work[i].cmp(work[best]) > 0 {
			best = int32(i)
		}
	}
	height := int(hs[best].Height)
	out := make([]BlockLoc, height+1)
	for b := best; ; b = d.recs[b].parent {
		out[height] = d.loc(b)
		if b == d.genesis {
			break
		}
		height--
	}
	return out, d.judge(state[:], orphan, invalid, why, hs, out)
}

// judge logs the blocks left out for breaking a rule and reports a gap:
// blocks that do not connect to the chain (orphans, or descendants of a
// block that breaks a rule).
func (d *BlkDir) judge(state []uint8, orphan, invalid uint8, why map[int32]error, hs []HeaderState, best []BlockLoc) error {
	// bad: blocks breaking a rule with a valid parent, and every block
	// failing proof of work (a partial block's header runs into zeros).
	bad := make([]int32, 0, len(why)+len(d.powErr))
	for b, err := range d.powErr {
		if why[b] == nil {
			why[b] = err
		}
	}
	for b := range why {
		bad = append(bad, b)
	}
	slices.Sort(bad) // file order, for deterministic logs
	tip := best[len(best)-1]
	unconnected, depth, first := 0, int64(0), int32(-1) // first: the first orphan root in file order
	var culprit int32 = -1                              // a rule breaker that explains the gap: a child of the tip, or one with descendants
	for i := range state {
		switch {
		case state[i] == orphan:
			unconnected++
			depth = max(depth, hs[i].Height)
			if first < 0 && d.recs[i].parent < 0 {
				first = int32(i)
			}
		case state[i] == invalid && why[int32(i)] == nil:
			unconnected++ // a valid header below a block that breaks a rule
			if p := d.recs[i].parent; culprit < 0 && p >= 0 && why[p] != nil {
				culprit = p
			}
		}
	}
	if unconnected > 0 {
		for _, b := range bad {
			if d.recs[b].parent >= 0 && d.recs[d.recs[b].parent].hash == tip.Hash {
				culprit = b
				break
			}
		}
	}
	const maxLogged = 20
	logged := 0
	for _, b := range bad {
		if b == culprit && unconnected > 0 {
			continue // the error names it
		}
		if logged++; logged > maxLogged {
			d.log.Warn("blkdir: more blocks left out for breaking a rule", "count", len(bad)-maxLogged)
			break
		}
		l := d.loc(b)
		d.log.Warn("blkdir: block left out with its descendants: it breaks a consensus rule (forged, damaged, or a partial block followed by zero padding)",
			"at", l.String(), "hash", l.Hash.String(), "rule", why[b].Error())
	}
	if unconnected == 0 {
		return nil
	}
	h := int64(len(best) - 1)
	var msg string
	if culprit >= 0 {
		l := d.loc(culprit)
		msg = fmt.Sprintf("%s: block %s: %v; ", l, l.Hash, why[culprit])
	}
	msg += fmt.Sprintf("the chain of %s stops at height %d (%s) but %d blocks of the directory do not connect to it", d.dir, h, tip.Hash, unconnected)
	if first >= 0 {
		l := d.loc(first)
		msg += fmt.Sprintf(": heights from %d are missing (the best header is at height %d or above; first unconnected block %s, whose parent %s is not in the directory)",
			h+1, h+1+depth, l, d.missing[first])
	}
	return fmt.Errorf("%w: %s; pass --allow-partial to index up to height %d", ErrPartial, msg, h)
}

// uint256 is an unsigned 256-bit integer, least significant limb first,
// enough for chain work (which saturates instead of wrapping).
type uint256 [4]uint64

func (a uint256) add(b uint256) uint256 {
	var r uint256
	var carry uint64
	for i := range a {
		s := a[i] + b[i]
		c1 := s < a[i]
		s2 := s + carry
		c2 := s2 < s
		r[i] = s2
		carry = 0
		if c1 || c2 {
			carry = 1
		}
	}
	if carry != 0 {
		return uint256{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	}
	return r
}

func (a uint256) cmp(b uint256) int {
	for i := 3; i >= 0; i-- {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}

// blockWork is Bitcoin Core's GetBlockProof: 2^256 / (target+1), zero for a
// negative, overflowing or zero compact target.
func blockWork(bits uint32) uint256 {
	size := bits >> 24
	word := bits & 0x007fffff
	if word == 0 || bits&0x00800000 != 0 ||
		size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32) {
		return uint256{}
	}
	t := new(big.Int)
	if size <= 3 {
		t.SetUint64(uint64(word >> (8 * (3 - size))))
	} else {
		t.SetUint64(uint64(word))
		t.Lsh(t, 8*uint(size-3))
	}
	if t.Sign() == 0 {
		return uint256{}
	}
	t.Add(t, big.NewInt(1))
	q := new(big.Int).Lsh(big.NewInt(1), 256)
	q.Quo(q, t)
	var be [32]byte
	q.FillBytes(be[:]) // q <= 2^255: target >= 1
	var r uint256
	for i := range r {
		r[i] = binary.BigEndian.Uint64(be[24-8*i:])
	}
	return r
}

// ReadBlock returns the raw block bytes at loc, de-obfuscated, after checking
// that they still hash to loc.Hash.
func (d *BlkDir) ReadBlock(loc BlockLoc) ([]byte, error) { return d.read(loc, loc.Size) }

// ReadHeader returns the 80-byte header at loc, checked like ReadBlock's.
func (d *BlkDir) ReadHeader(loc BlockLoc) ([]byte, error) { return d.read(loc, blockHeaderLen) }

// read returns the first n bytes of the block at loc.
func (d *BlkDir) read(loc BlockLoc, n uint32) ([]byte, error) {
	fi, ok := d.fileIdx[loc.File]
	if !ok {
		return nil, fmt.Errorf("%w: %s: no such blk file in %s", ErrBadInput, loc, d.dir)
	}
	if loc.Size < blockHeaderLen || loc.Size > maxFrameLen || loc.Offset < frameHeaderLen {
		return nil, fmt.Errorf("%w: %s: block size %d out of range", ErrBadInput, loc, loc.Size)
	}
	of, err := d.acquire(fi)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(n, loc.Size))
	got, err := of.f.ReadAt(buf, loc.Offset)
	d.release(of)
	if got < len(buf) {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: %s: short read: %d of %d bytes (file truncated since it was scanned?)",
				ErrCorrupt, loc, got, len(buf))
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, loc, err)
	}
	if d.xor {
		xorAt(buf, loc.Offset, &d.key)
	}
	if h := chainhash.DoubleHashH(buf[:blockHeaderLen]); h != loc.Hash {
		return nil, fmt.Errorf("%w: %s: block hash %s, want %s (file changed since it was scanned?)",
			ErrCorrupt, loc, h, loc.Hash)
	}
	return buf, nil
}

func (d *BlkDir) acquire(fi int) (*openFile, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: blocks dir %s is closed", ErrBadInput, d.dir)
	}
	of := d.open[fi]
	if of == nil {
		f, err := os.Open(filepath.Join(d.dir, d.files[fi]))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		of = &openFile{f: f}
		d.open[fi] = of
	}
	d.clock++
	of.refs++
	of.used = d.clock
	if len(d.open) > maxOpenFiles {
		d.evictLRU()
	}
	return of, nil
}

// evictLRU drops the least recently used file; a reader still using it
// closes it on release.
func (d *BlkDir) evictLRU() {
	lru := -1
	for fi, of := range d.open {
		if lru < 0 || of.used < d.open[lru].used {
			lru = fi
		}
	}
	of := d.open[lru]
	delete(d.open, lru)
	of.evicted = true
	if of.refs == 0 {
		of.f.Close()
	}
}

func (d *BlkDir) release(of *openFile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	of.refs--
	if of.refs == 0 && of.evicted {
		of.f.Close()
	}
}

// Close closes the files ReadBlock opened; reads still running finish first.
func (d *BlkDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	var first error
	for fi, of := range d.open {
		delete(d.open, fi)
		of.evicted = true
		if of.refs == 0 {
			if err := of.f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
