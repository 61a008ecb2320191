package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cointrail/cointrail/bench"
	"github.com/cointrail/cointrail/index"
	"github.com/cointrail/cointrail/taint"
)

func init() {
	var blocks, work string
	register(&command{
		name:    "bench ingest",
		summary: "measure full ingest of a blocks/ directory against a decode-only pass over the same files",
		usage:   "--blocks DIR",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&blocks, "blocks", "", "Bitcoin Core style blocks/ directory (e.g. from `cointrail sim --txs 1000000`)")
			fs.StringVar(&work, "work", "", "directory for the index built (default: a temporary one, removed after)")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if blocks == "" {
				return usagef("--blocks DIR is required")
			}
			net, err := g.net()
			if err != nil {
				return err
			}
			// Warm the page cache so both passes read from memory.
			if _, err := bench.DecodeOnly(ctx, blocks, net, env.Log); err != nil {
				return err
			}
			dec, err := bench.DecodeOnly(ctx, blocks, net, env.Log)
			if err != nil {
				return err
			}
			if work == "" {
				if work, err = os.MkdirTemp("", "cointrail-bench-"); err != nil {
					return err
				}
				defer os.RemoveAll(work)
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			// Ingest in a child process so its peak RSS is its own.
			cmd := exec.CommandContext(ctx, self, "ingest", "--data", work, "--network", net.Name, "--blocks", blocks)
			cmd.Stderr = os.Stderr
			start := time.Now()
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("ingest: %w", err)
			}
			// Peak anonymous memory, sampled: maxrss also counts the mapped
			// column pages, which are page cache, not the process's own.
			var anon int64
			done := make(chan struct{})
			go func() {
				t := time.NewTicker(20 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-done:
						return
					case <-t.C:
						anon = max(anon, rssAnon(cmd.Process.Pid))
					}
				}
			}()
			err = cmd.Wait()
			close(done)
			if err != nil {
				return fmt.Errorf("ingest: %w", err)
			}
			ingest := time.Since(start)
			rss := int64(0)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = ru.Maxrss * 1024
			}
			ix, err := index.Open(work, net, index.Options{}, env.Log)
			if err != nil {
				return err
			}
			size := ix.DiskSize()
			st := ix.Status()
			look, err := bench.Lookups(ix, 20000, 1)
			ix.Close()
			if err != nil {
				return err
			}
			res := map[string]any{
				"blocks": dec.Blocks, "txs": dec.Txs, "block_bytes": dec.Bytes,
				"decode_seconds": dec.Elapsed.Seconds(), "ingest_seconds": ingest.Seconds(),
				"ratio_ingest_to_decode": ingest.Seconds() / dec.Elapsed.Seconds(),
				"ingest_tx_per_s":        float64(dec.Txs) / ingest.Seconds(), "ingest_blocks_per_s": float64(dec.Blocks) / ingest.Seconds(),
				"ingest_mb_per_s": float64(dec.Bytes) / 1e6 / ingest.Seconds(), "decode_mb_per_s": float64(dec.Bytes) / 1e6 / dec.Elapsed.Seconds(),
				"index_bytes": size, "index_bytes_per_tx": float64(size) / float64(st.Txs), "index_to_block_bytes": float64(size) / float64(dec.Bytes),
				"ingest_peak_rss_bytes": rss, "ingest_peak_anon_bytes": anon, "work_dir": filepath.Clean(work), "lookups": look,
			}
			if g.json {
				return printJSON(env.Stdout, res)
			}
			fmt.Fprintf(env.Stdout, "chain: %d blocks, %d txs, %.1f MB of blocks\n", dec.Blocks, dec.Txs, float64(dec.Bytes)/1e6)
			fmt.Fprintf(env.Stdout, "decode-only (btcd wire + txids, all cores): %.2fs  %.1f MB/s\n", dec.Elapsed.Seconds(), res["decode_mb_per_s"])
			fmt.Fprintf(env.Stdout, "full ingest: %.2fs  %.0f tx/s  %.0f blocks/s  %.1f MB/s  peak RSS %.0f MB (anonymous %.0f MB)\n", ingest.Seconds(),
				res["ingest_tx_per_s"], res["ingest_blocks_per_s"], res["ingest_mb_per_s"], float64(rss)/1e6, float64(anon)/1e6)
			fmt.Fprintf(env.Stdout, "ratio ingest/decode: %.2f×\n", res["ratio_ingest_to_decode"])
			fmt.Fprintf(env.Stdout, "lookups/s: tx %.0f, address %.0f, spent-by %.0f, outpoint %.0f\n", look.TxPerSec, look.AddressPerSec, look.SpentByPerSec, look.OutpointPerSec)
			fmt.Fprintf(env.Stdout, "index: %.1f MB, %.0f bytes/tx, %.2f× the block bytes\n", float64(size)/1e6, res["index_bytes_per_tx"], res["index_to_block_bytes"])
			return nil
		},
	})
}

