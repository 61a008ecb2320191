package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/cointrail/cointrail/chain"
	"github.com/cointrail/cointrail/internal/shareddata"
)

// realFrame is one frame of the shared 4,313-block file.
type realFrame struct {
	off  int // of the magic
	size int // of the block
}

func realChain(t testing.TB) ([]byte, []realFrame) {
	t.Helper()
	data, err := os.ReadFile(shareddata.Path(t, "btc", "mainnet", "blk00000-heights-0-4312.dat"))
	if err != nil {
		t.Fatal(err)
	}
	var fr []realFrame
	for off := 0; off < len(data); {
		n := int(binary.LittleEndian.Uint32(data[off+4:]))
		fr = append(fr, realFrame{off, n})
		off += 8 + n
	}
	if len(fr) != 4313 {
		t.Fatalf("%d frames", len(fr))
	}
	return data, fr
}

func (f realFrame) block(data []byte) []byte { return data[f.off+8 : f.off+8+f.size] }

func hdrHash(raw []byte) chainhash.Hash { return chainhash.DoubleHashH(raw[:80]) }

func decodeMsg(t testing.TB, raw []byte) *wire.MsgBlock {
	t.Helper()
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	return &mb
}

func serialize(t testing.TB, mb *wire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := mb.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func framed(raw []byte) []byte {
	out := []byte{0xf9, 0xbe, 0xb4, 0xd9}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(raw)))
	return append(out, raw...)
}

