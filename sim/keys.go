package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
)

// kind is an output script the simulator creates and knows how to spend.
type kind uint8

const (
	kP2PKH  kind = iota
	kP2SH        // 2-of-3 multisig redeem script
	kP2WPKH      //
	kP2WSH       // 2-of-3 multisig witness script
	kP2TR        // BIP 86 key path
	numKinds
)

var kindNames = [numKinds]string{"p2pkh", "p2sh-2of3", "p2wpkh", "p2wsh-2of3", "p2tr"}

func (k kind) String() string { return kindNames[k] }

// witness reports whether spending k puts data in the witness (so it needs
// SegWit, or Taproot for P2TR, to be active).
func (k kind) witness() bool { return k >= kP2WPKH }

// Sizes used for fee and block-limit estimates: non-witness bytes and
// witness bytes of an input spending k (72-byte signatures with sighash
// byte, compressed keys), bytes of an output paying k, and sigop cost.
var (
	inBase    = [numKinds]int{148, 297, 41, 41, 41}
	inWitness = [numKinds]int{0, 0, 108, 254, 66}
	outBytes  = [numKinds]int{34, 32, 31, 43, 43}
	inSigops  = [numKinds]int{0, 12, 1, 3, 0}
	outSigops = [numKinds]int{4, 0, 0, 0, 0}
)

// lookalikeN is how many bech32 characters after "bcrt1q" the thief's
// address shares with the address it imitates: 15 bits, ~33,000 keys.
const lookalikeN = 3

// addr is one address of an actor, with what it takes to spend from it.
// script and the key material are filled by derive, possibly on another
// goroutine, before any transaction uses the address.
type addr struct {
	owner  *actor
	idx    uint64 // derivation index within the owner
	kind   kind
	secret *btcec.ModNScalar // explicit key (the ground look-alike); nil = derived

	script  []byte            // output script
	pub     []byte            // compressed key (P2PKH, P2WPKH)
	redeem  []byte            // multisig script (P2SH, P2WSH)
	signers [2]byte           // key numbers of the first two keys in redeem order
	tap     *btcec.ModNScalar // BIP 86 tweaked private key (P2TR)
	queued  bool              // in the current block's derivation list
}

// keygen derives every private key of a run from the seed.
type keygen struct {
	seed [32]byte
	fast bool
}

func newKeygen(seed uint64, fast bool) keygen {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	return keygen{seed: sha256.Sum256(append([]byte("cointrail sim keys "), b[:]...)), fast: fast}
}

// hash is SHA-256 of the seed, an owner, an index and a key number.
func (g *keygen) hash(owner uint32, idx uint64, j byte) [32]byte {
	var buf [32 + 4 + 8 + 1]byte
	copy(buf[:], g.seed[:])
	binary.BigEndian.PutUint32(buf[32:], owner)
	binary.BigEndian.PutUint64(buf[36:], idx)
	buf[44] = j
	return sha256.Sum256(buf[:])
}

// scalar is private key number j of the address.
func (g *keygen) scalar(a *addr, j byte) btcec.ModNScalar {
	if a.secret != nil {
		return *a.secret
	}
	h := g.hash(a.owner.id, a.idx, j)
	var s btcec.ModNScalar
	s.SetBytes(&h) // reduces mod n; the chance of an overflow is ~2^-128
	if s.IsZero() {
		s.SetInt(1)
	}
	return s
}

// pubKey is the compressed public key number j of a. In fast mode it is a
// hash with a valid-looking prefix: right size, no point behind it.
func (g *keygen) pubKey(a *addr, j byte) []byte {
	if g.fast {
		if a.secret != nil {
			return fastPub(*a.secret)
		}
		h := g.hash(a.owner.id, a.idx, j+0x80)
		return append([]byte{2 | h[0]&1}, h[:]...)
	}
	s := g.scalar(a, j)
	return btcec.PrivKeyFromScalar(&s).PubKey().SerializeCompressed()
}

// deriveSpend fills in what spending from a takes. In fast mode that is
// the public key or redeem script only (the dummy signatures do not cover
// the output script), which saves a HASH160 per input.
func (g *keygen) deriveSpend(a *addr) {
	if !g.fast {
		g.derive(a)
		return
	}
	switch a.kind {
	case kP2PKH, kP2WPKH:
		a.pub = g.pubKey(a, 0)
	case kP2SH, kP2WSH:
		g.derive(a)
	}
}

