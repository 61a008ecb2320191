package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/chain"
)

// Progress reports ingest progress.
type Progress struct {
	Height, Target int64 // last connected height, height ingest is heading for
	Blocks, Txs    int64 // connected in this run
	Bytes          int64 // raw block bytes connected in this run
	Elapsed        time.Duration
	Done           bool
	// Bulk builds only: the phase (1..Phases) with its own progress, and the
	// estimated time left for the whole build.
	Phase, Phases         int
	PhaseName             string
	PhaseDone, PhaseTotal int64
	ETA                   time.Duration
}

// IngestOptions tune ingest.
type IngestOptions struct {
	// Progress is called about once a second and once at the end.
	Progress func(Progress)
	// Workers decode blocks in parallel (default: number of CPUs).
	Workers int
	// BatchBytes of raw blocks share one commit on the block-by-block path
	// (default DefaultBatchBytes).
	BatchBytes int
	// Sync commits every block on its own (live following: a block is
	// durable as soon as it is read); otherwise blocks share a commit up to
	// BatchBytes or a second. Every commit is durable.
	Sync bool
	// StopAfter stops after this many blocks (0: no limit); for tests and benchmarks.
	StopAfter int
	// Mode chooses the builder: ModeAuto (default: bulk for a large build
	// into an empty index, block by block otherwise), ModeBulk or ModeBlocks.
	Mode Mode
	// MemoryBytes is the bulk build's memory budget (default DefaultMemory()).
	MemoryBytes int64
	// AllowPartial ingests a blocks dir whose chain stops at a gap (chain.ErrPartial) up to the gap, with a warning.
	AllowPartial bool
}

// Mode selects how ingest builds the index.
type Mode int

const (
	ModeAuto Mode = iota
	ModeBulk
	ModeBlocks
)

// BulkMinBytes is the raw block bytes from which ModeAuto picks the bulk
// build for an empty index: below it the block-by-block path is as fast.
const BulkMinBytes = 256 << 20

// ParseMode reads a --mode value.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return ModeAuto, nil
	case "bulk":
		return ModeBulk, nil
	case "blocks":
		return ModeBlocks, nil
	}
	return 0, fmt.Errorf("%w: --mode %q: want auto, bulk or blocks", ErrBadInput, s)
}

// rawBlock is a block as a source yields it.
type rawBlock struct {
	raw    []byte
	origin string
}

// DefaultBatchBytes of raw blocks share a commit. Every commit is durable
// (two msyncs and a synced store write, Connect) and waits for the pages of
// older records it changed (spent marks, address heads, hash-table slots),
// so small batches write those pages again and again: a 300k-tx chain built
// block by block takes ~1.4x the unsynced build at 16 MiB, ~1.9x at 4 MiB
// (BENCHMARKS.md). Large first builds take the bulk path, which does not
// commit per batch; live following commits one block at a time.
const DefaultBatchBytes = 16 << 20

// commitEvery bounds the work a process kill or power cut can lose.
const commitEvery = 5 * time.Second

// ingest runs the decode pipeline over blocks produced by produce, in order,
// and connects them. produce must send blocks in height order and stop when
// ctx is done.
func (ix *Index) ingest(ctx context.Context, target int64, opt IngestOptions, produce func(ctx context.Context, out chan<- rawBlock) error) (Progress, error) {
	batchBytes := opt.BatchBytes
	if batchBytes <= 0 {
		batchBytes = DefaultBatchBytes
	}
	start := time.Now()
	tip := ix.Tip()
	p := Progress{Height: int64(tip.Height), Target: target}
	if tip.Empty {
		p.Height = -1
	}
	lastReport, lastCommit := start, start
	report := func(done bool) {
		p.Elapsed = time.Since(start)
		p.Done = done
		if opt.Progress != nil {
			opt.Progress(p)
		}
	}
	var pending []*Block
	pendingBytes := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		n, err := ix.Connect(pending)
		for _, b := range pending[:n] {
			p.Blocks++
			p.Txs += int64(len(b.Txs))
			p.Bytes += int64(b.Size)
		}
		p.Height += int64(n)
		pending, pendingBytes = pending[:0], 0
		return err
	}
	err := ix.decodePipeline(ctx, opt.Workers, produce, func(b *Block) error {
		pending = append(pending, b)
		pendingBytes += int(b.Size)
		if pendingBytes >= batchBytes || opt.Sync || len(pending) >= 4096 {
			if err := flush(); err != nil {
				return err
			}
		}
		if time.Since(lastCommit) >= commitEvery {
			if err := flush(); err != nil {
				return err
			}
			lastCommit = time.Now()
		}
		if time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			report(false)
		}
		if opt.StopAfter > 0 && p.Blocks+int64(len(pending)) >= int64(opt.StopAfter) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) || errors.Is(err, context.Canceled) {
		err = nil
	}
	// Blocks decoded before a bad one are good: keep them.
	if ferr := flush(); ferr != nil {
		err = ferr
	}
	if serr := ix.Sync(); serr != nil && err == nil {
		err = serr
	}
	report(true)
	return p, err
}

