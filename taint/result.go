package taint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Result is a finished trace. Everything in it is sorted (outputs by output
// id, edges by source output, arrivals by amount), so the same index and
// parameters give byte-identical JSON.
type Result struct {
	TipHeight uint32          `json:"tip_height"`
	TipHash   Hash            `json:"tip_hash"`
	Model     Model           `json:"model"`
	Params    Params          `json:"params"`
	Inputs    Inputs          `json:"inputs"`
	Seeds     []SeedInfo      `json:"seeds"`
	Summary   Summary         `json:"summary"`
	Outputs   []TaintedOutput `json:"outputs"`
	Edges     []Edge          `json:"edges"`

	nOut int // a TraceStream's head: the outputs it has but does not hold
}

// NumOutputs is the number of tainted outputs, also of a TraceStream's
// Head, whose Outputs are not held.
func (r *Result) NumOutputs() int { return max(len(r.Outputs), r.nOut) }

// SeedInfo is a seed as traced.
type SeedInfo struct {
	Out       uint64 `json:"-"`
	TxID      Hash   `json:"txid"`
	Vout      uint32 `json:"vout"`
	AmountSat int64  `json:"amount_sat"`
}

// Summary totals a trace. For every model but poison the taint is conserved:
//
//	TracedSat = UnspentSat + Σ Arrived.Sat + FeeSat + DustSat + StoppedSat + MinedSat
//
// Forward, MinedSat is 0; backward, UnspentSat and FeeSat are 0 and Arrived
// are the sources the value came from.
type Summary struct {
	TracedSat      int64       `json:"traced_sat"`      // taint put in by the seeds
	UnspentSat     int64       `json:"unspent_sat"`     // on unspent outputs
	FeeSat         int64       `json:"fee_sat"`         // lost to fees (or, with FeesToCoinbase, to under-claiming coinbases)
	Arrived        []Arrival   `json:"arrived"`         // at attributed addresses, largest first
	InCoinJoinSat  int64       `json:"in_coinjoin_sat"` // that entered CoinJoins (informational, not a stop bucket)
	DustSat        int64       `json:"dust_sat"`        // on outputs below MinSats
	StoppedSat     int64       `json:"stopped_sat"`     // at max_hops, window, coinjoin or limit
	MinedSat       int64       `json:"mined_sat"`       // backward: from coinbases
	MaxHop         int         `json:"max_hop"`
	TxsVisited     int         `json:"txs_visited"`
	CoinJoins      int         `json:"coinjoins"` // CoinJoin transactions visited
	Consolidations int         `json:"consolidations"`
	FanOuts        int         `json:"fan_outs"`
	PeelChains     []PeelChain `json:"peel_chains"`
	FirstTime      int64       `json:"first_time"` // block times spanned by the seeds and visited transactions
	LastTime       int64       `json:"last_time"`
	Truncated      bool        `json:"truncated"` // MaxTxs reached
}

// Arrival is the taint that reached one entity.
type Arrival struct {
	Label       string `json:"label"`
	Category    string `json:"category"`
	Sat         int64  `json:"sat"`
	FirstHeight uint32 `json:"first_height"` // lowest height of an arriving output
}

// PeelChain is a run of consecutive 1-in 2-out transactions on the trace
// where the larger output of each is the input of the next.
type PeelChain struct {
	FirstTxID Hash  `json:"first_txid"`
	LastTxID  Hash  `json:"last_txid"`
	Length    int   `json:"length"`     // transactions
	PeeledSat int64 `json:"peeled_sat"` // value of the smaller outputs
}

// TaintedOutput is an output that carried taint.
type TaintedOutput struct {
	Out      uint64 `json:"-"`
	TxID     Hash   `json:"txid"`
	Vout     uint32 `json:"vout"`
	Address  string `json:"address"`
	ValueSat int64  `json:"value_sat"`
	TaintSat int64  `json:"taint_sat"`
	Segments []Seg  `json:"segments,omitempty"` // FIFO/LIFO: where in the value the taint sits
	Hops     int    `json:"hops"`
	Spent    bool   `json:"spent"`
	Stop     Stop   `json:"stop"`
	Label    string `json:"label"`
	Category string `json:"category"`
	// The label's provenance, for GraphML's analysts; JSON pins it through
	// inputs.labels_digest instead, so a result's bytes stay as they were.
	LabelSource     string `json:"-"`
	LabelConfidence int    `json:"-"`
	Height          uint32 `json:"height"` // of the transaction that created it
	Time            string `json:"time"`   // its block's time, RFC 3339 UTC
}

// Edge is taint moving from output Vout of FromTx into ToTx; Fee edges carry
// a fee into the block's coinbase (FeesToCoinbase) and have Vout 0.
type Edge struct {
	FromTx Hash   `json:"from_txid"`
	ToTx   Hash   `json:"to_txid"`
	Vout   uint32 `json:"vout"`
	Sat    int64  `json:"sat"`
	Fee    bool   `json:"fee,omitempty"`
}

// ArrivedSat sums Summary.Arrived.
func (s *Summary) ArrivedSat() int64 {
	var n int64
	for _, a := range s.Arrived {
		n += a.Sat
	}
	return n
}

// JSON is the canonical encoding of the result: compact JSON with the keys
// in the order of the struct fields, then "result_sha256", the hex SHA-256 of
// exactly the bytes before it with the closing brace in place of
// `,"result_sha256":"…"`. In other words: hash the object without its last
// member, then append that member. VerifyJSON checks it.
func (r *Result) JSON() ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("taint: encode result: %w", err)
	}
	sum := sha256.Sum256(body)
	out := make([]byte, 0, len(body)+len(hashKey)+2*sha256.Size+2)
	out = append(out, body[:len(body)-1]...)
	out = append(out, hashKey...)
	out = hex.AppendEncode(out, sum[:])
	return append(out, '"', '}'), nil
}

const hashKey = `,"result_sha256":"`

// VerifyJSON checks the result_sha256 of bytes made by Result.JSON.
func VerifyJSON(b []byte) error {
	i := bytes.LastIndex(b, []byte(hashKey))
	if i < 0 || !bytes.HasSuffix(b, []byte(`"}`)) || len(b)-i-len(hashKey)-2 != 2*sha256.Size {
		return fmt.Errorf("%w: no result_sha256 at the end of the result", ErrBadParams)
	}
	body := append(append([]byte(nil), b[:i]...), '}')
	sum := sha256.Sum256(body)
	if got := string(b[i+len(hashKey) : len(b)-2]); got != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%w: result_sha256 %s does not match the content (%x)", ErrBadParams, got, sum)
	}
	return nil
}

// Hash is a transaction or block hash in display byte order (the reverse of
// Graph.TxHash's internal order), as block explorers and Bitcoin Core show
// it. It is kept binary in a Result and becomes hex only when encoded.
type Hash [32]byte

// displayHash turns an internal-order hash into a Hash.
func displayHash(h [32]byte) Hash {
	for i, j := 0, len(h)-1; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	return Hash(h)
}

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText makes a Hash a hex JSON string.
func (h Hash) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h[:]), nil }
