package index

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cespare/xxhash/v2"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/failpoint"
)

// ErrBuild: the bulk build could not read or write its own files (disk
// full, I/O error); the index is left as it was, and the build resumes.
var ErrBuild = errors.New("index: bulk build failed")

// The bulk build (BULK.md) writes a whole index from an empty one with
// sequential I/O only: one forward pass over the blocks keeps just the UTXO
// set in memory and appends every column, spilling spent marks and address
// occurrences into bucket files; later passes turn those into address ids,
// address chains, spent marks and lookup tables by sorting buckets that fit
// the memory budget. The result is byte for byte the index the
// block-by-block path builds (equal `index digest`).

const bulkStateVersion = 1

// Bulk phases, in order. bulkState.Phase is the last one finished.
const (
	phaseNone = iota
	phaseForward
	phaseAddrs
	phaseAddrIDs
	phaseOuts
	phaseTables
	phaseInstall // started: the files are being moved into place
)

var phaseNames = []string{"", "blocks", "addresses", "address ids", "outputs", "tables", "install"}

// bulkState is bulk/state.json, rewritten atomically after every phase or chunk.
type bulkState struct {
	Version    int      `json:"version"`
	Network    string   `json:"network"`
	Phase      int      `json:"phase"`
	Height     uint32   `json:"height"` // last block of the build
	Hash       string   `json:"hash"`
	Blocks     uint32   `json:"blocks"`
	NTx        uint32   `json:"n_tx"`
	NOut       uint64   `json:"n_out"`
	NIn        uint64   `json:"n_in"`
	NAddr      uint32   `json:"n_addr"`
	HeapLen    uint64   `json:"heap_len"`
	Parts      int      `json:"parts"`       // address partitions
	PartAddrs  []uint32 `json:"part_addrs"`  // distinct addresses per partition (phase 2)
	PartsDone  int      `json:"parts_done"`  // phase 2 progress
	SpendShift uint     `json:"spend_shift"` // outputs per spend bucket = 1 << SpendShift
	OutsDone   uint64   `json:"outs_done"`   // phase 4 progress (outputs rewritten)
	Budget     int64    `json:"budget"`
}

// BulkOptions tune the bulk build.
type BulkOptions struct {
	// MemoryBytes bounds the build's working memory besides the UTXO set
	// (default DefaultMemory()).
	MemoryBytes int64
	// EstBytes is the raw block bytes expected (sizes the partitions; 0: unknown).
	EstBytes int64
	Progress func(Progress)
}

type bulkBuilder struct {
	ix    *Index
	dir   string
	st    bulkState
	opt   BulkOptions
	start time.Time
	prog  Progress
	last  time.Time
}

func (ix *Index) bulkDir() string { return filepath.Join(ix.dir, "bulk") }

// bulkPending reports whether an unfinished bulk build exists.
func (ix *Index) bulkPending() (bulkState, bool) {
	st, err := readBulkState(ix.bulkDir())
	return st, err == nil
}

func readBulkState(dir string) (bulkState, error) {
	var st bulkState
	d, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(d, &st); err != nil {
		return st, fmt.Errorf("%w: %s/state.json: %v", ErrCorrupt, dir, err)
	}
	if st.Version != bulkStateVersion {
		return st, fmt.Errorf("%w: %s/state.json has version %d", ErrVersion, dir, st.Version)
	}
	return st, nil
}

// save writes the state durably: temp file, fsync, rename, fsync dir.
func (b *bulkBuilder) save() error {
	d, err := json.Marshal(&b.st)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInternal, err)
	}
	tmp := filepath.Join(b.dir, "state.json.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	_, err = f.Write(d)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(b.dir, "state.json"))
	}
	if err != nil {
		return fmt.Errorf("%w: save state: %v", ErrBuild, err)
	}
	if err := syncDir(b.dir); err != nil {
		return fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return nil
}

func (b *bulkBuilder) path(name string) string { return filepath.Join(b.dir, name) }

