package chain

import (
	"bytes"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Rule names a validation rule a block can fail; it starts every
// validation message so that users (and docs/validation.md) can tell them
// apart.
type Rule string

const (
	RuleProofOfWork       Rule = "proof of work"      // header hash above the target of its own bits
	RulePowLimit          Rule = "pow limit"          // target above the network's limit
	RuleDifficulty        Rule = "difficulty"         // bits differ from what the retarget rules require
	RuleCheckpoint        Rule = "checkpoint"         // hash differs from the network's checkpoint at that height
	RuleMerkleRoot        Rule = "merkle root"        // transactions do not hash to the header's root
	RuleMerkleMutation    Rule = "merkle mutation"    // duplicated transactions that keep the root (CVE-2012-2459)
	RuleWitnessCommitment Rule = "witness commitment" // coinbase commitment does not match the witness data
	RuleCoinbase          Rule = "coinbase"           // no transactions, or the coinbase not first / not alone
)

// InvalidBlockError is a block that decodes but breaks a consensus rule
// cointrail checks. It wraps ErrCorrupt: to the index a forged or damaged
// block is corrupt data, never something to store.
type InvalidBlockError struct {
	Rule   Rule
	Detail string
}

func (e *InvalidBlockError) Error() string { return string(e.Rule) + ": " + e.Detail }
func (e *InvalidBlockError) Unwrap() error { return ErrCorrupt }

func invalid(r Rule, format string, args ...any) error {
	return &InvalidBlockError{Rule: r, Detail: fmt.Sprintf(format, args...)}
}

// CheckProofOfWork checks that hash (the header's) is at most the target its
// bits encode, and that the target is positive. Both are context free: they
// only need the header, so a forged header fails without looking at any
// other block.
func CheckProofOfWork(hash chainhash.Hash, bits uint32) error {
	target := blockchain.CompactToBig(bits)
	if target.Sign() <= 0 {
		return invalid(RuleProofOfWork, "bits %08x encode no positive target", bits)
	}
	if blockchain.HashToBig(&hash).Cmp(target) > 0 {
		return invalid(RuleProofOfWork, "hash %s is above the target of its bits %08x", hash, bits)
	}
	return nil
}

// CheckPowLimit checks that bits encode a target no easier than the
// network's proof-of-work limit.
func CheckPowLimit(bits uint32, net Network) error {
	if blockchain.CompactToBig(bits).Cmp(net.Params.PowLimit) > 0 {
		return invalid(RulePowLimit, "bits %08x are easier than the %s limit %08x", bits, net.Name, net.Params.PowLimitBits)
	}
	return nil
}

// MerkleRoot is the merkle root of hashes (txids or wtxids, in block order)
// and whether the tree is mutated: two equal sibling hashes somewhere, which
// lets a block with duplicated transactions share the root (and so the
// hash) of the real block (CVE-2012-2459, Bitcoin Core's BlockMerkleRoot).
// hashes is overwritten.
func MerkleRoot(hashes []chainhash.Hash) (chainhash.Hash, bool) {
	if len(hashes) == 0 {
		return chainhash.Hash{}, false
	}
	mutated := false
	level := hashes
	for len(level) > 1 {
		for i := 0; i+1 < len(level); i += 2 {
			if level[i] == level[i+1] {
				mutated = true
			}
		}
		n := 0
		var pair [2 * chainhash.HashSize]byte
		for i := 0; i < len(level); i += 2 {
			j := min(i+1, len(level)-1) // an odd last hash pairs with itself
			// blockchain.HashMerkleBranches, without its per-call allocations.
			copy(pair[:], level[i][:])
			copy(pair[chainhash.HashSize:], level[j][:])
			level[n] = chainhash.DoubleHashH(pair[:])
			n++
		}
		level = level[:n]
	}
	return level[0], mutated
}

// CheckBody checks what binds a block's transactions to its header: the
// coinbase comes first and alone, the merkle root of txids (given in block
// order, as the caller computed them anyway) matches and is not mutated, and
// the witness commitment, when the coinbase has one, matches the witness
// data; without one no transaction may carry witness data. wtxids, when
// the caller has them (in block order, the coinbase's included), save
// hashing the segwit transactions again; nil is fine.
func CheckBody(mb *wire.MsgBlock, txids, wtxids []chainhash.Hash) error {
	if len(mb.Transactions) == 0 {
		return invalid(RuleCoinbase, "block has no transactions")
	}
	if !blockchain.IsCoinBaseTx(mb.Transactions[0]) {
		return invalid(RuleCoinbase, "first transaction %s is not a coinbase", txids[0])
	}
	for i, tx := range mb.Transactions[1:] {
		if blockchain.IsCoinBaseTx(tx) {
			return invalid(RuleCoinbase, "transaction %d (%s) is a second coinbase", i+1, txids[i+1])
		}
	}
	level := make([]chainhash.Hash, len(txids))
	copy(level, txids)
	root, mutated := MerkleRoot(level)
	if root != mb.Header.MerkleRoot {
		return invalid(RuleMerkleRoot, "the transactions hash to %s, the header says %s", root, mb.Header.MerkleRoot)
	}
	if mutated {
		return invalid(RuleMerkleMutation, "the merkle tree repeats a transaction (CVE-2012-2459)")
	}
	return checkWitness(mb, txids, wtxids, level)
}

// checkWitness follows blockchain.ValidateWitnessCommitment but reuses the
// txids already computed: a transaction without witness data has wtxid =
// txid, so only segwit transactions are hashed again. scratch holds at
// least len(txids) hashes.
func checkWitness(mb *wire.MsgBlock, txids, wtxids, scratch []chainhash.Hash) error {
	cb := mb.Transactions[0]
	commitment, found := blockchain.ExtractWitnessCommitment(btcutil.NewTx(cb))
	if !found {
		for i, tx := range mb.Transactions {
			if tx.HasWitness() {
				return invalid(RuleWitnessCommitment, "transaction %d (%s) has witness data but the coinbase commits to none", i, txids[i])
			}
		}
		return nil
	}
	anyWitness := false
	for _, tx := range mb.Transactions {
		anyWitness = anyWitness || tx.HasWitness()
	}
	if !anyWitness {
		// Before segwit activated some pools already wrote commitments
		// without the coinbase nonce (Core only enforces them after
		// activation); with no witness data anywhere there is nothing the
		// txid merkle root leaves unbound.
		return nil
	}
	if len(cb.TxIn) != 1 || len(cb.TxIn[0].Witness) != 1 || len(cb.TxIn[0].Witness[0]) != blockchain.CoinbaseWitnessDataLen {
		return invalid(RuleWitnessCommitment, "the coinbase witness must be one %d-byte nonce", blockchain.CoinbaseWitnessDataLen)
	}
	w := scratch[:len(txids)]
	w[0] = chainhash.Hash{} // the coinbase's wtxid is zero by definition
	for i := 1; i < len(txids); i++ {
		switch {
		case wtxids != nil:
			w[i] = wtxids[i]
		case mb.Transactions[i].HasWitness():
			w[i] = mb.Transactions[i].WitnessHash()
		default:
			w[i] = txids[i]
		}
	}
	root, _ := MerkleRoot(w)
	var pre [2 * chainhash.HashSize]byte
	copy(pre[:], root[:])
	copy(pre[chainhash.HashSize:], cb.TxIn[0].Witness[0])
	if got := chainhash.DoubleHashB(pre[:]); !bytes.Equal(got, commitment) {
		return invalid(RuleWitnessCommitment, "the witness data hashes to %x, the coinbase commits to %x", got, commitment)
	}
	return nil
}

// HeaderState is what the difficulty rules need to know about a block to
// judge its child. Advance derives a child's state from its parent's, so a
// chain is checked in one pass with O(1) memory per block.
type HeaderState struct {
	Height int64
	Hash   chainhash.Hash
	Bits   uint32
	Time   uint32
	// PeriodStart is the time of the first block of this block's 2016-block
	// retarget period.
	PeriodStart uint32
	// LastRealBits is, for the testnet 20-minute rule, the bits of the
	// nearest block at or before this one that is at a retarget height or
	// was not mined at the minimum difficulty (btcd's
	// findPrevTestNetDifficulty, kept incrementally instead of walked).
	LastRealBits uint32
}

// GenesisState is the state of net's genesis block.
func GenesisState(net Network) HeaderState {
	g := net.Params.GenesisBlock.Header
	t := uint32(g.Timestamp.Unix())
	return HeaderState{Height: 0, Hash: *net.Params.GenesisHash, Bits: g.Bits, Time: t, PeriodStart: t, LastRealBits: g.Bits}
}

// Advance is the state of a child block with the given hash, bits and time.
func (s HeaderState) Advance(p *chaincfg.Params, hash chainhash.Hash, bits, t uint32) HeaderState {
	c := HeaderState{Height: s.Height + 1, Hash: hash, Bits: bits, Time: t, PeriodStart: s.PeriodStart, LastRealBits: s.LastRealBits}
	per := retargetInterval(p)
	if c.Height%per == 0 {
		c.PeriodStart = t
	}
	if c.Height%per == 0 || bits != p.PowLimitBits {
		c.LastRealBits = bits
	}
	return c
}

func retargetInterval(p *chaincfg.Params) int64 {
	return int64(p.TargetTimespan / p.TargetTimePerBlock)
}

// RequiredBits is the bits a child of s with timestamp t must carry. It
// follows btcd's (unexported) calcNextRequiredDifficulty: regtest never
// retargets; every 2016 blocks the target scales with the time the last
// period took, clamped to a factor of 4 and to the limit; in between it
// stays, except that on testnet a block more than 20 minutes after its
// parent may use the minimum difficulty.
func RequiredBits(p *chaincfg.Params, s HeaderState, t uint32) uint32 {
	if p.PoWNoRetargeting {
		return p.PowLimitBits
	}
	per := retargetInterval(p)
	if (s.Height+1)%per != 0 {
		if p.ReduceMinDifficulty {
			if int64(t) > int64(s.Time)+int64(p.MinDiffReductionTime/time.Second) {
				return p.PowLimitBits
			}
			return s.LastRealBits
		}
		return s.Bits
	}
	target := int64(p.TargetTimespan / time.Second)
	factor := p.RetargetAdjustmentFactor
	span := int64(s.Time) - int64(s.PeriodStart)
	span = max(target/factor, min(span, target*factor))
	next := new(big.Int).Mul(blockchain.CompactToBig(s.Bits), big.NewInt(span))
	next.Div(next, big.NewInt(target))
	if next.Cmp(p.PowLimit) > 0 {
		next.Set(p.PowLimit)
	}
	return blockchain.BigToCompact(next)
}

// CheckContext checks a child of s (hash, bits, time) against the
// network's difficulty rules and checkpoints.
func CheckContext(net Network, s HeaderState, hash chainhash.Hash, bits, t uint32) error {
	if err := CheckPowLimit(bits, net); err != nil {
		return err
	}
	h := s.Height + 1
	if want := RequiredBits(net.Params, s, t); bits != want {
		return invalid(RuleDifficulty, "bits %08x at height %d, the %s rules require %08x", bits, h, net.Name, want)
	}
	for _, cp := range net.Params.Checkpoints {
		if int64(cp.Height) == h && *cp.Hash != hash {
			return invalid(RuleCheckpoint, "block %s at height %d, the %s checkpoint is %s", hash, h, net.Name, cp.Hash)
		}
	}
	return nil
}
