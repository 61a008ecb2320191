package bench

import (
	"math/rand/v2"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/cointrail/cointrail/index"
)

// LookupResult is lookups per second of each kind.
type LookupResult struct {
	TxPerSec       float64 `json:"tx_lookups_per_s"`
	AddressPerSec  float64 `json:"address_lookups_per_s"`
	SpentByPerSec  float64 `json:"spent_by_lookups_per_s"`
	OutpointPerSec float64 `json:"outpoint_lookups_per_s"`
}

// Lookups times n random lookups of each kind on ix, as a user's queries
// would do them: txid → full tx view; address → summary + first page of
// history; output → its spending tx and txid.
func Lookups(ix *index.Index, n int, seed uint64) (LookupResult, error) {
	rng := rand.New(rand.NewPCG(seed, 2))
	nTx := ix.NumTxs()
	_, nOut, _, nAddr := ix.Tip().Counts()
	var r LookupResult
	if nTx == 0 {
		return r, nil
	}
	txids := make([]chainhash.Hash, n)
	for i := range txids {
		txids[i] = ix.TxHash(rng.Uint32N(nTx))
	}
	start := time.Now()
	for _, h := range txids {
		tx, err := ix.FindTx(h)
		if err != nil {
			return r, err
		}
		if _, err := ix.Tx(tx); err != nil {
			return r, err
		}
	}
	r.TxPerSec = float64(n) / time.Since(start).Seconds()
	start = time.Now()
	for i := 0; i < n; i++ {
		if _, err := ix.Address(1+rng.Uint32N(nAddr), 0, 25); err != nil {
			return r, err
		}
	}
	r.AddressPerSec = float64(n) / time.Since(start).Seconds()
	start = time.Now()
	var sink [32]byte
	for i := 0; i < n; i++ {
		if s := ix.OutSpender(rng.Uint64N(nOut)); s != index.NoTx {
			sink = ix.TxHash(s)
		}
	}
	_ = sink
	r.SpentByPerSec = float64(n) / time.Since(start).Seconds()
	start = time.Now()
	for _, h := range txids {
		if _, err := ix.FindOutpoint(h.String() + ":0"); err != nil {
			return r, err
		}
	}
	r.OutpointPerSec = float64(n) / time.Since(start).Seconds()
	return r, nil
}