// decodePipeline decodes the blocks produce sends (in height order) on
// every core and hands them to sink in order on the calling goroutine. It
// returns the first error of sink, of a block's decoding or of produce.
func (ix *Index) decodePipeline(ctx context.Context, workers int, produce func(ctx context.Context, out chan<- rawBlock) error, sink func(*Block) error) error {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		seq int64
		raw rawBlock
		out chan result
	}
	raws := make(chan rawBlock, 64)
	jobs := make(chan job, 4*workers)
	order := make(chan chan result, 4*workers)
	var prodErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(raws)
		prodErr = produce(ctx, raws)
	}()
	go func() {
		defer close(jobs)
		defer close(order)
		var seq int64
		for r := range raws {
			c := make(chan result, 1)
			select {
			case jobs <- job{seq, r, c}:
			case <-ctx.Done():
				return
			}
			select {
			case order <- c:
			case <-ctx.Done():
				return
			}
			seq++
		}
	}()
	for i := 0; i < workers; i++ {
		go func() {
			for j := range jobs {
				b, err := ix.prepare(j.raw.raw, j.raw.origin)
				j.out <- result{b, err}
			}
		}()
	}

	var err error
	for c := range order {
		r := <-c
		if r.err != nil {
			err = r.err
			break
		}
		if err = sink(r.b); err != nil {
			break
		}
		if err = ctx.Err(); err != nil {
			break
		}
	}
	cancel()
	for range order {
	}
	wg.Wait()
	if err == nil && prodErr != nil {
		err = prodErr
	}
	return err
}

type result struct {
	b   *Block
	err error
}

