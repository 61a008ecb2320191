package taint

import "fmt"

// Seed is where a trace starts: an output and how much of it is tainted.
type Seed struct {
	Out    uint64
	Amount int64 // satoshis; 0 = the whole value
}

// Params configures a trace. Use DefaultParams and change what you need: the
// zero Params does not stop at services.
type Params struct {
	Model     Model     `json:"-"` // reported as the Result's top-level "model"
	Direction Direction `json:"direction"`
	// MaxHops stops outputs that many transactions away from a seed (seeds
	// are hop 0); 0 = unlimited.
	MaxHops int `json:"max_hops"`
	// MinSats: outputs carrying less taint are dust and not followed.
	MinSats int64 `json:"min_sats"`
	// MaxTxs bounds the transactions visited; a trace that reaches it
	// returns a truncated Result and an error wrapping ErrLimit. 0 = unlimited.
	MaxTxs int `json:"max_txs"`
	// Window: transactions outside [FromHeight, ToHeight] and
	// [FromTime, ToTime] (unix seconds of their block) are not entered; the
	// outputs that lead to them stop with reason "window". A zero bound is
	// open.
	FromHeight uint32 `json:"from_height"`
	ToHeight   uint32 `json:"to_height"`
	FromTime   int64  `json:"from_time"`
	ToTime     int64  `json:"to_time"`
	// StopAtCoinJoin stops at the outputs (backward: inputs) of CoinJoins
	// instead of passing through them; either way their taint is counted in
	// Summary.InCoinJoinSat.
	StopAtCoinJoin bool `json:"stop_at_coinjoin"`
	// FeesToCoinbase follows tainted fees into the coinbase of their block
	// (the subsidy is clean) instead of reporting them lost. Forward only.
	FeesToCoinbase bool `json:"fees_to_coinbase"`
	// StopAtService makes an output at an attributed address an arrival
	// (backward: a source) that is not followed.
	// Backward, the seeds' own entities never stop the trace: from an
	// exchange's deposit it looks at what paid the exchange.
	StopAtService bool `json:"stop_at_service"`
	// StopAtSeedEntity makes a backward trace stop at the seeds' own
	// entities too: screening a transaction seeds the outputs it spends,
	// whose labels are its payers, the answer sought.
	StopAtSeedEntity bool `json:"-"`
	// HopCap and TxCap are a server's caps on MaxHops and MaxTxs (0: none):
	// the trace stops at the lower of a limit and its cap, and a cap that
	// stops it is reported in the result's Inputs.CapsBound. A cap that
	// does not bind leaves the result byte-identical to the uncapped trace
	// of the same parameters.
	HopCap int `json:"-"`
	TxCap  int `json:"-"`
	// Inputs are recorded in the result as its "inputs" (see Inputs).
	Inputs Inputs `json:"-"`
	// Progress, if set, is called every ProgressEvery transactions and once
	// at the end with the number of transactions visited.
	Progress func(txsVisited int) `json:"-"`
}

// ProgressEvery is how often (in transactions visited) Params.Progress runs.
const ProgressEvery = 4096

// DefaultParams is a forward haircut trace that stops at services, ignores
// outputs carrying less than 1000 sat of taint and visits at most a million
// transactions.
func DefaultParams() Params {
	return Params{
		Model:         Haircut,
		Direction:     Forward,
		MinSats:       1000,
		MaxTxs:        1_000_000,
		StopAtService: true,
	}
}

func (p *Params) validate() error {
	switch {
	case !p.Model.Valid():
		return fmt.Errorf("%w: unknown model %s (valid: %s)", ErrBadParams, p.Model, validModels)
	case p.Direction != Forward && p.Direction != Backward:
		return fmt.Errorf("%w: unknown direction %s (valid: forward, backward)", ErrBadParams, p.Direction)
	case p.MaxHops < 0:
		return fmt.Errorf("%w: max_hops %d is negative", ErrBadParams, p.MaxHops)
	case p.HopCap < 0 || p.TxCap < 0:
		return fmt.Errorf("%w: negative cap (max_hops %d, max_txs %d)", ErrBadParams, p.HopCap, p.TxCap)
	case p.MinSats < 0:
		return fmt.Errorf("%w: min_sats %d is negative", ErrBadParams, p.MinSats)
	case p.MaxTxs < 0:
		return fmt.Errorf("%w: max_txs %d is negative", ErrBadParams, p.MaxTxs)
	case p.ToHeight != 0 && p.FromHeight > p.ToHeight:
		return fmt.Errorf("%w: from_height %d is above to_height %d", ErrBadParams, p.FromHeight, p.ToHeight)
	case p.FromTime < 0 || p.ToTime < 0:
		return fmt.Errorf("%w: negative time window [%d, %d]", ErrBadParams, p.FromTime, p.ToTime)
	case p.ToTime != 0 && p.FromTime > p.ToTime:
		return fmt.Errorf("%w: from_time %d is after to_time %d", ErrBadParams, p.FromTime, p.ToTime)
	case p.FeesToCoinbase && p.Direction == Backward:
		return fmt.Errorf("%w: fees_to_coinbase applies to forward traces only", ErrBadParams)
	}
	return nil
}

// capped is the lower non-zero of a limit and its cap (0: neither).
func capped(limit, cap int) int {
	if cap > 0 && (limit == 0 || cap < limit) {
		return cap
	}
	return limit
}

func (p *Params) hasWindow() bool {
	return p.FromHeight != 0 || p.ToHeight != 0 || p.FromTime != 0 || p.ToTime != 0
}

// Stop says why a tainted output was not followed further.
type Stop uint8

// The stop reasons.
const (
	StopFollowed Stop = iota // not stopped: its taint went on to the next transaction
	StopUnspent              // still there
	StopArrival              // at an attributed address (backward: the source)
	StopDust                 // taint below MinSats
	StopMaxHops              // MaxHops from a seed
	StopWindow               // the next transaction is outside the window
	StopCoinJoin             // an output of a CoinJoin, with StopAtCoinJoin
	StopLimit                // MaxTxs reached before its transaction was visited
	StopMined                // backward: created by a coinbase
)

var stopNames = [...]string{"followed", "unspent", "arrival", "dust", "max_hops", "window", "coinjoin", "limit", "mined"}

func (s Stop) String() string {
	if int(s) < len(stopNames) {
		return stopNames[s]
	}
	return fmt.Sprintf("stop(%d)", uint8(s))
}

// MarshalText makes a Stop a JSON string.
func (s Stop) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
