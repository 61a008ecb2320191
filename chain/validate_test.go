package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// realBlocks decodes every real mainnet block of the shared data except
// the long chains (a sample of those).
func realBlocks(t *testing.T) map[string]*wire.MsgBlock {
	t.Helper()
	out := map[string]*wire.MsgBlock{}
	names, err := filepath.Glob(mainnetFile(t, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range names {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "raw-tx") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(data, tMainnet)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		for i, b := range d.Blocks {
			if len(d.Blocks) > 10 && i%97 != 0 {
				continue
			}
			out[fmt.Sprintf("%s#%d", base, i)] = b
		}
	}
	return out
}

func hasWitness(mb *wire.MsgBlock) bool {
	for _, tx := range mb.Transactions {
		if tx.HasWitness() {
			return true
		}
	}
	return false
}

func txids(mb *wire.MsgBlock) []chainhash.Hash {
	out := make([]chainhash.Hash, len(mb.Transactions))
	for i, tx := range mb.Transactions {
		out[i] = tx.TxHash()
	}
	return out
}

func TestValidRealBlocks(t *testing.T) {
	segwit := 0
	for name, mb := range realBlocks(t) {
		if err := CheckProofOfWork(mb.BlockHash(), mb.Header.Bits); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := CheckPowLimit(mb.Header.Bits, tMainnet); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := CheckBody(mb, txids(mb), nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Our merkle root against btcd's.
		blk := btcutil.NewBlock(mb)
		for _, witness := range []bool{false, true} {
			ids := make([]chainhash.Hash, len(mb.Transactions))
			for i, tx := range mb.Transactions {
				ids[i] = tx.TxHash()
				if witness {
					ids[i] = tx.WitnessHash()
				}
			}
			if witness {
				ids[0] = chainhash.Hash{}
			}
			got, _ := MerkleRoot(ids)
			if want := blockchain.CalcMerkleRoot(blk.Transactions(), witness); got != want {
				t.Errorf("%s: MerkleRoot(witness=%v) = %s, btcd says %s", name, witness, got, want)
			}
		}
		if err := blockchain.ValidateWitnessCommitment(blk); err != nil {
			t.Errorf("%s: btcd: %v", name, err)
		}
		if _, ok := blockchain.ExtractWitnessCommitment(btcutil.NewTx(mb.Transactions[0])); ok && hasWitness(mb) {
			segwit++
		}
	}
	if segwit < 3 {
		t.Fatalf("only %d segwit blocks with a commitment in the shared data", segwit)
	}
}

// segwitBlock is the real block 482300 (SegWit, with a commitment).
func segwitBlock(t *testing.T) *wire.MsgBlock {
	t.Helper()
	data, err := os.ReadFile(mainnetFile(t, "framed-482300.dat"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(data, tMainnet)
	if err != nil || len(d.Blocks) != 1 {
		t.Fatalf("framed-482300.dat: %v", err)
	}
	return d.Blocks[0]
}

func TestCheckBodyRules(t *testing.T) {
	clone := func(t *testing.T) *wire.MsgBlock {
		mb := segwitBlock(t)
		var buf bytes.Buffer
		if err := mb.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		var c wire.MsgBlock
		if err := c.Deserialize(&buf); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	firstSegwit := func(mb *wire.MsgBlock) int {
		for i, tx := range mb.Transactions {
			if i > 0 && tx.HasWitness() {
				return i
			}
		}
		t.Fatal("no segwit transaction")
		return 0
	}
	orig := segwitBlock(t)
	commitment, _ := blockchain.ExtractWitnessCommitment(btcutil.NewTx(orig.Transactions[0]))
	sw := firstSegwit(orig)

	tests := []struct {
		name   string
		mutate func(mb *wire.MsgBlock) string // returns the expected error
	}{
		{"a witness byte flipped", func(mb *wire.MsgBlock) string {
			w := mb.Transactions[sw].TxIn[0].Witness
			w[len(w)-1][0] ^= 1
			root := blockchain.CalcMerkleRoot(btcutil.NewBlock(mb).Transactions(), true)
			pre := append(root[:], mb.Transactions[0].TxIn[0].Witness[0]...)
			return fmt.Sprintf("witness commitment: the witness data hashes to %x, the coinbase commits to %x", chainhash.DoubleHashB(pre), commitment)
		}},
		{"no commitment but witness data", func(mb *wire.MsgBlock) string {
			cb := mb.Transactions[0]
			var keep []*wire.TxOut
			for _, o := range cb.TxOut {
				if !bytes.HasPrefix(o.PkScript, blockchain.WitnessMagicBytes) {
					keep = append(keep, o)
				}
			}
			cb.TxOut = keep
			cb.TxIn[0].Witness = nil
			ids := txids(mb)
			root, _ := MerkleRoot(append([]chainhash.Hash(nil), ids...))
			mb.Header.MerkleRoot = root
			return fmt.Sprintf("witness commitment: transaction %d (%s) has witness data but the coinbase commits to none", sw, ids[sw])
		}},
		{"coinbase nonce missing", func(mb *wire.MsgBlock) string {
			mb.Transactions[0].TxIn[0].Witness = nil
			return "witness commitment: the coinbase witness must be one 32-byte nonce"
		}},
		{"a transaction swapped", func(mb *wire.MsgBlock) string {
			mb.Transactions[1], mb.Transactions[2] = mb.Transactions[2], mb.Transactions[1]
			root := blockchain.CalcMerkleRoot(btcutil.NewBlock(mb).Transactions(), false)
			return fmt.Sprintf("merkle root: the transactions hash to %s, the header says %s", root, mb.Header.MerkleRoot)
		}},
		{"coinbase not first", func(mb *wire.MsgBlock) string {
			mb.Transactions[0], mb.Transactions[1] = mb.Transactions[1], mb.Transactions[0]
			return fmt.Sprintf("coinbase: first transaction %s is not a coinbase", mb.Transactions[0].TxHash())
		}},
		{"second coinbase", func(mb *wire.MsgBlock) string {
			mb.Transactions = append(mb.Transactions, mb.Transactions[0])
			return fmt.Sprintf("coinbase: transaction %d (%s) is a second coinbase", len(mb.Transactions)-1, mb.Transactions[0].TxHash())
		}},
		{"no transactions", func(mb *wire.MsgBlock) string {
			mb.Transactions = nil
			return "coinbase: block has no transactions"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mb := clone(t)
			want := tc.mutate(mb)
			err := CheckBody(mb, txids(mb), nil)
			var ie *InvalidBlockError
			if err == nil || err.Error() != want || !errors.Is(err, ErrCorrupt) || !errors.As(err, &ie) {
				t.Fatalf("CheckBody error\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestCheckProofOfWork(t *testing.T) {
	genesis := tMainnet.Params.GenesisBlock.Header
	h := genesis.BlockHash()
	tests := []struct {
		name string
		hash chainhash.Hash
		bits uint32
		want string
	}{
		{"genesis", h, genesis.Bits, ""},
		{"a harder target than the hash meets", h, 0x1b00ffff, fmt.Sprintf("proof of work: hash %s is above the target of its bits 1b00ffff", h)},
		{"zero target", h, 0x1d000000, "proof of work: bits 1d000000 encode no positive target"},
		{"negative target", h, 0x1d800001, "proof of work: bits 1d800001 encode no positive target"},
	}
	for _, tc := range tests {
		err := CheckProofOfWork(tc.hash, tc.bits)
		if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := CheckPowLimit(0x207fffff, tMainnet); err == nil || err.Error() != "pow limit: bits 207fffff are easier than the mainnet limit 1d00ffff" {
		t.Errorf("CheckPowLimit: %v", err)
	}
}

func TestRequiredBits(t *testing.T) {
	mp, tp := tMainnet.Params, tTestnet.Params
	const day = 24 * 3600
	twoWeeks := uint32(mp.TargetTimespan.Seconds())
	scaled := func(bits uint32, num, den int64) uint32 {
		n := blockchain.CompactToBig(bits)
		n.Mul(n, big.NewInt(num)).Div(n, big.NewInt(den))
		return blockchain.BigToCompact(n)
	}
	hard := uint32(0x1b0404cb) // a 2010 mainnet difficulty
	tests := []struct {
		name string
		net  Network
		s    HeaderState
		t    uint32
		want uint32
	}{
		{"mainnet inside a period keeps the bits", tMainnet, HeaderState{Height: 100, Bits: hard, Time: 1000, PeriodStart: 0}, 999999, hard},
		{"mainnet retarget: twice as fast halves the target", tMainnet, HeaderState{Height: 4031, Bits: hard, Time: 1e6 + twoWeeks/2, PeriodStart: 1e6}, 0, scaled(hard, 1, 2)},
		{"mainnet retarget: at most a factor 4 harder", tMainnet, HeaderState{Height: 4031, Bits: hard, Time: 1e6 + 60, PeriodStart: 1e6}, 0, scaled(hard, 1, 4)},
		{"mainnet retarget: at most a factor 4 easier", tMainnet, HeaderState{Height: 4031, Bits: hard, Time: 1e6 + 100*day, PeriodStart: 1e6}, 0, scaled(hard, 4, 1)},
		{"mainnet retarget: never easier than the limit", tMainnet, HeaderState{Height: 2015, Bits: mp.PowLimitBits, Time: 1e6 + 3*twoWeeks, PeriodStart: 1e6}, 0, mp.PowLimitBits},
		{"testnet: 20 minutes after the parent allows the limit", tTestnet, HeaderState{Height: 100, Bits: hard, Time: 1000, LastRealBits: hard}, 1000 + 1201, tp.PowLimitBits},
		{"testnet: within 20 minutes the real difficulty", tTestnet, HeaderState{Height: 100, Bits: hard, Time: 1000, LastRealBits: hard}, 1000 + 1200, hard},
		{"testnet: after a minimum-difficulty block the last real one", tTestnet, HeaderState{Height: 100, Bits: tp.PowLimitBits, Time: 1000, LastRealBits: hard}, 1001, hard},
		{"regtest never retargets", tRegtest, HeaderState{Height: 2015, Bits: 0x207fffff, Time: 5, PeriodStart: 1}, 6, 0x207fffff},
	}
	for _, tc := range tests {
		if got := RequiredBits(tc.net.Params, tc.s, tc.t); got != tc.want {
			t.Errorf("%s: RequiredBits = %08x, want %08x", tc.name, got, tc.want)
		}
	}
	// Advance keeps what the testnet rule walks back for.
	s := HeaderState{Height: 100, Bits: hard, LastRealBits: hard}
	s = s.Advance(tp, chainhash.Hash{1}, tp.PowLimitBits, 5000)
	if s.LastRealBits != hard || s.Height != 101 {
		t.Errorf("after a minimum-difficulty block: %+v", s)
	}
	s = HeaderState{Height: 2015, Bits: tp.PowLimitBits, LastRealBits: hard}.Advance(tp, chainhash.Hash{2}, tp.PowLimitBits, 7000)
	if s.LastRealBits != tp.PowLimitBits || s.PeriodStart != 7000 {
		t.Errorf("at a retarget height: %+v", s)
	}
}

// TestCheckContextRealBlocks checks the real blocks 482253 and 482254 (one
// period, SegWit era) and a checkpoint.
func TestCheckContextRealBlocks(t *testing.T) {
	data, err := os.ReadFile(mainnetFile(t, "framed-482253-and-next.dat"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(data, tMainnet)
	if err != nil || len(d.Blocks) != 2 {
		t.Fatalf("framed-482253-and-next.dat: %v", err)
	}
	a, b := d.Blocks[0].Header, d.Blocks[1].Header
	s := HeaderState{Height: 482253, Hash: a.BlockHash(), Bits: a.Bits, Time: uint32(a.Timestamp.Unix()), LastRealBits: a.Bits}
	if err := CheckContext(tMainnet, s, b.BlockHash(), b.Bits, uint32(b.Timestamp.Unix())); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("difficulty: bits %08x at height 482254, the mainnet rules require %08x", b.Bits+1, b.Bits)
	if err := CheckContext(tMainnet, s, b.BlockHash(), b.Bits+1, uint32(b.Timestamp.Unix())); err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	cp := tMainnet.Params.Checkpoints[0]
	s = HeaderState{Height: int64(cp.Height) - 1, Bits: tMainnet.Params.PowLimitBits, LastRealBits: tMainnet.Params.PowLimitBits}
	want = fmt.Sprintf("checkpoint: block %s at height %d, the mainnet checkpoint is %s", b.BlockHash(), cp.Height, cp.Hash)
	if err := CheckContext(tMainnet, s, b.BlockHash(), tMainnet.Params.PowLimitBits, 0); err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// TestBlkDirDifficultyRule: a regtest block whose own proof of work is
// fine but whose bits are not the ones regtest requires is left out with
// its descendants, and the gap it leaves is the one error, naming it.
func TestBlkDirDifficultyRule(t *testing.T) {
	all := earlyBlocks(t)
	var buf bytes.Buffer
	if err := tRegtest.Params.GenesisBlock.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	t0 := uint32(tRegtest.Params.GenesisBlock.Header.Timestamp.Unix()) + 600
	good := cat([][]byte{buf.Bytes()}, minedBranch(t, all[1:5], *tRegtest.Params.GenesisHash, 4, t0))
	// Height 5 at bits 2000ffff: 1 hash in 256 meets them.
	bad := bytes.Clone(all[5])
	prev := hashOf(t, good[4])
	copy(bad[4:36], prev[:])
	binary.LittleEndian.PutUint32(bad[68:72], t0+5*600)
	binary.LittleEndian.PutUint32(bad[72:76], 0x2000ffff)
	for nonce := uint32(0); ; nonce++ {
		binary.LittleEndian.PutUint32(bad[76:80], nonce)
		if CheckProofOfWork(chainhash.DoubleHashH(bad[:80]), 0x2000ffff) == nil {
			break
		}
	}
	badHash := hashOf(t, bad)
	after := minedBranch(t, all[6:10], badHash, 4, t0+6*600)
	dir := t.TempDir()
	writeBlkNet(t, dir, tRegtest, BlkWriterOptions{}, good, [][]byte{bad}, after)
	d, err := OpenBlkDir(dir, tRegtest, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	best, err := d.BestChain()
	want := fmt.Sprintf("chain: incomplete chain: blk00000.dat:%d: block %s: difficulty: bits 2000ffff at height 5, the regtest rules require 207fffff; the chain of %s stops at height 4 (%s) but 4 blocks of the directory do not connect to it; pass --allow-partial to index up to height 4",
		frameLen(good), badHash, dir, prev)
	if err == nil || err.Error() != want || !errors.Is(err, ErrPartial) {
		t.Fatalf("BestChain error\n got %v\nwant %s", err, want)
	}
	if len(best) != 5 || best[4].Hash != prev {
		t.Fatalf("best chain of %d blocks", len(best))
	}
}
