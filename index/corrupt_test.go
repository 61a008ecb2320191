package index_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/sim"
	"github.com/cointrail/cointrail/taint"
)

// corruptFixture is a clean, closed index of a simulated chain whose column
// files the corruption tests overwrite in place (and restore), with what
// the queries need from the clean index: its counts, ids and seeds.
type corruptFixture struct {
	data    string
	net     chain.Network
	graph   string // DATA/<net>/graph
	scratch string // export files
	digest  string

	nTx, nOut, nIn, nAddr, heapLen uint64
	tipHeight                      uint32

	txids     []string // a sample of txids (display order)
	outpoints []string // TXID:VOUT of the same txs
	addrs     []string // a sample of encoded addresses
	fwd, back []taint.Seed
}

// The columns and their fields (SCHEMA.md). limit gives the first value out
// of range for a pointer field (0: not a pointer); rec is the record the
// field is in, for prev_same, which must lie before its own output.
type corruptField struct {
	name      string
	off, size int
	limit     func(f *corruptFixture, rec uint64) uint64
	none      uint64 // a valid "no pointer" value (NoTx, NoOut), or 0
}

type corruptColumn struct {
	file    string
	recSize int
	count   func(f *corruptFixture) uint64
	fields  []corruptField
}

var corruptColumns = []corruptColumn{
	{"txs.col", 24, func(f *corruptFixture) uint64 { return f.nTx }, []corruptField{
		{"first_out", 0, 8, func(f *corruptFixture, _ uint64) uint64 { return f.nOut + 1 }, 0},
		{"first_in", 8, 8, func(f *corruptFixture, _ uint64) uint64 { return f.nIn + 1 }, 0},
		{"height", 16, 4, func(f *corruptFixture, _ uint64) uint64 { return uint64(f.tipHeight) + 1 }, 0},
		{"vsize", 20, 4, nil, 0},
	}},
	{"txids.col", 32, func(f *corruptFixture) uint64 { return f.nTx }, []corruptField{
		{"txid[0:8]", 0, 8, nil, 0},
		{"txid[24:32]", 24, 8, nil, 0},
	}},
	{"txmeta.col", 16, func(f *corruptFixture) uint64 { return f.nTx }, []corruptField{
		{"fee", 0, 8, nil, 0},
		{"locktime", 8, 4, nil, 0},
		{"version", 12, 4, nil, 0},
	}},
	{"outs.col", 24, func(f *corruptFixture) uint64 { return f.nOut }, []corruptField{
		{"value|type", 0, 8, nil, 0},
		{"address", 8, 4, func(f *corruptFixture, _ uint64) uint64 { return f.nAddr + 1 }, 0},
		{"spender", 12, 4, func(f *corruptFixture, _ uint64) uint64 { return f.nTx }, uint64(index.NoTx)},
		{"prev_same", 16, 8, func(_ *corruptFixture, rec uint64) uint64 { return rec }, index.NoOut},
	}},
	{"ins.col", 8, func(f *corruptFixture) uint64 { return f.nIn }, []corruptField{
		{"prev_out", 0, 8, func(f *corruptFixture, _ uint64) uint64 { return f.nOut }, 0},
	}},
	{"addrs.col", 16, func(f *corruptFixture) uint64 { return f.nAddr }, []corruptField{
		{"key_offset", 0, 8, func(f *corruptFixture, _ uint64) uint64 { return f.heapLen }, 0},
		{"head", 8, 8, func(f *corruptFixture, _ uint64) uint64 { return f.nOut }, index.NoOut},
	}},
	{"addrkeys.heap", 1, func(f *corruptFixture) uint64 { return f.heapLen }, []corruptField{
		{"byte", 0, 1, nil, 0},
	}},
}

// corruption is one overwritten field.
type corruption struct {
	col, field int
	rec        uint64
	value      uint64
}

func (c corruption) String() string {
	cc := corruptColumns[c.col]
	return fmt.Sprintf("%s record %d %s = %d (%#x)", cc.file, c.rec, cc.fields[c.field].name, c.value, c.value)
}