// bulkBuild builds the index from blocks (heights 0..) produced in order,
// resuming an unfinished build of the same chain. The index must be empty.
func (ix *Index) bulkBuild(ctx context.Context, target int64, opt IngestOptions, bopt BulkOptions, produce func(ctx context.Context, out chan<- rawBlock) error) (Progress, error) {
	if !ix.Tip().Empty {
		return Progress{}, fmt.Errorf("%w: a bulk build needs an empty index", ErrInternal)
	}
	if bopt.MemoryBytes <= 0 {
		bopt.MemoryBytes = DefaultMemory()
	}
	b := &bulkBuilder{ix: ix, dir: ix.bulkDir(), opt: bopt, start: time.Now()}
	b.prog = Progress{Height: -1, Target: target, Phases: phaseInstall}
	st, err := readBulkState(b.dir)
	switch {
	case err == nil && st.Network == ix.Net.Name && st.Phase >= phaseForward:
		b.st = st
		ix.log.Info("resuming the bulk build", "phase", phaseNames[st.Phase+1], "height", st.Height)
	case err != nil && !os.IsNotExist(err) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion):
		return Progress{}, fmt.Errorf("%w: %v", ErrBuild, err)
	default:
		// Nothing finished yet (or unreadable): start over.
		if err := os.RemoveAll(b.dir); err != nil {
			return Progress{}, fmt.Errorf("%w: %v", ErrBuild, err)
		}
		if err := os.MkdirAll(b.dir, 0o755); err != nil {
			return Progress{}, fmt.Errorf("%w: %v", ErrBuild, err)
		}
		b.st = bulkState{Version: bulkStateVersion, Network: ix.Net.Name, Budget: bopt.MemoryBytes}
	}
	var blockErr error
	if b.st.Phase < phaseForward {
		blockErr = b.forward(ctx, opt, produce)
		if b.st.Blocks == 0 {
			if blockErr == nil {
				blockErr = ctx.Err()
			}
			os.RemoveAll(b.dir)
			return b.prog, blockErr
		}
		if ctx.Err() != nil && blockErr == nil {
			return b.prog, ctx.Err() // interrupted: the next run starts the forward pass again
		}
		if blockErr != nil && !errors.Is(blockErr, ErrCorrupt) && !errors.Is(blockErr, ErrUnknownParent) {
			return b.prog, blockErr
		}
		// A bad block ends the chain: the good prefix is built, then the error is returned.
		b.st.Phase = phaseForward
		if err := b.save(); err != nil {
			return b.prog, err
		}
	}
	b.prog.Height, b.prog.Blocks, b.prog.Txs = int64(b.st.Height), int64(b.st.Blocks), int64(b.st.NTx)
	steps := []func(context.Context) error{phaseForward: nil, phaseAddrs: b.addresses, phaseAddrIDs: b.addressIDs, phaseOuts: b.outputs, phaseTables: b.tables}
	for ph := b.st.Phase + 1; ph <= phaseTables; ph++ {
		if err := ctx.Err(); err != nil {
			return b.prog, err
		}
		t0 := time.Now()
		b.phase(ph, 0, 1)
		if err := steps[ph](ctx); err != nil {
			return b.prog, err
		}
		b.st.Phase = ph
		if err := b.save(); err != nil {
			return b.prog, err
		}
		failpoint.Hit("bulk-phase")
		ix.log.Info("bulk phase done", "phase", phaseNames[ph], "seconds", time.Since(t0).Seconds())
	}
	if err := ix.installBulk(b); err != nil {
		return b.prog, err
	}
	b.prog.Elapsed = time.Since(b.start)
	b.prog.Done, b.prog.PhaseDone, b.prog.PhaseTotal = true, 1, 1
	b.report(true)
	return b.prog, blockErr
}

// phase reports entering phase ph or progress within it.
func (b *bulkBuilder) phase(ph int, done, total int64) {
	b.prog.Phase, b.prog.PhaseName, b.prog.PhaseDone, b.prog.PhaseTotal = ph, phaseNames[ph], done, total
	b.report(false)
}

// phaseWeight is each phase's rough share of the build time, for the overall ETA.
var phaseWeight = []float64{0, 0.62, 0.14, 0.04, 0.14, 0.06}

func (b *bulkBuilder) report(force bool) {
	if b.opt.Progress == nil || (!force && time.Since(b.last) < time.Second/4) {
		return
	}
	b.last = time.Now()
	p := b.prog
	p.Elapsed = time.Since(b.start)
	if p.Phase >= 1 && p.Phase < len(phaseWeight) && p.PhaseTotal > 0 {
		frac := 0.0
		for i := 1; i < p.Phase; i++ {
			frac += phaseWeight[i]
		}
		frac += phaseWeight[p.Phase] * float64(p.PhaseDone) / float64(p.PhaseTotal)
		if frac > 0.01 {
			p.ETA = time.Duration(float64(p.Elapsed)/frac - float64(p.Elapsed))
		}
	}
	b.opt.Progress(p)
}

