package chain

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg"
)

// Network is one Bitcoin network: its name as users type it, the magic that
// frames its blk files and P2P messages, and the address parameters.
type Network struct {
	Name   string
	Magic  uint32 // as it appears little-endian on disk (wire.BitcoinNet)
	Params *chaincfg.Params
}

var networks = []Network{
	{"mainnet", uint32(chaincfg.MainNetParams.Net), &chaincfg.MainNetParams},
	{"testnet", uint32(chaincfg.TestNet3Params.Net), &chaincfg.TestNet3Params},
	{"signet", uint32(chaincfg.SigNetParams.Net), &chaincfg.SigNetParams},
	{"regtest", uint32(chaincfg.RegressionNetParams.Net), &chaincfg.RegressionNetParams},
}

// Networks lists the supported networks in a fixed order.
func Networks() []Network { return append([]Network(nil), networks...) }

// NetworkByName returns the network called name (mainnet, testnet, signet, regtest).
func NetworkByName(name string) (Network, error) {
	for _, n := range networks {
		if n.Name == name {
			return n, nil
		}
	}
	return Network{}, fmt.Errorf("%w: unknown network %q (want mainnet, testnet, signet or regtest)", ErrBadInput, name)
}

// NetworkByMagic returns the network whose blk files start with the given
// four bytes, or ok=false.
func NetworkByMagic(b [4]byte) (Network, bool) {
	m := binary.LittleEndian.Uint32(b[:])
	for _, n := range networks {
		if n.Magic == m {
			return n, true
		}
	}
	return Network{}, false
}

// MagicBytes is the on-disk form of the network's magic.
func (n Network) MagicBytes() [4]byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n.Magic)
	return b
}