// IngestBlkDir ingests the best chain of a Bitcoin Core blocks/ directory,
// continuing from the tip.
func (ix *Index) IngestBlkDir(ctx context.Context, dir string, opt IngestOptions) (Progress, error) {
	if err := ix.writable(); err != nil {
		return Progress{}, err
	}
	d, err := chain.OpenBlkDir(dir, ix.Net, ix.log)
	if err != nil {
		return Progress{}, err
	}
	defer d.Close()
	best, err := d.BestChain()
	if errors.Is(err, chain.ErrPartial) && opt.AllowPartial {
		ix.log.Warn("ingesting a partial chain (--allow-partial)", "reason", err.Error())
		err = nil
	}
	if err != nil {
		return Progress{}, err
	}
	tip := ix.Tip()
	from := 0
	if !tip.Empty {
		if int(tip.Height) >= len(best) || best[tip.Height].Hash != tip.Hash {
			return Progress{}, fmt.Errorf("%w: the index tip %s (height %d) is not on the best chain of %s (%d blocks); roll back with `cointrail index rollback` or use another data directory", ErrUnknownParent, tip.Hash, tip.Height, dir, len(best))
		}
		from = int(tip.Height) + 1
	}
	produce := func(from int) func(ctx context.Context, out chan<- rawBlock) error {
		return func(ctx context.Context, out chan<- rawBlock) error {
			for _, loc := range best[from:] {
				raw, err := d.ReadBlock(loc)
				if err != nil {
					return err
				}
				select {
				case out <- rawBlock{raw, loc.String()}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		}
	}
	target := int64(len(best)) - 1
	var bytes int64
	for _, loc := range best[from:] {
		bytes += int64(loc.Size)
	}
	if ix.chooseBulk(opt, bytes, func(h uint32) (chainhash.Hash, bool) {
		if int(h) >= len(best) {
			return chainhash.Hash{}, false
		}
		return best[h].Hash, true
	}) {
		p, err := ix.bulkBuild(ctx, target, opt, BulkOptions{MemoryBytes: opt.MemoryBytes, EstBytes: bytes, Progress: opt.Progress}, produce(0))
		if err != nil || ctx.Err() != nil || (opt.StopAfter > 0 && p.Blocks >= int64(opt.StopAfter)) || p.Height >= target {
			return p, err
		}
		// Blocks that arrived after the build's chain was read: block by block.
		q, err := ix.ingest(ctx, target, opt, produce(int(p.Height)+1))
		q.Blocks, q.Txs, q.Bytes, q.Elapsed = q.Blocks+p.Blocks, q.Txs+p.Txs, q.Bytes+p.Bytes, q.Elapsed+p.Elapsed
		return q, err
	}
	return ix.ingest(ctx, target, opt, produce(from))
}

// chooseBulk decides between the bulk build and the block-by-block path,
// and drops an unfinished build of another chain. hashAt gives the source's
// block hash at a height.
func (ix *Index) chooseBulk(opt IngestOptions, bytes int64, hashAt func(uint32) (chainhash.Hash, bool)) bool {
	if !ix.Tip().Empty || opt.Mode == ModeBlocks {
		return false
	}
	if st, ok := ix.bulkPending(); ok {
		if h, ok := hashAt(st.Height); ok && h.String() == st.Hash {
			return true
		}
		ix.log.Warn("discarding an unfinished bulk build of another chain", "height", st.Height, "hash", st.Hash)
		os.RemoveAll(ix.bulkDir())
	}
	return opt.Mode == ModeBulk || bytes >= BulkMinBytes
}

// IngestRPC ingests from a node's JSON-RPC up to its current tip,
// continuing from the index tip.
func (ix *Index) IngestRPC(ctx context.Context, c *chain.RPCClient, opt IngestOptions) (Progress, error) {
	if err := ix.writable(); err != nil {
		return Progress{}, err
	}
	netName, err := c.Network(ctx)
	if err != nil {
		return Progress{}, err
	}
	if netName != ix.Net.Name {
		return Progress{}, fmt.Errorf("%w: node %s is on %s, the index is %s", chain.ErrWrongNetwork, c.Endpoint(), netName, ix.Net.Name)
	}
	count, err := c.BlockCount(ctx)
	if err != nil {
		return Progress{}, err
	}
	tip := ix.Tip()
	from := int64(0)
	if !tip.Empty {
		if int64(tip.Height) > count {
			return Progress{}, fmt.Errorf("%w: the index tip (height %d) is above the node's tip (height %d) at %s", ErrUnknownParent, tip.Height, count, c.Endpoint())
		}
		h, err := c.BlockHash(ctx, int64(tip.Height))
		if err != nil {
			return Progress{}, err
		}
		if h != tip.Hash {
			return Progress{}, fmt.Errorf("%w: the node %s has block %s at height %d, the index has %s (a reorg); roll back with `cointrail index rollback`", ErrUnknownParent, c.Endpoint(), h, tip.Height, tip.Hash)
		}
		from = int64(tip.Height) + 1
	}
	if from > count {
		return Progress{Height: int64(tip.Height), Target: count, Done: true}, nil
	}
	produce := func(from int64) func(ctx context.Context, out chan<- rawBlock) error {
		return func(ctx context.Context, out chan<- rawBlock) error {
			return c.FetchBlocks(ctx, from, count, func(h int64, raw []byte) error {
				select {
				case out <- rawBlock{raw, fmt.Sprintf("%s height %d", c.Endpoint(), h)}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}
	}
	// A node does not say how big its chain is; a bulk build over RPC is
	// chosen with ModeBulk (or to resume one).
	if ix.chooseBulk(opt, 0, func(h uint32) (chainhash.Hash, bool) {
		if int64(h) > count {
			return chainhash.Hash{}, false
		}
		bh, err := c.BlockHash(ctx, int64(h))
		return bh, err == nil
	}) {
		// A node does not say its chain's size in bytes: assume mainnet's
		// average block (~800 kB), which errs towards more, smaller partitions.
		p, err := ix.bulkBuild(ctx, count, opt, BulkOptions{MemoryBytes: opt.MemoryBytes, EstBytes: (count + 1) * 800_000, Progress: opt.Progress}, produce(0))
		if err != nil || ctx.Err() != nil || (opt.StopAfter > 0 && p.Blocks >= int64(opt.StopAfter)) || p.Height >= count {
			return p, err
		}
		q, err := ix.ingest(ctx, count, opt, produce(p.Height+1))
		q.Blocks, q.Txs, q.Bytes, q.Elapsed = q.Blocks+p.Blocks, q.Txs+p.Txs, q.Bytes+p.Bytes, q.Elapsed+p.Elapsed
		return q, err
	}
	return ix.ingest(ctx, count, opt, produce(from))
}