// forward is phase 1: every block in order, the UTXO set in memory.
func (b *bulkBuilder) forward(ctx context.Context, opt IngestOptions, produce func(ctx context.Context, out chan<- rawBlock) error) error {
	f, err := newForward(b)
	if err != nil {
		return err
	}
	b.phase(phaseForward, 0, b.prog.Target+1)
	var blockErr error
	// Throughput per tenth of the chain, logged: a flat rate is the point of
	// the design (bench-scale.sh reads these lines).
	tenth, tenthStart, tenthTxs := int64(1), time.Now(), int64(0)
	perr := b.ix.decodePipeline(ctx, opt.Workers, produce, func(blk *Block) error {
		if err := f.block(blk); err != nil {
			blockErr = err
			return err
		}
		tenthTxs += int64(len(blk.Txs))
		if tenth <= 10 && int64(f.height)+1 >= (b.prog.Target+1)*tenth/10 {
			secs := time.Since(tenthStart).Seconds()
			b.ix.log.Info("bulk blocks", "tenth", tenth, "height", f.height, "txs", tenthTxs, "seconds", fmt.Sprintf("%.2f", secs),
				"tx_per_s", int64(float64(tenthTxs)/max(secs, 1e-9)), "utxo_entries", f.utxo.n)
			tenth, tenthStart, tenthTxs = tenth+1, time.Now(), 0
		}
		b.prog.Height, b.prog.Blocks = int64(f.height), b.prog.Blocks+1
		b.prog.Txs += int64(len(blk.Txs))
		b.prog.Bytes += int64(blk.Size)
		b.prog.PhaseDone = b.prog.Height + 1
		b.prog.PhaseTotal = b.prog.Target + 1
		b.report(false)
		if opt.StopAfter > 0 && b.prog.Blocks >= int64(opt.StopAfter) {
			return errStop
		}
		return nil
	})
	if err := f.finish(); err != nil {
		return err
	}
	if blockErr != nil {
		return blockErr
	}
	if perr != nil && !errors.Is(perr, errStop) && !errors.Is(perr, context.Canceled) {
		return perr
	}
	return nil
}

var errStop = errors.New("stop")

// forwardPass holds phase 1's writers.
type forwardPass struct {
	b                           *bulkBuilder
	utxo                        *utxoSet
	txs, txids, meta, outs, ins *appendFile
	blocks                      *appendFile
	spends, addrs               *spill
	nTx                         uint32
	nOut, nIn                   uint64
	height                      uint32
	prev                        chainhash.Hash
	empty                       bool
	// the current block's records, appended only once it is valid
	bTxs, bTxids, bMeta, bOuts, bIns []byte
	bSpend, bAddr                    [][]byte
	spendRecs                        []spendRec
	addrRecs                         []bulkAddr
}

type spendRec struct {
	out uint64
	tx  uint32
}

type bulkAddr struct {
	part int
	out  uint64
	key  chain.AddrKey
}

// blockRecSize: hash, prev, time, size, first_tx, n_tx, n_out and n_in after it.
const blockRecSize = 32 + 32 + 4 + 4 + 4 + 4 + 8 + 8

