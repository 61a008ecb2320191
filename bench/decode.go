package bench

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
)

// DecodeResult is what a decode-only pass read.
type DecodeResult struct {
	Blocks, Txs, Bytes int64
	Elapsed            time.Duration
}

// DecodeOnly is the ingest baseline: read every block of the best chain in
// dir, deserialize it with btcd's wire and compute every txid, on all cores,
// and nothing else.
func DecodeOnly(ctx context.Context, dir string, net chain.Network, log *slog.Logger) (DecodeResult, error) {
	return DecodeOnlyN(ctx, dir, net, log, runtime.NumCPU())
}

// DecodeOnlyN is DecodeOnly on workers cores (the scale benchmark's
// baseline is one core: the bulk build's forward pass has one writer).
func DecodeOnlyN(ctx context.Context, dir string, net chain.Network, log *slog.Logger, workers int) (DecodeResult, error) {
	start := time.Now()
	d, err := chain.OpenBlkDir(dir, net, log)
	if err != nil {
		return DecodeResult{}, err
	}
	defer d.Close()
	best, err := d.BestChain()
	if err != nil {
		return DecodeResult{}, err
	}
	var r DecodeResult
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var blocks, txs, bytesRead int64
			var sink byte
			for {
				i := next.Add(1) - 1
				if i >= int64(len(best)) || ctx.Err() != nil {
					break
				}
				raw, err := d.ReadBlock(best[i])
				if err == nil {
					var mb wire.MsgBlock
					if err = mb.Deserialize(bytes.NewReader(raw)); err == nil {
						for _, tx := range mb.Transactions {
							h := tx.TxHash()
							sink ^= h[0]
						}
						blocks++
						txs += int64(len(mb.Transactions))
						bytesRead += int64(len(raw))
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					break
				}
			}
			mu.Lock()
			r.Blocks += blocks
			r.Txs += txs
			r.Bytes += bytesRead
			_ = sink
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	return r, firstErr
}
