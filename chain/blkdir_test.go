package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// hashOf hashes a raw block's header with btcd's own code.
func hashOf(t testing.TB, raw []byte) chainhash.Hash {
	t.Helper()
	var h wire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	return h.BlockHash()
}

func hashesOf(t testing.TB, blocks [][]byte) []chainhash.Hash {
	out := make([]chainhash.Hash, len(blocks))
	for i, b := range blocks {
		out[i] = hashOf(t, b)
	}
	return out
}

// variant returns a copy of raw with another parent, nonce and bits: a
// different header (proof of work is not checked by the reader).
func variant(t testing.TB, raw []byte, prev chainhash.Hash, nonce, bits uint32) []byte {
	b := bytes.Clone(raw)
	copy(b[4:36], prev[:])
	binary.LittleEndian.PutUint32(b[72:76], bits)
	binary.LittleEndian.PutUint32(b[76:80], nonce)
	return b
}

// mined returns a copy of raw on parent prev with timestamp t and the
// regtest limit bits, its nonce ground until the header meets them (half
// of all nonces do): a valid regtest header over a real mainnet body.
func mined(t testing.TB, raw []byte, prev chainhash.Hash, ts uint32) []byte {
	t.Helper()
	b := bytes.Clone(raw)
	copy(b[4:36], prev[:])
	binary.LittleEndian.PutUint32(b[68:72], ts)
	binary.LittleEndian.PutUint32(b[72:76], tRegtest.Params.PowLimitBits)
	for nonce := uint32(0); nonce < 1000; nonce++ {
		binary.LittleEndian.PutUint32(b[76:80], nonce)
		if CheckProofOfWork(chainhash.DoubleHashH(b[:80]), tRegtest.Params.PowLimitBits) == nil {
			return b
		}
	}
	t.Fatal("no nonce meets the regtest limit")
	return nil
}

// minedBranch mines n regtest blocks on parent over the bodies src.
func minedBranch(t testing.TB, src [][]byte, parent chainhash.Hash, n int, ts uint32) [][]byte {
	var out [][]byte
	for i := range n {
		b := mined(t, src[i], parent, ts+uint32(i)*600)
		out = append(out, b)
		parent = hashOf(t, b)
	}
	return out
}

// branch builds n blocks on parent from the real blocks src (headers
// changed, bodies kept).
func branch(t testing.TB, src [][]byte, parent chainhash.Hash, n int, bits uint32) [][]byte {
	var out [][]byte
	for i := range n {
		b := variant(t, src[i], parent, 0xc0ffee00+uint32(i), bits)
		out = append(out, b)
		parent = hashOf(t, b)
	}
	return out
}

func writeBlk(t testing.TB, dir string, opts BlkWriterOptions, blocks ...[][]byte) {
	t.Helper()
	writeBlkNet(t, dir, tMainnet, opts, blocks...)
}