// outOfRange says whether the value points outside its target.
func (c corruption) outOfRange(f *corruptFixture) bool {
	fd := corruptColumns[c.col].fields[c.field]
	if fd.limit == nil || (fd.none != 0 && c.value == fd.none) {
		return false
	}
	return c.value >= fd.limit(f, c.rec)
}

func (c corruption) last(f *corruptFixture) bool {
	return c.rec == corruptColumns[c.col].count(f)-1
}

// newCorruptFixture builds the fixture under dir: a simulated chain with
// plenty of spends (so traces go deep both ways), ingested block by block.
func newCorruptFixture(tb testing.TB, dir string) *corruptFixture {
	tb.Helper()
	ctx := context.Background()
	chainDir := filepath.Join(dir, "chain")
	if _, err := sim.WriteDir(ctx, sim.Config{Seed: 23, Txs: 1500, Fast: true, TxsPerBlock: 30}, chainDir, nil); err != nil {
		tb.Fatal(err)
	}
	f := &corruptFixture{data: filepath.Join(dir, "data"), scratch: filepath.Join(dir, "export"), net: regtest(tb)}
	f.graph = filepath.Join(index.Dir(f.data, f.net), "graph")
	ix, err := index.Open(f.data, f.net, index.Options{}, quietLog())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ix.IngestBlkDir(ctx, filepath.Join(chainDir, "blocks"), index.IngestOptions{}); err != nil {
		tb.Fatal(err)
	}
	if _, err := ix.Verify(ctx); err != nil {
		tb.Fatal(err)
	}
	if f.digest, err = ix.Digest(); err != nil {
		tb.Fatal(err)
	}
	tip := ix.Tip()
	nTx, nOut, nIn, nAddr := tip.Counts()
	f.nTx, f.nOut, f.nIn, f.nAddr, f.tipHeight = uint64(nTx), nOut, nIn, uint64(nAddr), tip.Height
	if f.nIn < 1000 || f.nAddr < 100 {
		tb.Fatalf("the fixture chain is too small: %d inputs, %d addresses", f.nIn, f.nAddr)
	}
	for tx := uint32(0); tx < nTx; tx += nTx/40 + 1 {
		id := index.TxIDString(ix.TxHash(tx))
		f.txids = append(f.txids, id)
		f.outpoints = append(f.outpoints, id+":0")
	}
	for a := uint32(1); a <= nAddr; a += nAddr/40 + 1 {
		f.addrs = append(f.addrs, ix.AddrString(a))
	}
	// Forward from the first spent outputs after genesis, backward from the
	// last outputs of spending txs.
	for o := uint64(1); o < nOut && len(f.fwd) < 3; o++ {
		if ix.OutSpender(o) != index.NoTx && ix.OutValue(o) > 0 {
			f.fwd = append(f.fwd, taint.Seed{Out: o})
		}
	}
	for tx := nTx - 1; tx > 0 && len(f.back) < 3; tx-- {
		if _, n := ix.TxInputs(tx); n > 0 {
			first, k := ix.TxOutputs(tx)
			if o := first + uint64(k) - 1; ix.OutValue(o) > 0 {
				f.back = append(f.back, taint.Seed{Out: o})
			}
		}
	}
	if len(f.fwd) == 0 || len(f.back) == 0 {
		tb.Fatal("no trace seeds")
	}
	// Closing gives back the growth reserve: the files hold the committed
	// records only, and the heap's size is its committed length.
	if err := ix.Close(); err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(f.graph, "addrkeys.heap"))
	if err != nil {
		tb.Fatal(err)
	}
	f.heapLen = uint64(fi.Size())
	return f
}

