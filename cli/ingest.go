package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/index"
)

type rpcFlags struct {
	url, user, pass, cookie string
}

func (r *rpcFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.url, "rpc", "", "node JSON-RPC URL, e.g. http://127.0.0.1:8332")
	fs.StringVar(&r.user, "rpc-user", "", "RPC user")
	fs.StringVar(&r.pass, "rpc-pass", "", "RPC password")
	fs.StringVar(&r.cookie, "rpc-cookie", "", "RPC cookie file (Bitcoin Core's .cookie)")
}

func (r *rpcFlags) client(env *Env) (*chain.RPCClient, error) {
	return chain.NewRPCClient(chain.RPCConfig{URL: r.url, User: r.user, Pass: r.pass, CookieFile: r.cookie}, env.Log)
}

func init() {
	var blocks string
	var rpc rpcFlags
	var stopAfter, batchKB int
	var allowPartial bool
	var mode, memory string
	register(&command{
		name:    "ingest",
		summary: "index blocks from a Bitcoin Core blocks/ directory or a node's RPC, continuing from the tip",
		usage:   "(--blocks DIR | --rpc URL)",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&blocks, "blocks", "", "Bitcoin Core blocks/ directory (blk*.dat, xor.dat)")
			rpc.register(fs)
			fs.IntVar(&stopAfter, "stop-after", 0, "stop after this many blocks (0: all)")
			fs.IntVar(&batchKB, "batch-kb", 0, "raw block KiB per commit on the block-by-block path (default 16384)")
			fs.StringVar(&mode, "mode", "auto", "auto (bulk build for a large first ingest, block by block otherwise), bulk or blocks")
			fs.BoolVar(&allowPartial, "allow-partial", false, "index a blocks dir whose chain stops at a gap (missing blocks or files) up to the gap instead of failing")
			fs.StringVar(&memory, "memory", "", "bulk build memory budget, e.g. 20GB or 512MiB (default: 60% of RAM or of the cgroup limit)")
		},
		run: func(ctx context.Context, env *Env, g *globals, fs *flag.FlagSet, args []string) error {
			if err := wantArgs(args, 0, "no arguments"); err != nil {
				return err
			}
			if (blocks == "") == (rpc.url == "") {
				return usagef("give exactly one of --blocks DIR or --rpc URL")
			}
			imode, err := index.ParseMode(mode)
			if err != nil {
				return usagef("%v", err)
			}
			var mem int64
			if memory != "" {
				if mem, err = parseSize(memory); err != nil {
					return usagef("--memory: %v", err)
				}
			}
			return g.withNewIndex(env, func(ix *index.Index) error {
				opt := index.IngestOptions{Progress: ingestProgress(env.Stderr, env.Log, "ingest"), StopAfter: stopAfter, BatchBytes: batchKB << 10, AllowPartial: allowPartial,
					Mode: imode, MemoryBytes: mem}
				var p index.Progress
				var err error
				if blocks != "" {
					p, err = ix.IngestBlkDir(ctx, blocks, opt)
				} else {
					c, cerr := rpc.client(env)
					if cerr != nil {
						return cerr
					}
					p, err = ix.IngestRPC(ctx, c, opt)
				}
				st := ix.Status()
				if g.json {
					if jerr := printJSON(env.Stdout, map[string]any{"blocks": p.Blocks, "txs": p.Txs, "bytes": p.Bytes,
						"seconds": p.Elapsed.Seconds(), "tip_height": st.TipHeight, "tip_hash": st.TipHash}); jerr != nil && err == nil {
						err = jerr
					}
				} else {
					fmt.Fprintf(env.Stdout, "ingested %d blocks, %d txs (%.1f MB) in %s; tip %d %s\n", p.Blocks, p.Txs,
						float64(p.Bytes)/1e6, p.Elapsed.Round(time.Millisecond), st.TipHeight, st.TipHash)
				}
				return err
			})
		},
	})
}