func init() {
	f := &traceFlags{}
	var runs int
	var reach bool
	register(&command{
		name:    "bench trace",
		summary: "time a trace in-process (best of --runs, after a warm-up): transactions visited and outputs touched per second",
		usage:   "[--from] SEED...",
		flags: func(fs *flag.FlagSet) {
			f.register(fs)
			fs.IntVar(&runs, "runs", 5, "timed runs")
			fs.BoolVar(&reach, "reach", false, "time forward reachability (poison without a per-output result; the like-for-like of a recursive SQL query) instead of a trace")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			ix, err := g.open(env)
			if err != nil {
				return err
			}
			defer ix.Close()
			p, _, err := f.params() // the first model
			if err != nil {
				return err
			}
			setup := time.Now()
			seeds, attr, err := traceSetup(ix, f, append(append([]string(nil), f.from...), args...))
			if err != nil {
				return err
			}
			setupTime := time.Since(setup)
			if reach {
				var best time.Duration
				var rr taint.ReachResult
				for i := 0; i <= runs; i++ {
					start := time.Now()
					if rr, err = taint.Reach(ctx, &index.Graph{Index: ix}, seeds, f.maxHops); err != nil {
						return err
					}
					if d := time.Since(start); i > 0 && (best == 0 || d < best) {
						best = d
					}
				}
				res := map[string]any{"mode": "reach", "seconds": best.Seconds(), "txs_visited": rr.Txs, "outputs": rr.Outputs,
					"outputs_per_s": float64(rr.Outputs) / best.Seconds(), "ns_per_output": float64(best.Nanoseconds()) / float64(max(1, rr.Outputs)), "max_hop": rr.MaxHop}
				if g.json {
					return printJSON(env.Stdout, res)
				}
				fmt.Fprintf(env.Stdout, "reach: %d txs, %d outputs, %d hops in %s (best of %d): %.0f ns/output\n", rr.Txs, rr.Outputs, rr.MaxHop, best, runs, res["ns_per_output"])
				return nil
			}
			// Each run traces into the compact state and streams the
			// canonical JSON (hashed as it goes) to -o FILE, or nowhere: the
			// whole cost of a result a user can keep, in bounded memory.
			var best, bestTrace, bestWrite, bestCPU time.Duration
			var head taint.Result
			var nOut int
			for i := 0; i <= runs; i++ { // run 0 warms the page cache
				start, cpu0 := time.Now(), cpuTime()
				s, err := taint.Stream(ctx, &index.Graph{Index: ix}, attr, seeds, p, taint.StreamOptions{}, env.Log)
				if err != nil {
					if s != nil {
						s.Close()
					}
					return err
				}
				traced := time.Since(start)
				err = writeOut(env, f.out, func(w io.Writer) error {
					if f.out == "" {
						w = io.Discard
					}
					_, err := s.WriteJSON(w)
					return err
				})
				head, nOut = *s.Head(), s.NumOutputs()
				s.Close()
				if err != nil {
					return err
				}
				if d := time.Since(start); i > 0 && (best == 0 || d < best) {
					best, bestTrace, bestWrite, bestCPU = d, traced, d-traced, cpuTime()-cpu0
				}
			}
			var peak int64
			if ru, ok := rusage(); ok {
				peak = ru
			}
			perOut := float64(best.Nanoseconds()) / float64(max(1, nOut))
			res := map[string]any{"model": head.Model.String(), "seconds": best.Seconds(), "trace_seconds": bestTrace.Seconds(),
				"write_seconds": bestWrite.Seconds(), "txs_visited": head.Summary.TxsVisited,
				"outputs": nOut, "outputs_per_s": float64(nOut) / best.Seconds(),
				"txs_per_s": float64(head.Summary.TxsVisited) / best.Seconds(), "ns_per_output": perOut,
				"cpu_seconds": bestCPU.Seconds(), "cpu_ns_per_output": float64(bestCPU.Nanoseconds()) / float64(max(1, nOut)),
				"max_hop": head.Summary.MaxHop, "peak_rss_bytes": peak, "peak_rss_bytes_per_output": float64(peak) / float64(max(1, nOut)),
				"setup_seconds": setupTime.Seconds(), "attributed_addresses": attr.Len()}
			if g.json {
				return printJSON(env.Stdout, res)
			}
			fmt.Fprintf(env.Stdout, "%s trace: %d txs visited, %d tainted outputs, %d hops in %s (trace %s + JSON %s; best of %d): %.0f outputs/s, %.0f ns/output (CPU %.0f ns/output), peak RSS %.0f MB (%.0f B/output)\n",
				head.Model, head.Summary.TxsVisited, nOut, head.Summary.MaxHop, best.Round(time.Millisecond), bestTrace.Round(time.Millisecond),
				bestWrite.Round(time.Millisecond), runs, res["outputs_per_s"], perOut, res["cpu_ns_per_output"], float64(peak)/1e6, res["peak_rss_bytes_per_output"])
			return nil
		},
	})
}

// cpuTime is the user + system CPU time this process has used: on a
// shared machine a better measure of a run's cost than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusage returns this process's peak RSS in bytes.
func rusage() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}

// rssAnon reads a process's anonymous resident memory from /proc.
func rssAnon(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "RssAnon:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "RssAnon:"), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}