// random draws a corruption: a random field of a random record (a third of
// the time the last, whose pointers Open checks), set to a value out of
// range, at the edge of the range, all ones, zero or a random one.
func (f *corruptFixture) random(rng *rand.Rand) corruption {
	c := corruption{col: rng.IntN(len(corruptColumns))}
	cc := corruptColumns[c.col]
	c.field = rng.IntN(len(cc.fields))
	n := cc.count(f)
	switch rng.IntN(3) {
	case 0:
		c.rec = n - 1
	default:
		c.rec = rng.Uint64N(n)
	}
	fd := cc.fields[c.field]
	bits := uint(fd.size * 8)
	mask := uint64(1)<<bits - 1
	if bits == 64 {
		mask = ^uint64(0)
	}
	lim := uint64(0)
	if fd.limit != nil {
		lim = fd.limit(f, c.rec)
	}
	switch k := rng.IntN(6); {
	case k == 0 && lim > 0:
		c.value = lim
	case k == 1 && lim > 0:
		c.value = lim + rng.Uint64N(1000)
	case k == 2 && lim > 0:
		c.value = rng.Uint64N(lim) // in range, and wrong
	case k == 3:
		c.value = mask
	case k == 4:
		c.value = 0
	default:
		c.value = rng.Uint64()
	}
	c.value &= mask
	return c
}

// apply writes c into the column file and returns a function putting the
// original bytes back, or nil if c changes nothing.
func (f *corruptFixture) apply(tb testing.TB, c corruption) func() {
	tb.Helper()
	cc := corruptColumns[c.col]
	fd := cc.fields[c.field]
	fh, err := os.OpenFile(filepath.Join(f.graph, cc.file), os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	off := int64(c.rec)*int64(cc.recSize) + int64(fd.off)
	old := make([]byte, fd.size)
	if _, err := fh.ReadAt(old, off); err != nil {
		tb.Fatal(err)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], c.value)
	if string(b[:fd.size]) == string(old) {
		return nil
	}
	if _, err := fh.WriteAt(b[:fd.size], off); err != nil {
		tb.Fatal(err)
	}
	return func() {
		fh, err := os.OpenFile(filepath.Join(f.graph, cc.file), os.O_RDWR, 0)
		if err != nil {
			tb.Fatal(err)
		}
		defer fh.Close()
		if _, err := fh.WriteAt(old, off); err != nil {
			tb.Fatal(err)
		}
	}
}

// outcome is what the queries said about one corruption.
type outcome struct {
	refused  bool  // a plain Open refused the index
	verify   error // what Verify said (nil: it passed)
	detected bool  // some query or Open returned ErrCorrupt
}