// derive fills in a's script and key material.
func (g *keygen) derive(a *addr) {
	switch a.kind {
	case kP2PKH, kP2WPKH:
		a.pub = g.pubKey(a, 0)
		h := btcutil.Hash160(a.pub)
		if a.kind == kP2PKH {
			a.script = append(append([]byte{txscript.OP_DUP, txscript.OP_HASH160, 20}, h...), txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG)
		} else {
			a.script = append([]byte{txscript.OP_0, 20}, h...)
		}
	case kP2SH, kP2WSH:
		type kp struct {
			pub []byte
			j   byte
		}
		keys := make([]kp, 3)
		for j := range keys {
			keys[j] = kp{g.pubKey(a, byte(j)), byte(j)}
		}
		// BIP 67 order, as multisig wallets use.
		sort.Slice(keys, func(x, y int) bool { return bytes.Compare(keys[x].pub, keys[y].pub) < 0 })
		r := make([]byte, 0, 105)
		r = append(r, txscript.OP_2)
		for _, k := range keys {
			r = append(r, 33)
			r = append(r, k.pub...)
		}
		a.redeem = append(r, txscript.OP_3, txscript.OP_CHECKMULTISIG)
		a.signers = [2]byte{keys[0].j, keys[1].j}
		if a.kind == kP2SH {
			a.script = append(append([]byte{txscript.OP_HASH160, 20}, btcutil.Hash160(a.redeem)...), txscript.OP_EQUAL)
		} else {
			h := sha256.Sum256(a.redeem)
			a.script = append([]byte{txscript.OP_0, 32}, h[:]...)
		}
	case kP2TR:
		var x []byte
		if g.fast {
			x = g.pubKey(a, 0)[1:]
		} else {
			s := g.scalar(a, 0)
			tw := txscript.TweakTaprootPrivKey(*btcec.PrivKeyFromScalar(&s), nil)
			a.tap = &tw.Key
			x = tw.PubKey().SerializeCompressed()[1:]
		}
		a.script = append([]byte{txscript.OP_1, 32}, x...)
	}
}

// fastPub is the stand-in public key of k in fast mode.
func fastPub(k btcec.ModNScalar) []byte {
	b := k.Bytes()
	h := sha256.Sum256(append([]byte("cointrail sim fastpub"), b[:]...))
	return append([]byte{2 | h[0]&1}, h[:]...)
}

// prefixBits is how many leading bits of a P2WPKH program the first n
// bech32 characters after "bcrt1q" encode.
func prefixBits(n int) int { return 5 * n }

func samePrefix(a, b []byte, bits int) bool {
	for i := 0; bits > 0; i++ {
		m := byte(0xff)
		if bits < 8 {
			m = 0xff << (8 - bits)
		}
		if (a[i]^b[i])&m != 0 {
			return false
		}
		bits -= 8
	}
	return true
}

// grindLookalike returns a private key whose P2WPKH address starts like the
// P2WPKH program target (the first lookalikeN characters after "bcrt1q"),
// trying at most maxTries consecutive keys from base and keeping the best
// match if none is complete. Consecutive keys cost one point addition each.
func (g *keygen) grindLookalike(base btcec.ModNScalar, target []byte, maxTries int) (btcec.ModNScalar, int) {
	want := prefixBits(lookalikeN)
	best, bestBits := 0, -1
	score := func(h []byte) int {
		n := 0
		for n < want && samePrefix(h, target, n+1) {
			n++
		}
		return n
	}
	if g.fast {
		var one btcec.ModNScalar
		one.SetInt(1)
		k := base
		for i := 0; i < maxTries; i++ {
			if s := score(btcutil.Hash160(fastPub(k))); s > bestBits {
				best, bestBits = i, s
				if s == want {
					break
				}
			}
			k.Add(&one)
		}
	} else {
		var p, gen btcec.JacobianPoint
		btcec.ScalarBaseMultNonConst(&base, &p)
		var one btcec.ModNScalar
		one.SetInt(1)
		btcec.ScalarBaseMultNonConst(&one, &gen)
		for i := 0; i < maxTries; i++ {
			p.ToAffine()
			pub := btcec.NewPublicKey(&p.X, &p.Y).SerializeCompressed()
			if s := score(btcutil.Hash160(pub)); s > bestBits {
				best, bestBits = i, s
				if s == want {
					break
				}
			}
			var next btcec.JacobianPoint
			btcec.AddNonConst(&p, &gen, &next)
			p = next
		}
	}
	var off btcec.ModNScalar
	off.SetInt(uint32(best))
	k := base
	k.Add(&off)
	return k, bestBits / 5
}
