// Package testnode runs a real btcd node on regtest for tests, with a small
// deterministic wallet, so that cointrail's tests meet the chain the way users
// do: through JSON-RPC and real blocks.
//
// Start launches btcd (v0.24.2, installed with scripts/install-test-deps.sh or
// by Start itself with go install) listening on loopback only, with txindex
// and addrindex, and stops it when the test ends. Blocks are mined with btcd's
// `generate`, paying the wallet's mining address. btcd deletes its regtest
// database every time it starts, so Node.Restart keeps the chain by saving
// the blocks in Stop and submitting them again; the mempool is lost (mine
// before restarting, or the wallet will count on unconfirmed transactions
// that are gone).
//
// # SegWit and Taproot on btcd regtest
//
// Unlike Bitcoin Core, btcd's regtest does not activate SegWit and Taproot
// from genesis: both are BIP 9 deployments (bits 1 and 2, always startable,
// never expiring) with a 144-block window and a threshold of 108 signalling
// blocks. `generate` signals for every started deployment, so they move
// defined (blocks 0-143) → started (144-287) → locked in (288-431) → active
// from block 432 on. Until then the mempool rejects transactions with
// witnesses, so spending P2WPKH, P2WSH or P2TR outputs needs
// Node.ActivateSoftForks first, which mines up to height 431. Paying to those
// scripts works at any height. Regtest coinbases need 100 confirmations and
// the subsidy halves every 150 blocks.
//
// # The wallet
//
// btcd has no wallet, so Wallet derives keys from a seed and builds and signs
// transactions itself: P2PKH, P2SH (2-of-3 multisig), P2WPKH, P2WSH (2-of-3
// multisig witness script), P2TR (BIP 86 key path), P2PK, bare 1-of-2
// multisig, OP_RETURN and a nonstandard `<data> OP_DROP OP_TRUE` script,
// several of each (an index picks one). It follows the chain by fetching
// blocks over RPC and keeps the whole (small) regtest UTXO set, so it finds
// outputs paying any of its scripts, whenever they were derived. It does not
// follow reorgs: Sync fails if the chain it scanned changed.
package testnode
