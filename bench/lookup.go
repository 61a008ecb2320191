package bench

import (
	"math/rand/v2"
	"syscall"
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
	// Major page faults (pages read from disk) per lookup: what a lookup
	// costs once the index is larger than RAM.
	TxFaults       float64 `json:"tx_major_faults_per_lookup"`
	AddressFaults  float64 `json:"address_major_faults_per_lookup"`
	SpentByFaults  float64 `json:"spent_by_major_faults_per_lookup"`
	OutpointFaults float64 `json:"outpoint_major_faults_per_lookup"`
}

// majorFaults is this process's major page faults so far.
func majorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Majflt
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
	f0 := majorFaults()
	faults := func() float64 {
		f := majorFaults()
		d := float64(f-f0) / float64(n)
		f0 = f
		return d
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
	r.TxFaults = faults()
	start = time.Now()
	for i := 0; i < n; i++ {
		if _, err := ix.Address(1+rng.Uint32N(nAddr), 0, 25); err != nil {
			return r, err
		}
	}
	r.AddressPerSec = float64(n) / time.Since(start).Seconds()
	r.AddressFaults = faults()
	start = time.Now()
	var sink [32]byte
	for i := 0; i < n; i++ {
		if s := ix.OutSpender(rng.Uint64N(nOut)); s != index.NoTx {
			sink = ix.TxHash(s)
		}
	}
	_ = sink
	r.SpentByPerSec = float64(n) / time.Since(start).Seconds()
	r.SpentByFaults = faults()
	start = time.Now()
	for _, h := range txids {
		if _, err := ix.FindOutpoint(h.String() + ":0"); err != nil {
			return r, err
		}
	}
	r.OutpointPerSec = float64(n) / time.Since(start).Seconds()
	r.OutpointFaults = faults()
	return r, nil
}
