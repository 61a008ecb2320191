package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// blkFiles reads a blocks/ directory back: every block in file order,
// de-obfuscated with xor.dat if present, stopping at the zero padding.
func blkFiles(t *testing.T, dir string) []*wire.MsgBlock {
	t.Helper()
	var key [8]byte
	if k, err := os.ReadFile(filepath.Join(dir, "xor.dat")); err == nil {
		copy(key[:], k)
	}
	names, err := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	magic := chaincfg.RegressionNetParams.Net
	var blocks []*wire.MsgBlock
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+8 <= len(raw); {
			if binary.LittleEndian.Uint64(raw[off:]) == 0 {
				break // preallocation: plain zeros, never obfuscated
			}
			for i := off; i < off+8; i++ {
				raw[i] ^= key[i%8]
			}
			m := binary.LittleEndian.Uint32(raw[off:])
			if m != uint32(magic) {
				t.Fatalf("%s: offset %d: magic %08x", name, off, m)
			}
			n := int(binary.LittleEndian.Uint32(raw[off+4:]))
			for i := off + 8; i < off+8+n; i++ {
				raw[i] ^= key[i%8]
			}
			var b wire.MsgBlock
			if err := b.Deserialize(bytes.NewReader(raw[off+8 : off+8+n])); err != nil {
				t.Fatalf("%s: offset %d: %v", name, off, err)
			}
			blocks = append(blocks, &b)
			off += 8 + n
		}
	}
	return blocks
}

// mainChain orders the blocks of the longest chain from genesis and returns
// the others (stale) apart.
func mainChain(t *testing.T, blocks []*wire.MsgBlock) (main, stale []*wire.MsgBlock) {
	t.Helper()
	byHash := map[chainhash.Hash]*wire.MsgBlock{}
	height := map[chainhash.Hash]int{}
	var tip chainhash.Hash
	for _, b := range blocks {
		h := b.BlockHash()
		byHash[h] = b
		if p, ok := height[b.Header.PrevBlock]; ok {
			height[h] = p + 1
		} else if h == *chaincfg.RegressionNetParams.GenesisHash {
			height[h] = 0
		} else {
			t.Fatalf("block %s comes before its parent %s", h, b.Header.PrevBlock)
		}
		if height[h] > height[tip] || len(main) == 0 && tip == (chainhash.Hash{}) {
			tip = h
		}
	}
	on := map[chainhash.Hash]bool{}
	for h := tip; ; {
		b := byHash[h]
		main = append(main, b)
		on[h] = true
		if height[h] == 0 {
			break
		}
		h = b.Header.PrevBlock
	}
	for i, j := 0, len(main)-1; i < j; i, j = i+1, j-1 {
		main[i], main[j] = main[j], main[i]
	}
	for _, b := range blocks {
		if !on[b.BlockHash()] {
			stale = append(stale, b)
		}
	}
	return main, stale
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dirFiles maps every file under dir (relative name) to its bytes.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sat(v int64) string { return fmt.Sprintf("%d.%08d BTC", v/1e8, v%1e8) }