func newForward(b *bulkBuilder) (*forwardPass, error) {
	f := &forwardPass{b: b, empty: true}
	// Partitions: each must fit a quarter of the budget in phase 2 (~100 B
	// per occurrence at worst); outputs estimated at 150 block bytes each.
	estOuts := b.opt.EstBytes / 150
	parts := 16
	for int64(parts) < 4096 && estOuts*100*4/int64(parts) > b.opt.MemoryBytes {
		parts *= 2
	}
	b.st.Parts = parts
	// A spend bucket (12 B a spend) and the outputs range it covers (24 B an
	// output) must fit a sixteenth of the budget together.
	shift := uint(16)
	for shift < 30 && int64(36)<<(shift+1) <= b.opt.MemoryBytes/16 {
		shift++
	}
	b.st.SpendShift = shift
	// The UTXO set starts small and doubles: its final size depends on how
	// the chain spends, not on its length (mainnet: ~6 % of all outputs).
	f.utxo = newUTXOSet(0)
	var err error
	open := func(name string) *appendFile {
		if err != nil {
			return nil
		}
		var a *appendFile
		a, err = createAppend(b.path(name))
		return a
	}
	f.txs, f.txids, f.meta = open("txs.col"), open("txids.col"), open("txmeta.col")
	f.outs, f.ins, f.blocks = open("outs.col"), open("ins.col"), open("blocks.rec")
	if err != nil {
		return nil, err
	}
	if f.spends, err = newSpill(b.dir, "spend", 1, 64<<10); err != nil {
		return nil, err
	}
	if f.addrs, err = newSpill(b.dir, "addr", parts, 64<<10); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *forwardPass) block(blk *Block) error {
	ix := f.b.ix
	var height uint32
	if f.empty {
		if g := ix.Net.Params.GenesisHash; blk.Hash != *g {
			return fmt.Errorf("%w: block %s (%s) is not the %s genesis block %s", ErrUnknownParent, blk.Hash, blk.Origin, ix.Net.Name, g)
		}
	} else {
		if blk.Prev != f.prev {
			return fmt.Errorf("%w: block %s (%s) builds on %s, the index tip is %s at height %d", ErrUnknownParent, blk.Hash, blk.Origin, blk.Prev, f.prev, f.height)
		}
		height = f.height + 1
	}
	f.bTxs, f.bTxids, f.bMeta, f.bOuts, f.bIns = f.bTxs[:0], f.bTxids[:0], f.bMeta[:0], f.bOuts[:0], f.bIns[:0]
	f.spendRecs, f.addrRecs = f.spendRecs[:0], f.addrRecs[:0]
	nTx, nOut, nIn := f.nTx, f.nOut, f.nIn
	inPos, outPos := 0, 0
	var rec [24]byte
	for i := range blk.Txs {
		p := &blk.Txs[i]
		tx := nTx
		var inSum, outSum int64
		firstIn, firstOut := nIn, nOut
		for j := 0; j < int(p.NIn); j++ {
			op := &blk.Ins[inPos+j]
			o, v, ok := f.utxo.take(&op.Hash, op.Index)
			if !ok {
				return fmt.Errorf("%w: block %s (%s) tx %s input %d spends %s:%d, which is not an unspent output of the chain before it", ErrCorrupt, blk.Hash, blk.Origin, p.TxID, j, op.Hash, op.Index)
			}
			f.bIns = binary.LittleEndian.AppendUint64(f.bIns, o)
			f.spendRecs = append(f.spendRecs, spendRec{o, tx})
			nIn++
			inSum += v
		}
		inPos += int(p.NIn)
		for j := 0; j < int(p.NOut); j++ {
			out := &blk.Outs[outPos+j]
			if out.Value < 0 || out.Value > valueMask {
				return fmt.Errorf("%w: block %s (%s) tx %s output %d has value %d", ErrCorrupt, blk.Hash, blk.Origin, p.TxID, j, out.Value)
			}
			binary.LittleEndian.PutUint64(rec[:], uint64(out.Value)|uint64(out.Type)<<60)
			binary.LittleEndian.PutUint32(rec[8:], 0)
			binary.LittleEndian.PutUint32(rec[12:], NoTx)
			binary.LittleEndian.PutUint64(rec[16:], NoOut)
			f.bOuts = append(f.bOuts, rec[:]...)
			if out.Key != "" {
				if len(out.Key) > 255 {
					return fmt.Errorf("%w: address key of %d bytes", ErrInternal, len(out.Key))
				}
				f.addrRecs = append(f.addrRecs, bulkAddr{int(xxhash.Sum64String(string(out.Key)) >> 32 % uint64(f.b.st.Parts)), nOut, out.Key})
			}
			if out.Type != chain.ScriptOpReturn {
				if j > maxVout {
					return fmt.Errorf("%w: block %s (%s) tx %s has more than %d outputs", ErrCorrupt, blk.Hash, blk.Origin, p.TxID, maxVout)
				}
				f.utxo.put(&p.TxID, uint32(j), nOut, out.Value)
			}
			nOut++
			outSum += out.Value
		}
		outPos += int(p.NOut)
		var fee int64
		if p.NIn > 0 {
			fee = inSum - outSum
			if fee < 0 {
				return fmt.Errorf("%w: block %s (%s) tx %s spends %d sat but pays out %d", ErrCorrupt, blk.Hash, blk.Origin, p.TxID, inSum, outSum)
			}
		}
		binary.LittleEndian.PutUint64(rec[:], firstOut)
		binary.LittleEndian.PutUint64(rec[8:], firstIn)
		binary.LittleEndian.PutUint32(rec[16:], height)
		binary.LittleEndian.PutUint32(rec[20:], p.Vsize)
		f.bTxs = append(f.bTxs, rec[:txRec]...)
		f.bTxids = append(f.bTxids, p.TxID[:]...)
		binary.LittleEndian.PutUint64(rec[:], uint64(fee))
		binary.LittleEndian.PutUint32(rec[8:], p.LockTime)
		binary.LittleEndian.PutUint32(rec[12:], uint32(p.Version))
		f.bMeta = append(f.bMeta, rec[:metaRec]...)
		nTx++
		if nTx == 0 {
			return fmt.Errorf("%w: more than 2^32 transactions", ErrInternal)
		}
	}
	if inPos != len(blk.Ins) || outPos != len(blk.Outs) {
		return fmt.Errorf("%w: prepared block %s has inconsistent input/output counts", ErrInternal, blk.Hash)
	}
	// The block is valid: append it.
	for _, w := range []struct {
		a *appendFile
		d []byte
	}{{f.txs, f.bTxs}, {f.txids, f.bTxids}, {f.meta, f.bMeta}, {f.outs, f.bOuts}, {f.ins, f.bIns}} {
		if _, err := w.a.Write(w.d); err != nil {
			return err
		}
	}
	var br [blockRecSize]byte
	copy(br[:], blk.Hash[:])
	copy(br[32:], blk.Prev[:])
	binary.LittleEndian.PutUint32(br[64:], blk.Time)
	binary.LittleEndian.PutUint32(br[68:], blk.Size)
	binary.LittleEndian.PutUint32(br[72:], f.nTx)
	binary.LittleEndian.PutUint32(br[76:], uint32(len(blk.Txs)))
	binary.LittleEndian.PutUint64(br[80:], nOut)
	binary.LittleEndian.PutUint64(br[88:], nIn)
	if _, err := f.blocks.Write(br[:]); err != nil {
		return err
	}
	shift := f.b.st.SpendShift
	f.spends.grow(int(nOut>>shift) + 1)
	var sr [12]byte
	for _, s := range f.spendRecs {
		binary.LittleEndian.PutUint64(sr[:], s.out)
		binary.LittleEndian.PutUint32(sr[8:], s.tx)
		if err := f.spends.add(int(s.out>>shift), sr[:]); err != nil {
			return err
		}
	}
	var ar [8 + 1 + 255]byte
	for _, a := range f.addrRecs {
		binary.LittleEndian.PutUint64(ar[:], a.out)
		ar[8] = byte(len(a.key))
		n := copy(ar[9:], a.key)
		if err := f.addrs.add(a.part, ar[:9+n]); err != nil {
			return err
		}
	}
	f.nTx, f.nOut, f.nIn = nTx, nOut, nIn
	f.prev, f.height, f.empty = blk.Hash, height, false
	st := &f.b.st
	st.Height, st.Hash, st.Blocks = height, blk.Hash.String(), st.Blocks+1
	st.NTx, st.NOut, st.NIn = nTx, nOut, nIn
	failpoint.Hit("bulk-block")
	return nil
}

func (f *forwardPass) finish() error {
	var first error
	for _, a := range []*appendFile{f.txs, f.txids, f.meta, f.outs, f.ins, f.blocks} {
		if err := a.close(); err != nil && first == nil {
			first = err
		}
	}
	if err := f.spends.finish(); err != nil && first == nil {
		first = err
	}
	if err := f.addrs.finish(); err != nil && first == nil {
		first = err
	}
	f.b.ix.log.Debug("bulk forward pass done", "utxo_entries", f.utxo.n, "utxo_bytes", f.utxo.bytes(),
		"spend_bytes", f.spends.bytes, "addr_bytes", f.addrs.bytes)
	f.utxo = nil
	return first
}

// tableSlots is the slot count a bulk-built table gets for n entries: the
// smallest power of two the block-by-block path would not double at once.
func tableSlots(n uint64) uint64 {
	s := uint64(minTableSlots)
	for (n+1)*2 > s {
		s <<= 1
	}
	return s
}

func log2(x uint64) uint { return uint(bits.Len64(x) - 1) }