func writeBlkNet(t testing.TB, dir string, net Network, opts BlkWriterOptions, blocks ...[][]byte) {
	t.Helper()
	w, err := NewBlkWriter(dir, net, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range blocks {
		for _, b := range bs {
			if err := w.WriteBlock(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes the concatenation of parts to dir/name.
func writeFile(t testing.TB, dir, name string, parts ...[]byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), bytes.Join(parts, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

func frames(net Network, blocks [][]byte) []byte {
	var out []byte
	for _, b := range blocks {
		out = append(out, frame(net, b)...)
	}
	return out
}

func frameLen(blocks [][]byte) int {
	n := 0
	for _, b := range blocks {
		n += 8 + len(b)
	}
	return n
}

func shuffled(blocks [][]byte, seed uint64) [][]byte {
	out := append([][]byte(nil), blocks...)
	rand.New(rand.NewPCG(seed, 7)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func cat[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestBlkDirRealFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(mainnetFile(t, "blk00000-heights-0-4312.dat"), filepath.Join(dir, "blk00000.dat")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenBlkDir(dir, tMainnet, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	best, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	if len(best) != 4313 || d.OrphanCount() != 0 {
		t.Fatalf("best chain of %d blocks, %d orphans; want 4313, 0", len(best), d.OrphanCount())
	}
	for i, want := range map[int]string{
		0:   "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
		1:   "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
		170: "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
	} {
		if got := best[i].Hash.String(); got != want {
			t.Errorf("height %d: hash %s, want %s", i, got, want)
		}
	}
	for i := 1; i < len(best); i++ {
		if best[i].Prev != best[i-1].Hash {
			t.Fatalf("height %d does not link to %d", i, i-1)
		}
	}
	// Block 170: 2009-01-12 03:30:25 UTC, difficulty 1; the genesis block is
	// 285 bytes, so block 1's frame starts at 8+285.
	if b := best[170]; b.Time != 1231731025 || b.Bits != 0x1d00ffff {
		t.Errorf("block 170: time %d bits %08x", b.Time, b.Bits)
	}
	if got := best[0].String() + " " + best[1].String(); got != "blk00000.dat:0 blk00000.dat:293" {
		t.Errorf("locations %q", got)
	}
	raw, err := d.ReadBlock(best[170])
	if err != nil {
		t.Fatal(err)
	}
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions) != 2 || b.Transactions[1].TxHash().String() != "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16" {
		t.Fatalf("block 170 holds %d txs, second %s", len(b.Transactions), b.Transactions[1].TxHash())
	}
}

// Two real files with overlapping blocks: the second copy of 0..589 is a
// duplicate, not a fork.
func TestBlkDirRealDuplicates(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"blk00000.dat": "blk-heights-0-589.dat",
		"blk00001.dat": "blk00000-heights-0-4312.dat",
	} {
		if err := os.Symlink(mainnetFile(t, src), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := OpenBlkDir(dir, tMainnet, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	best, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	if len(best) != 4313 || d.OrphanCount() != 0 {
		t.Fatalf("best chain of %d blocks, %d orphans; want 4313, 0", len(best), d.OrphanCount())
	}
	if best[589].File != "blk00000.dat" || best[590].File != "blk00001.dat" {
		t.Fatalf("blocks 589, 590 read from %s, %s; want the first copy", best[589], best[590])
	}
}

func TestBlkDirBestChain(t *testing.T) {
	all := earlyBlocks(t)
	blocks := all[:200]
	h := hashesOf(t, blocks)
	spare := all[1000:1100] // bodies for fork blocks
	key := [8]byte{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04}

	// Forks with valid headers cannot be mined at mainnet difficulty in a
	// test: they are regtest chains (valid headers over real bodies).
	regGenesis := func() []byte {
		var buf bytes.Buffer
		if err := tRegtest.Params.GenesisBlock.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}()
	t0 := uint32(tRegtest.Params.GenesisBlock.Header.Timestamp.Unix()) + 600
	reg := cat([][]byte{regGenesis}, minedBranch(t, all[1:200], *tRegtest.Params.GenesisHash, 199, t0))
	rh := hashesOf(t, reg)
	stale := minedBranch(t, spare, rh[149], 11, t0+7)    // 150'..160': loses to 150..199
	longFork := minedBranch(t, spare, rh[189], 15, t0+7) // 190'..204': beats 190..199
	tieFork := minedBranch(t, spare, rh[198], 1, t0+7)   // 199': as much work as 199
	// 3 mainnet blocks claiming 256x the work each, with no proof of it.
	heavyFork := branch(t, spare, h[189], 3, 0x1c00ffff)

	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		want    []chainhash.Hash
		orphans int
		wantErr string // %s is replaced by the directory
		errIs   error  // ErrPartial: the partial chain is checked too
		net     Network
	}{
		{
			name:  "one file in order",
			setup: func(t *testing.T, dir string) { writeBlk(t, dir, BlkWriterOptions{}, blocks) },
			want:  h,
		},
		{
			name: "shuffled blocks across renamed files",
			setup: func(t *testing.T, dir string) {
				writeBlk(t, dir, BlkWriterOptions{MaxFileSize: 2000}, shuffled(blocks, 1))
				renameShuffled(t, dir)
			},
			want: h,
		},
		{
			name: "xor key and zero padding",
			setup: func(t *testing.T, dir string) {
				writeBlk(t, dir, BlkWriterOptions{MaxFileSize: 3000, XORKey: key, PadTo: 4096}, shuffled(blocks, 2))
			},
			want: h,
		},
		{
			name: "all-zero xor.dat",
			setup: func(t *testing.T, dir string) {
				writeBlk(t, dir, BlkWriterOptions{MaxFileSize: 3000}, blocks)
				writeFile(t, dir, "xor.dat", make([]byte, 8))
			},
			want: h,
		},
		{
			name: "short zero padding ends a middle file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:10]), []byte{0, 0})
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[10:]))
			},
			want: h,
		},
		{
			name: "Core-style names and a heights-named file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000-heights-0-99.dat", frames(tMainnet, blocks[:100]))
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[100:]))
				writeFile(t, dir, "rev00000.dat", []byte("not a blk file"))
			},
			want: h,
		},
		{
			name: "shorter stale branch loses even when seen first",
			net:  tRegtest,
			setup: func(t *testing.T, dir string) {
				writeBlkNet(t, dir, tRegtest, BlkWriterOptions{MaxFileSize: 3000}, shuffled(cat(stale, reg), 3))
			},
			want: rh,
		},
		{
			name: "longer fork wins",
			net:  tRegtest,
			setup: func(t *testing.T, dir string) {
				writeBlkNet(t, dir, tRegtest, BlkWriterOptions{MaxFileSize: 3000}, shuffled(cat(reg, longFork), 4))
			},
			want: cat(rh[:190], hashesOf(t, longFork)),
		},
		{
			name: "claimed work without proof of work loses",
			setup: func(t *testing.T, dir string) {
				writeBlk(t, dir, BlkWriterOptions{}, blocks, heavyFork)
			},
			want: h,
		},
		{
			name:  "equal work: main seen first",
			net:   tRegtest,
			setup: func(t *testing.T, dir string) { writeBlkNet(t, dir, tRegtest, BlkWriterOptions{}, reg, tieFork) },
			want:  rh,
		},
		{
			name:  "equal work: fork seen first",
			net:   tRegtest,
			setup: func(t *testing.T, dir string) { writeBlkNet(t, dir, tRegtest, BlkWriterOptions{}, tieFork, reg) },
			want:  cat(rh[:199], hashesOf(t, tieFork)),
		},
		{
			name: "missing block orphans its descendants",
			setup: func(t *testing.T, dir string) {
				writeBlk(t, dir, BlkWriterOptions{}, blocks[:100], blocks[101:])
			},
			want:    h[:100],
			orphans: 1,
			wantErr: fmt.Sprintf("chain: incomplete chain: the chain of %%s stops at height 99 (%s) but 99 blocks of the directory do not connect to it: heights from 100 are missing (the best header is at height 199 or above; first unconnected block blk00000.dat:%d, whose parent %s is not in the directory); pass --allow-partial to index up to height 99",
				h[99], frameLen(blocks[:100]), h[100]),
			errIs: ErrPartial,
		},
		{
			name: "duplicate blocks",
			setup: func(t *testing.T, dir string) {
				writeBlk(t, dir, BlkWriterOptions{MaxFileSize: 3000}, blocks, blocks[50:100], blocks[:1])
			},
			want: h,
		},
		{
			name: "partial frame at the end of the last file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:100]))
				last := frames(tMainnet, blocks[100:])
				writeFile(t, dir, "blk00001.dat", last[:len(last)-10])
			},
			want: h[:199],
		},
		{
			name: "partial frame header at the end of the last file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:100]))
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[100:199]), frame(tMainnet, blocks[199])[:6])
			},
			want: h[:199],
		},
		{
			name: "partial magic at the end of the last file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:100]))
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[100:199]), []byte{0xf9, 0xbe})
			},
			want: h[:199],
		},
		{
			name:    "no genesis block",
			setup:   func(t *testing.T, dir string) { writeBlk(t, dir, BlkWriterOptions{}, blocks[1:]) },
			orphans: 1,
			wantErr: "chain: corrupt data: %s has no mainnet genesis block (000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f)",
			errIs:   ErrCorrupt,
		},
		{
			name:    "regtest genesis in mainnet framing",
			setup:   func(t *testing.T, dir string) { writeBlk(t, dir, BlkWriterOptions{}, [][]byte{regGenesis}) },
			orphans: 1,
			wantErr: "chain: wrong network: %s holds the regtest genesis block, not the mainnet one",
			errIs:   ErrWrongNetwork,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			net := tc.net
			if net.Name == "" {
				net = tMainnet
			}
			d, err := OpenBlkDir(dir, net, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.OrphanCount() != tc.orphans {
				t.Errorf("OrphanCount() = %d, want %d", d.OrphanCount(), tc.orphans)
			}
			best, err := d.BestChain()
			if tc.wantErr != "" {
				if want := fmt.Sprintf(tc.wantErr, dir); err == nil || err.Error() != want || !errors.Is(err, tc.errIs) {
					t.Fatalf("BestChain() error\n got %v\nwant %s", err, want)
				}
				if tc.errIs != ErrPartial {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(best) != len(tc.want) {
				t.Fatalf("best chain of %d blocks, want %d", len(best), len(tc.want))
			}
			for i, loc := range best {
				if loc.Hash != tc.want[i] {
					t.Fatalf("height %d: %s, want %s", i, loc.Hash, tc.want[i])
				}
				if i > 0 && loc.Prev != best[i-1].Hash {
					t.Fatalf("height %d: prev %s, want %s", i, loc.Prev, best[i-1].Hash)
				}
				raw, err := d.ReadBlock(loc)
				if err != nil {
					t.Fatal(err)
				}
				if hashOf(t, raw) != loc.Hash || len(raw) != int(loc.Size) {
					t.Fatalf("ReadBlock(%s) returned another block", loc)
				}
				var b wire.MsgBlock
				if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
					t.Fatalf("ReadBlock(%s): %v", loc, err)
				}
			}
		})
	}
}