// logBuf collects log lines of any level.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestIngestValidation damages the real mainnet chain in the header, the
// body and the frame, forges blocks beside it, cuts gaps in it, and checks
// the one error line, the tip left behind (never past the last good
// block), the warnings, and that accepted variants index exactly what the
// clean files do.
func TestIngestValidation(t *testing.T) {
	data, fr := realChain(t)
	clean := openTemp(t, t.TempDir())
	ingestMainnet(t, clean, IngestOptions{})
	cleanDigest, err := clean.Digest()
	if err != nil {
		t.Fatal(err)
	}
	hashAt := func(h int) chainhash.Hash { return hdrHash(fr[h].block(data)) }
	mutate := func(f func(b []byte)) []byte { b := bytes.Clone(data); f(b); return b }

	// A body byte: the last byte of block 1000's coinbase output script
	// (its CHECKSIG), so the block still decodes.
	body := mutate(func(b []byte) { b[fr[1000].off+8+fr[1000].size-5] ^= 0x01 })
	bodyMerkle := blockchain.CalcMerkleRoot(btcutil.NewBlock(decodeMsg(t, fr[1000].block(body))).Transactions(), false)

	// A header byte: the merkle root field of block 1000.
	hdr := mutate(func(b []byte) { b[fr[1000].off+8+40] ^= 0x01 })
	hdrHash1000 := hdrHash(fr[1000].block(hdr))

	// CVE-2012-2459: block with an odd number (≥ 3) of transactions, its last
	// one repeated: same merkle root, same block hash.
	mut := -1
	for h := range fr {
		if n := len(decodeMsg(t, fr[h].block(data)).Transactions); n >= 3 && n%2 == 1 {
			mut = h
			break
		}
	}
	if mut < 0 {
		t.Fatal("no block with an odd number of transactions ≥ 3")
	}
	mb := decodeMsg(t, fr[mut].block(data))
	mb.Transactions = append(mb.Transactions, mb.Transactions[len(mb.Transactions)-1])
	mutated := cat(data[:fr[mut].off], framed(serialize(t, mb)), data[fr[mut+1].off:])

	// A frame 16 bytes longer than its block (block 2000).
	long := cat(data[:fr[2000].off+4], binary.LittleEndian.AppendUint32(nil, uint32(fr[2000].size+16)),
		fr[2000].block(data), make([]byte, 16), data[fr[2001].off:])

	// A forged block on genesis claiming the most work there is (target 1),
	// with no proof of it: a fresh index used to get genesis plus it.
	forged := bytes.Clone(fr[1].block(data))
	binary.LittleEndian.PutUint32(forged[72:76], 0x01010000) // target 1
	forgedHash := hdrHash(forged)

	// A gap: block 3000 missing.
	gap := cat(data[:fr[3000].off], data[fr[3001].off:])

	// A partial last block followed by zero padding: 50 bytes of block 4312
	// (its header cut inside the merkle root), then zeros to 4 KiB.
	partial := cat(data[:fr[4312].off], data[fr[4312].off:fr[4312].off+8+50], make([]byte, 4096))
	partialHash := chainhash.DoubleHashH(cat(fr[4312].block(data)[:50], make([]byte, 30)))

	tests := []struct {
		name    string
		files   map[string][]byte
		opt     IngestOptions
		wantErr string // %s: the blocks dir
		errIs   error
		tip     int // -1: empty
		digest  bool
		warn    []string // substrings of the log
	}{
		{
			name:    "body byte flipped",
			files:   map[string][]byte{"blk00000.dat": body},
			wantErr: fmt.Sprintf("index: corrupt data: blk00000.dat:%d: block %s: merkle root: the transactions hash to %s, the header says %s", fr[1000].off, hashAt(1000), bodyMerkle, decodeMsg(t, fr[1000].block(data)).Header.MerkleRoot),
			errIs:   chain.ErrCorrupt,
			tip:     999,
		},
		{
			name:  "header byte flipped",
			files: map[string][]byte{"blk00000.dat": hdr},
			wantErr: fmt.Sprintf("chain: incomplete chain: blk00000.dat:%d: block %s: proof of work: hash %s is above the target of its bits 1d00ffff; the chain of %%s stops at height 999 (%s) but 3312 blocks of the directory do not connect to it: heights from 1000 are missing (the best header is at height 4312 or above; first unconnected block blk00000.dat:%d, whose parent %s is not in the directory); pass --allow-partial to index up to height 999",
				fr[1000].off, hdrHash1000, hdrHash1000, hashAt(999), fr[1001].off, hashAt(1000)),
			errIs: chain.ErrPartial,
			tip:   -1,
		},
		{
			name:  "header byte flipped, --allow-partial",
			files: map[string][]byte{"blk00000.dat": hdr},
			opt:   IngestOptions{AllowPartial: true},
			tip:   999,
			warn:  []string{"ingesting a partial chain", "heights from 1000 are missing"},
		},
		{
			name:    "duplicated transaction keeping the merkle root",
			files:   map[string][]byte{"blk00000.dat": mutated},
			wantErr: fmt.Sprintf("index: corrupt data: blk00000.dat:%d: block %s: merkle mutation: the merkle tree repeats a transaction (CVE-2012-2459)", fr[mut].off, hashAt(mut)),
			errIs:   ErrCorrupt,
			tip:     mut - 1,
		},
		{
			name:    "frame magic byte flipped",
			files:   map[string][]byte{"blk00000.dat": mutate(func(b []byte) { b[fr[2000].off+3] ^= 0x01 })},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: no network magic (found f9beb4d8, want mainnet magic f9beb4d9)", fr[2000].off),
			errIs:   chain.ErrCorrupt,
			tip:     -1,
		},
		{
			name:    "frame length one byte short",
			files:   map[string][]byte{"blk00000.dat": mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[fr[2000].off+4:], uint32(fr[2000].size-1)) })},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: no network magic (found 00f9beb4, want mainnet magic f9beb4d9)", fr[2001].off-1),
			errIs:   chain.ErrCorrupt,
			tip:     -1,
		},
		{
			name:   "frame longer than its block",
			files:  map[string][]byte{"blk00000.dat": long},
			tip:    4312,
			digest: true,
			warn:   []string{fmt.Sprintf(`level=WARN msg="block frame is longer than the block; the extra bytes are ignored" at=blk00000.dat:%d block=%s block_bytes=%d extra_bytes=16`, fr[2000].off, hashAt(2000), fr[2000].size)},
		},
		{
			name:   "forged block beside the real ones",
			files:  map[string][]byte{"blk00000.dat": data, "blk00001.dat": framed(forged)},
			tip:    4312,
			digest: true,
			warn:   []string{fmt.Sprintf(`at=blk00001.dat:0 hash=%s rule="proof of work: hash %s is above the target of its bits 01010000"`, forgedHash, forgedHash)},
		},
		{
			name:  "gap",
			files: map[string][]byte{"blk00000.dat": gap},
			wantErr: fmt.Sprintf("chain: incomplete chain: the chain of %%s stops at height 2999 (%s) but 1312 blocks of the directory do not connect to it: heights from 3000 are missing (the best header is at height 4312 or above; first unconnected block blk00000.dat:%d, whose parent %s is not in the directory); pass --allow-partial to index up to height 2999",
				hashAt(2999), fr[3000].off, hashAt(3000)),
			errIs: chain.ErrPartial,
			tip:   -1,
		},
		{
			name:  "missing file",
			files: map[string][]byte{"blk00000.dat": data[:fr[3000].off], "blk00002.dat": data[fr[3500].off:]},
			wantErr: fmt.Sprintf("chain: incomplete chain: the chain of %%s stops at height 2999 (%s) but 813 blocks of the directory do not connect to it: heights from 3000 are missing (the best header is at height 3813 or above; first unconnected block blk00002.dat:0, whose parent %s is not in the directory); pass --allow-partial to index up to height 2999",
				hashAt(2999), hashAt(3499)),
			errIs: chain.ErrPartial,
			tip:   -1,
		},
		{
			name:  "gap, --allow-partial",
			files: map[string][]byte{"blk00000.dat": gap},
			opt:   IngestOptions{AllowPartial: true},
			tip:   2999,
		},
		{
			name:  "partial last block followed by zero padding",
			files: map[string][]byte{"blk00000.dat": partial},
			tip:   4311,
			warn:  []string{fmt.Sprintf(`at=blk00000.dat:%d hash=%s rule="proof of work: bits 00000000 encode no positive target"`, fr[4312].off, partialHash)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var logs logBuf
			ix, err := Open(t.TempDir(), mainnet(t), Options{}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			_, err = ix.IngestBlkDir(context.Background(), dir, tc.opt)
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "%s", dir)
				if err == nil || err.Error() != want || !errors.Is(err, tc.errIs) {
					t.Fatalf("IngestBlkDir error\n got %v\nwant %s", err, want)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			tip := ix.Tip()
			got := int(tip.Height)
			if tip.Empty {
				got = -1
			}
			if got != tc.tip {
				t.Fatalf("tip %d, want %d", got, tc.tip)
			}
			if got >= 0 {
				if tip.Hash != hashAt(got) {
					t.Fatalf("tip %s, want the real block %s", tip.Hash, hashAt(got))
				}
				if _, err := ix.Verify(context.Background()); err != nil {
					t.Fatalf("verify: %v", err)
				}
			}
			if tc.digest {
				if d, err := ix.Digest(); err != nil || d != cleanDigest {
					t.Fatalf("digest %s (%v), a build from the clean file gives %s", d, err, cleanDigest)
				}
			}
			for _, w := range tc.warn {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
