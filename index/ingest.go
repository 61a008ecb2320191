package index

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/cointrail/cointrail/chain"
)

// Progress reports ingest progress.
type Progress struct {
	Height, Target int64 // last connected height, height ingest is heading for
	Blocks, Txs    int64 // connected in this run
	Bytes          int64 // raw block bytes connected in this run
	Elapsed        time.Duration
	Done           bool
}

// IngestOptions tune ingest.
type IngestOptions struct {
	// Progress is called about once a second and once at the end.
	Progress func(Progress)
	// Workers decode blocks in parallel (default: number of CPUs).
	Workers int
	// BatchBytes of raw blocks share one commit during bulk ingest (default
	// 4 MiB: larger batches take Pebble's slower flushable-batch path).
	BatchBytes int
	// Sync commits every batch durably (live following); bulk ingest syncs once at the end.
	Sync bool
	// StopAfter stops after this many blocks (0: no limit); for tests and benchmarks.
	StopAfter int
}

// rawBlock is a block as a source yields it.
type rawBlock struct {
	raw    []byte
	origin string
}

// ingest runs the decode pipeline over blocks produced by produce, in order,
// and connects them. produce must send blocks in height order and stop when
// ctx is done.
func (ix *Index) ingest(ctx context.Context, target int64, opt IngestOptions, produce func(ctx context.Context, out chan<- rawBlock) error) (Progress, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	batchBytes := opt.BatchBytes
	if batchBytes <= 0 {
		batchBytes = 4 << 20
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
				b, err := Prepare(j.raw.raw, j.raw.origin)
				j.out <- result{b, err}
			}
		}()
	}

	start := time.Now()
	tip := ix.Tip()
	p := Progress{Height: int64(tip.Height), Target: target}
	if tip.Empty {
		p.Height = -1
	}
	lastReport := start
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
		n, err := ix.Connect(pending, opt.Sync)
		for _, b := range pending[:n] {
			p.Blocks++
			p.Txs += int64(len(b.Txs))
			p.Bytes += int64(b.Size)
		}
		p.Height += int64(n)
		pending, pendingBytes = pending[:0], 0
		return err
	}
	var err error
	for c := range order {
		r := <-c
		if r.err != nil {
			err = r.err
			break
		}
		pending = append(pending, r.b)
		pendingBytes += int(r.b.Size)
		if pendingBytes >= batchBytes || opt.Sync || len(pending) >= 4096 {
			if err = flush(); err != nil {
				break
			}
		}
		if time.Since(lastReport) >= time.Second {
			if err = flush(); err != nil {
				break
			}
			lastReport = time.Now()
			report(false)
		}
		if opt.StopAfter > 0 && p.Blocks+int64(len(pending)) >= int64(opt.StopAfter) {
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err == nil {
		err = flush()
	} else {
		// Blocks decoded before the bad one are good: keep them.
		if ferr := flush(); ferr != nil {
			err = ferr
		}
	}
	cancel()
	for range order {
	}
	wg.Wait()
	if err == nil && prodErr != nil && !errors.Is(prodErr, context.Canceled) {
		err = prodErr
	}
	if serr := ix.Sync(); serr != nil && err == nil {
		err = serr
	}
	report(true)
	return p, err
}

type result struct {
	b   *Block
	err error
}

// IngestBlkDir ingests the best chain of a Bitcoin Core blocks/ directory,
// continuing from the tip.
func (ix *Index) IngestBlkDir(ctx context.Context, dir string, opt IngestOptions) (Progress, error) {
	d, err := chain.OpenBlkDir(dir, ix.Net, ix.log)
	if err != nil {
		return Progress{}, err
	}
	defer d.Close()
	best, err := d.BestChain()
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
	return ix.ingest(ctx, int64(len(best))-1, opt, func(ctx context.Context, out chan<- rawBlock) error {
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
	})
}

// IngestRPC ingests from a node's JSON-RPC up to its current tip,
// continuing from the index tip.
func (ix *Index) IngestRPC(ctx context.Context, c *chain.RPCClient, opt IngestOptions) (Progress, error) {
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
	return ix.ingest(ctx, count, opt, func(ctx context.Context, out chan<- rawBlock) error {
		return c.FetchBlocks(ctx, from, count, func(h int64, raw []byte) error {
			select {
			case out <- rawBlock{raw, fmt.Sprintf("%s height %d", c.Endpoint(), h)}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
}