// check opens the corrupted index (for repair if a plain Open refuses it)
// and runs every query on it: none may panic, and each either succeeds or
// fails with index.ErrCorrupt. Lookups by key may also find nothing: the
// key itself (a txid, an address key) may be what was overwritten.
func (f *corruptFixture) check(tb testing.TB, c corruption) outcome {
	tb.Helper()
	var out outcome
	ctx := context.Background()
	judge := func(what string, err error, lookup bool) {
		tb.Helper()
		switch {
		case err == nil:
		case errors.Is(err, index.ErrCorrupt):
			out.detected = true
			if strings.ContainsRune(err.Error(), '\n') {
				tb.Errorf("%s: %s: error of several lines: %q", c, what, err)
			}
		case lookup && errors.Is(err, index.ErrNotFound):
		default:
			tb.Errorf("%s: %s: %v (want success or index.ErrCorrupt)", c, what, err)
		}
	}
	try := func(what string, lookup bool, fn func() error) {
		tb.Helper()
		defer func() {
			if r := recover(); r != nil {
				tb.Errorf("%s: %s panicked: %v\n%s", c, what, r, debug.Stack())
			}
		}()
		judge(what, fn(), lookup)
	}
	ix, err := index.Open(f.data, f.net, index.Options{}, quietLog())
	if err != nil {
		judge("open", err, false)
		out.refused = true
		if ix, err = index.Open(f.data, f.net, index.Options{AllowCorrupt: true}, quietLog()); err != nil {
			judge("open for repair", err, false)
			return out
		}
	}
	defer ix.Close()
	try("status", false, func() error { ix.Status(); return nil })
	try("tx", false, func() error {
		for tx := uint32(0); uint64(tx) < f.nTx; tx++ {
			if _, err := ix.Tx(tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, s := range f.txids {
		try("find tx "+s, true, func() error {
			h, err := index.ParseTxID(s)
			if err != nil {
				return err
			}
			tx, err := ix.FindTx(h)
			if err != nil {
				return err
			}
			_, err = ix.Tx(tx)
			return err
		})
	}
	try("address", false, func() error {
		for a := uint32(1); uint64(a) <= f.nAddr; a++ {
			if _, err := ix.Address(a, 0, 20); err != nil {
				return err
			}
		}
		return nil
	})
	for _, s := range f.addrs {
		try("address "+s, true, func() error {
			id, _, err := ix.ParseAddr(s)
			if err != nil {
				return err
			}
			_, err = ix.Address(id, 0, index.MaxPage)
			return err
		})
	}
	try("block", false, func() error {
		for h := uint32(0); h <= f.tipHeight; h++ {
			if _, err := ix.Block(h); err != nil {
				return err
			}
		}
		return nil
	})
	for _, s := range append(append(append([]string{}, f.outpoints...), f.txids...), f.addrs...) {
		try("seed "+s, true, func() error { _, err := ix.ResolveSeed(s, index.SeedWindow{}); return err })
	}
	for _, tc := range []struct {
		dir    taint.Direction
		model  taint.Model
		seeds  []taint.Seed
		fees   bool
		stream bool
	}{
		{taint.Forward, taint.Haircut, f.fwd, false, true},
		{taint.Forward, taint.FIFO, f.fwd, true, true},
		{taint.Forward, taint.Poison, f.fwd, false, false},
		{taint.Backward, taint.Haircut, f.back, false, true},
		{taint.Backward, taint.LIFO, f.back, false, false},
	} {
		try(fmt.Sprintf("trace %s %s", tc.dir, tc.model), false, func() error {
			p := taint.DefaultParams()
			p.Model, p.Direction, p.MinSats, p.MaxTxs, p.StopAtService, p.FeesToCoinbase = tc.model, tc.dir, 0, 0, false, tc.fees
			g := &index.Graph{Index: ix}
			if !tc.stream {
				_, err := taint.Trace(ctx, g, nil, tc.seeds, p, nil)
				return err
			}
			s, err := taint.Stream(ctx, g, nil, tc.seeds, p, taint.StreamOptions{}, nil)
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = s.WriteJSON(io.Discard)
			return err
		})
	}
	try("reach", false, func() error {
		_, err := taint.Reach(ctx, &index.Graph{Index: ix}, f.fwd, 0)
		return err
	})
	try("export", false, func() error { return ix.ExportCSV(ctx, f.scratch) })
	try("digest", false, func() error { _, err := ix.Digest(); return err })
	try("verify", false, func() error { _, out.verify = ix.Verify(ctx); return out.verify })
	return out
}

// judgeOutcome holds what must follow from a corruption beyond "no panic,
// no other error": a pointer out of range is always found by verify, and in
// the last record of its column already by Open.
func (f *corruptFixture) judgeOutcome(tb testing.TB, c corruption, out outcome) {
	tb.Helper()
	if !c.outOfRange(f) {
		return
	}
	if out.verify == nil && !out.refused {
		tb.Errorf("%s: a pointer out of range, and verify passed", c)
	}
	if c.last(f) && !out.refused {
		tb.Errorf("%s: a pointer out of range in the last record, and Open served the index", c)
	}
}

// TestCorruptColumns overwrites one field of a record in the column files
// of a real index, for hundreds of seeded random corruptions, and runs every
// query on the reopened index: tx lookup, address history, blocks, seeds,
// traces forward and backward (streamed and whole), reachability, export,
// digest and verify. None may panic; each succeeds or returns an error
// wrapping index.ErrCorrupt; every pointer out of range is found by verify,
// and in a column's last record refused at open. The files are restored
// after each case, and the index must verify and digest as before at the end.
func TestCorruptColumns(t *testing.T) {
	f := newCorruptFixture(t, t.TempDir())
	n := 150 // ~0.2 s each: every query over the whole index; the fuzz target goes on from here
	if testing.Short() {
		n = 30
	}
	rng := rand.New(rand.NewPCG(10, 10))
	var applied, outOfRange, refused, found, verified int
	perCol := make([]int, len(corruptColumns))
	for range n {
		c := f.random(rng)
		restore := f.apply(t, c)
		if restore == nil {
			continue
		}
		out := f.check(t, c)
		restore()
		f.judgeOutcome(t, c, out)
		applied++
		perCol[c.col]++
		if c.outOfRange(f) {
			outOfRange++
		}
		if out.refused {
			refused++
		}
		if out.detected {
			found++
		}
		if out.verify != nil {
			verified++
		}
		if t.Failed() {
			t.FailNow() // one corruption's failures are enough to read
		}
	}
	t.Logf("%d corruptions (%v per column), %d out of range; refused at open %d, found by some query %d, by verify %d",
		applied, perCol, outOfRange, refused, found, verified)
	for i, k := range perCol {
		if k == 0 {
			t.Errorf("no corruption of %s", corruptColumns[i].file)
		}
	}
	if outOfRange == 0 || refused == 0 {
		t.Errorf("%d corruptions out of range, %d refused at open: the draw does not exercise the checks", outOfRange, refused)
	}
	ix, err := index.Open(f.data, f.net, index.Options{}, quietLog())
	if err != nil {
		t.Fatalf("the restored index: %v", err)
	}
	defer ix.Close()
	if _, err := ix.Verify(context.Background()); err != nil {
		t.Fatalf("the restored index: %v", err)
	}
	if d, err := ix.Digest(); err != nil || d != f.digest {
		t.Fatalf("the restored index has digest %s (%v), built %s", d, err, f.digest)
	}
}

// FuzzCorruptColumns is TestCorruptColumns with the corruption chosen by
// the fuzzer: column, record, field and value, each wrapped into range.
// Seeded from the test's random draw.
//
//	go test ./index -run '^$' -fuzz FuzzCorruptColumns -fuzztime 2m
func FuzzCorruptColumns(f *testing.F) {
	fx := newCorruptFixture(f, f.TempDir())
	rng := rand.New(rand.NewPCG(10, 10))
	for range 24 {
		c := fx.random(rng)
		f.Add(uint8(c.col), uint8(c.field), c.rec, c.value)
	}
	f.Fuzz(func(t *testing.T, col, field uint8, rec, value uint64) {
		c := corruption{col: int(col) % len(corruptColumns)}
		cc := corruptColumns[c.col]
		c.field = int(field) % len(cc.fields)
		c.rec = rec % cc.count(fx)
		if size := cc.fields[c.field].size; size < 8 {
			value &= 1<<(8*size) - 1
		}
		c.value = value
		restore := fx.apply(t, c)
		if restore == nil {
			return
		}
		defer restore()
		fx.judgeOutcome(t, c, fx.check(t, c))
	})
}

// TestOpenRefusesCorruptTail: a pointer out of range in the last record of
// a column is refused at open with one line naming it and what to run; the
// same index opens for repair (AllowCorrupt).
func TestOpenRefusesCorruptTail(t *testing.T) {
	f := newCorruptFixture(t, t.TempDir())
	keyOff := func() uint64 {
		b, err := os.ReadFile(filepath.Join(f.graph, "addrs.col"))
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint64(b[(f.nAddr-1)*16:])
	}()
	heap, err := os.ReadFile(filepath.Join(f.graph, "addrkeys.heap"))
	if err != nil {
		t.Fatal(err)
	}
	keyLen := uint64(heap[keyOff])
	lastTx, lastOut, lastIn, lastAddr := f.nTx-1, f.nOut-1, f.nIn-1, f.nAddr-1
	col := func(file string) int {
		for i, c := range corruptColumns {
			if c.file == file {
				return i
			}
		}
		t.Fatal(file)
		return 0
	}
	cases := []struct {
		c    corruption
		want string
	}{
		{corruption{col("txs.col"), 0, lastTx, f.nOut + 1}, fmt.Sprintf("txs.col record %d: first output %d beyond the %d committed outputs", lastTx, f.nOut+1, f.nOut)},
		{corruption{col("txs.col"), 1, lastTx, f.nIn + 7}, fmt.Sprintf("txs.col record %d: first input %d beyond the %d committed inputs", lastTx, f.nIn+7, f.nIn)},
		{corruption{col("txs.col"), 2, lastTx, uint64(f.tipHeight) + 1}, fmt.Sprintf("txs.col record %d: height %d above the tip at %d", lastTx, f.tipHeight+1, f.tipHeight)},
		{corruption{col("txs.col"), 2, lastTx, uint64(f.tipHeight) - 1}, fmt.Sprintf("txs.col record %d: height %d, but it is in the tip block at %d", lastTx, f.tipHeight-1, f.tipHeight)},
		{corruption{col("outs.col"), 1, lastOut, f.nAddr + 1}, fmt.Sprintf("outs.col record %d: address id %d beyond the %d committed addresses", lastOut, f.nAddr+1, f.nAddr)},
		{corruption{col("outs.col"), 2, lastOut, f.nTx}, fmt.Sprintf("outs.col record %d: spender tx %d beyond the %d committed txs", lastOut, f.nTx, f.nTx)},
		{corruption{col("outs.col"), 3, lastOut, lastOut}, fmt.Sprintf("outs.col record %d: prev_same output %d is not before the output (an address chain must lead back)", lastOut, lastOut)},
		{corruption{col("ins.col"), 0, lastIn, f.nOut}, fmt.Sprintf("ins.col record %d: spent output %d beyond the %d committed outputs", lastIn, f.nOut, f.nOut)},
		{corruption{col("addrs.col"), 0, lastAddr, f.heapLen}, fmt.Sprintf("addrs.col record %d: key offset %d beyond the heap's %d committed bytes", lastAddr, f.heapLen, f.heapLen)},
		{corruption{col("addrs.col"), 1, lastAddr, f.nOut + 3}, fmt.Sprintf("addrs.col record %d: head output %d beyond the %d committed outputs", lastAddr, f.nOut+3, f.nOut)},
		{corruption{col("addrs.col"), 1, lastAddr, index.NoOut}, fmt.Sprintf("addrs.col record %d: no output pays the address", lastAddr)},
		{corruption{col("addrkeys.heap"), 0, keyOff, keyLen - 1}, fmt.Sprintf("addrs.col record %d: key ends at heap byte %d, the heap's committed length is %d", lastAddr, f.heapLen-1, f.heapLen)},
		{corruption{col("addrkeys.heap"), 0, keyOff, 0}, fmt.Sprintf("addrkeys.heap record %d: a key of 0 bytes (address %d) in a heap of %d committed bytes", keyOff, f.nAddr, f.heapLen)},
	}
	for _, tc := range cases {
		restore := f.apply(t, tc.c)
		if restore == nil {
			t.Fatalf("%s changes nothing", tc.c)
		}
		want := "index: corrupt data: " + tc.want + " (run 'cointrail index verify'; repair with 'cointrail index rollback N' or rebuild)"
		ix, err := index.Open(f.data, f.net, index.Options{}, quietLog())
		if err == nil {
			ix.Close()
			t.Errorf("%s: opened", tc.c)
		} else if err.Error() != want || !errors.Is(err, index.ErrCorrupt) {
			t.Errorf("%s:\n got %v\nwant %s", tc.c, err, want)
		}
		if ix, err = index.Open(f.data, f.net, index.Options{AllowCorrupt: true}, quietLog()); err != nil {
			t.Errorf("%s: open for repair: %v", tc.c, err)
		} else {
			ix.Close()
		}
		restore()
	}
	ix, err := index.Open(f.data, f.net, index.Options{}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
}