// renameShuffled gives the blk files of dir each other's names.
func renameShuffled(t *testing.T, dir string) {
	t.Helper()
	var names []string
	for i := 0; ; i++ {
		n := fmt.Sprintf("blk%05d.dat", i)
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			break
		}
		names = append(names, n)
	}
	perm := rand.New(rand.NewPCG(5, 5)).Perm(len(names))
	for i, n := range names {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(dir, fmt.Sprintf("tmp%d", perm[i]))); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range names {
		if err := os.Rename(filepath.Join(dir, fmt.Sprintf("tmp%d", i)), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenBlkDirErrors(t *testing.T) {
	blocks := earlyBlocks(t)[:20]
	testnetFile := filepath.Join(sharedData(t), "btc", "testnet", "framed-testnet3-685415.dat")
	garbage := []byte("garbage!garbage!")
	tests := []struct {
		name    string
		net     Network
		setup   func(t *testing.T, dir string)
		wantErr string // %s is replaced by the directory
		errIs   error
	}{
		{
			name: "truncated frame in a middle file",
			setup: func(t *testing.T, dir string) {
				f := frames(tMainnet, blocks[:10])
				writeFile(t, dir, "blk00000.dat", f[:len(f)-10])
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[10:]))
			},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: truncated frame: block of %d bytes, %d bytes left in file",
				frameLen(blocks[:9]), len(blocks[9]), len(blocks[9])-10),
			errIs: ErrCorrupt,
		},
		{
			name: "partial frame header in a middle file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:10]), frame(tMainnet, blocks[10])[:6])
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[11:]))
			},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: truncated frame: 6 bytes left, want a frame header", frameLen(blocks[:10])),
			errIs:   ErrCorrupt,
		},
		{
			name: "garbage where a magic should be",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:5]), garbage, frames(tMainnet, blocks[5:10]))
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[10:]))
			},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: no network magic (found 67617262, want mainnet magic f9beb4d9)", frameLen(blocks[:5])),
			errIs:   ErrCorrupt,
		},
		{
			name: "garbage in the last file is not a partial write",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:10]))
				writeFile(t, dir, "blk00001.dat", frames(tMainnet, blocks[10:]), garbage)
			},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00001.dat:%d: no network magic (found 67617262, want mainnet magic f9beb4d9)", frameLen(blocks[10:])),
			errIs:   ErrCorrupt,
		},
		{
			name: "testnet frame among mainnet frames",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:5]), frame(tTestnet, blocks[5]), frames(tMainnet, blocks[6:]))
			},
			wantErr: fmt.Sprintf("chain: wrong network: blk00000.dat:%d: testnet block (magic 0b110907), want mainnet (magic f9beb4d9)", frameLen(blocks[:5])),
			errIs:   ErrWrongNetwork,
		},
		{
			name: "real testnet file",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(testnetFile, filepath.Join(dir, "blk00000.dat")); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "chain: wrong network: blk00000.dat:0: testnet block (magic 0b110907), want mainnet (magic f9beb4d9)",
			errIs:   ErrWrongNetwork,
		},
		{
			name:    "mainnet files opened as regtest",
			net:     tRegtest,
			setup:   func(t *testing.T, dir string) { writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks)) },
			wantErr: "chain: wrong network: blk00000.dat:0: mainnet block (magic f9beb4d9), want regtest (magic fabfb5da)",
			errIs:   ErrWrongNetwork,
		},
		{
			name: "xor.dat of the wrong size",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks))
				writeFile(t, dir, "xor.dat", []byte{1, 2, 3, 4, 5})
			},
			wantErr: "chain: corrupt data: xor.dat has 5 bytes, want 8",
			errIs:   ErrCorrupt,
		},
		{
			name: "frame shorter than a header",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks[:3]), frame(tMainnet, make([]byte, 10)))
			},
			wantErr: fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: frame length 10 out of range [80, 33554432]", frameLen(blocks[:3])),
			errIs:   ErrCorrupt,
		},
		{
			name: "huge frame length",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "blk00000.dat", []byte{0xf9, 0xbe, 0xb4, 0xd9, 0xff, 0xff, 0xff, 0xff}, make([]byte, 100))
			},
			wantErr: "chain: corrupt data: blk00000.dat:0: frame length 4294967295 out of range [80, 33554432]",
			errIs:   ErrCorrupt,
		},
		{
			name:    "no blk files",
			setup:   func(t *testing.T, dir string) { writeFile(t, dir, "rev00000.dat", []byte{1}) },
			wantErr: "chain: bad input: no blk*.dat files in %s",
			errIs:   ErrBadInput,
		},
		{
			name:    "no such directory",
			setup:   func(t *testing.T, dir string) { os.Remove(dir) },
			wantErr: "chain: bad input: blocks dir: open %s: no such file or directory",
			errIs:   ErrBadInput,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			net := tc.net
			if net.Name == "" {
				net = tMainnet
			}
			d, err := OpenBlkDir(dir, net, quietLog())
			want := tc.wantErr
			if bytes.Contains([]byte(want), []byte("%s")) {
				want = fmt.Sprintf(want, dir)
			}
			if err == nil {
				d.Close()
				t.Fatalf("OpenBlkDir succeeded, want %q", want)
			}
			if err.Error() != want || !errors.Is(err, tc.errIs) {
				t.Fatalf("OpenBlkDir error\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestReadBlockConcurrent(t *testing.T) {
	blocks := earlyBlocks(t)[:3*maxOpenFiles]
	dir := t.TempDir()
	// One block per file, more files than stay open.
	writeBlk(t, dir, BlkWriterOptions{MaxFileSize: 1, XORKey: [8]byte{7, 6, 5, 4, 3, 2, 1, 0}}, blocks)
	d, err := OpenBlkDir(dir, tMainnet, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	best, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	if len(best) != len(blocks) {
		t.Fatalf("best chain of %d blocks, want %d", len(best), len(blocks))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range best {
				i = (i + g*len(best)/4) % len(best)
				raw, err := d.ReadBlock(best[i])
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(raw, blocks[i]) {
					errs <- fmt.Errorf("block %d differs", i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(d.open); n > maxOpenFiles {
		t.Fatalf("%d files open, limit %d", n, maxOpenFiles)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadBlock(best[0]); err == nil || err.Error() != "chain: bad input: blocks dir "+dir+" is closed" {
		t.Fatalf("ReadBlock after Close: %v", err)
	}
}

func TestReadBlockErrors(t *testing.T) {
	blocks := earlyBlocks(t)[:10]
	dir := t.TempDir()
	writeFile(t, dir, "blk00000.dat", frames(tMainnet, blocks))
	d, err := OpenBlkDir(dir, tMainnet, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	best, err := d.BestChain()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "blk00000.dat")
	frame8 := frameLen(blocks[:8])
	frame9 := frameLen(blocks[:9])

	// Change block 8's nonce on disk.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, int64(frame8+8+76)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(path, int64(frame9+8+100)); err != nil {
		t.Fatal(err)
	}
	changed := variant(t, blocks[8], best[8].Prev, binary.LittleEndian.Uint32(blocks[8][76:])&^0xff|0xff, best[8].Bits)

	tests := []struct {
		name    string
		loc     BlockLoc
		wantErr string
		errIs   error
	}{
		{"changed on disk", best[8],
			fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: block hash %s, want %s (file changed since it was scanned?)", frame8, hashOf(t, changed), best[8].Hash),
			ErrCorrupt},
		{"truncated on disk", best[9],
			fmt.Sprintf("chain: corrupt data: blk00000.dat:%d: short read: 100 of %d bytes (file truncated since it was scanned?)", frame9, len(blocks[9])),
			ErrCorrupt},
		{"unknown file", BlockLoc{File: "blk09999.dat", Offset: 8, Size: 100},
			"chain: bad input: blk09999.dat:0: no such blk file in " + dir, ErrBadInput},
		{"bad size", BlockLoc{File: "blk00000.dat", Offset: 8, Size: 79},
			"chain: bad input: blk00000.dat:0: block size 79 out of range", ErrBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.ReadBlock(tc.loc)
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.errIs) {
				t.Fatalf("ReadBlock error\n got %v\nwant %s", err, tc.wantErr)
			}
		})
	}
	if _, err := d.ReadBlock(best[7]); err != nil {
		t.Fatalf("untouched block 7: %v", err)
	}
}

func TestBlockWork(t *testing.T) {
	// Chain work as Bitcoin Core reports it: mainnet genesis 0x100010001,
	// regtest genesis 2.
	tests := []struct {
		bits uint32
		want uint256
	}{
		{0x1d00ffff, uint256{0x100010001}},
		{0x207fffff, uint256{2}},
		{0x1c00ffff, uint256{0x10001000100}}, // 256x difficulty 1, rounded down
		{0, uint256{}},
		{0x04923456, uint256{}},                 // negative
		{0xff123456, uint256{}},                 // overflow
		{0x01003456, uint256{}},                 // target rounds to zero
		{0x01010000, uint256{0, 0, 0, 1 << 63}}, // target 1: 2^255
	}
	for _, tc := range tests {
		if got := blockWork(tc.bits); got != tc.want {
			t.Errorf("blockWork(%08x) = %x, want %x", tc.bits, got, tc.want)
		}
	}
	max := uint256{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	if got := max.add(uint256{1}); got != max {
		t.Errorf("saturating add = %x", got)
	}
	if got := (uint256{^uint64(0), 5}).add(uint256{1, 1}); got != (uint256{0, 7}) {
		t.Errorf("carry: %x", got)
	}
	if (uint256{0, 1}).cmp(uint256{^uint64(0)}) != 1 || (uint256{3}).cmp(uint256{3}) != 0 || (uint256{2}).cmp(uint256{0, 0, 1}) != -1 {
		t.Error("cmp")
	}
}
